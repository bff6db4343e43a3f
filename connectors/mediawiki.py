"""MediaWiki connector (Action API, ``api.php``, ``formatversion=2``).

Followed:

* https://www.mediawiki.org/wiki/API:Allpages (every page, ``apcontinue``)
* https://www.mediawiki.org/wiki/API:Revisions (``rvlimit``/``rvdir``/continuation only for one
  page; ``rvslots=main``; ``texthidden`` for a deleted revision's text)
* https://www.mediawiki.org/wiki/API:Continue (send the whole ``continue`` object back)
* https://www.mediawiki.org/wiki/API:Logevents (``letype=delete``)
* https://www.mediawiki.org/wiki/API:Errors_and_warnings (errors come with HTTP 200 and a
  ``MediaWiki-API-Error`` header) and https://www.mediawiki.org/wiki/Manual:Maxlag_parameter
  (we send ``maxlag=5``; a ``maxlag`` error carries ``Retry-After``)

Items: every page is a ``post`` (``page-<pageid>``, text = its latest revision, so the page item
gets a version whenever the page changes) and every revision a ``page_revision``
(``rev-<revid>``, parent and scope = the page), so every revision of every page is kept, not only
the ones a capture happened to see. A revision whose text an admin hid (revision deletion) is
``hidden`` with platform_status ``texthidden``.

"A direct look-up confirms it is gone" here means: ``pageids=<id>`` answers ``missing`` **and**
the deletion log holds a ``delete`` event for that page id (``logpage``): that event is the
evidence. A revision is gone when ``revids=<id>`` answers it in ``badrevids`` and its page is gone
by the same rule. Missing without a log event (a move, a permission change) stays Unknown.

Credentials: a public wiki is read anonymously when the account's token variable is not set;
private wikis take an OAuth 2 owner-only access token as ``Authorization: Bearer``.
Incremental capture: ``list=recentchanges`` could narrow a run to changed pages, but only a full
walk is a complete listing; every run walks all pages (revisions are immutable, so a re-read
makes no new versions).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from archiver.connectors.base import (
    Classification,
    PageRequest,
    Paging,
    Verdict,
    classify_http,
    decode_json,
    one_line,
)
from archiver.connectors.errors import ConnectorError, MalformedResponse
from archiver.connectors.profiles import Profile, ProfileField
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemKind,
    ItemRef,
    ItemStatus,
    LookupResult,
    Platform,
    Present,
    ReadEvent,
    Record,
    Unknown,
)
from archiver.connectors.streams import Completeness, Context, TreeConnector, TreeStream

log = logging.getLogger(__name__)

BASE_PARAMS = {"action": "query", "format": "json", "formatversion": "2", "maxlag": "5"}
RVPROP = "ids|timestamp|user|userid|comment|content|sha1|size"
RATE_CODES = frozenset({"maxlag", "ratelimited"})
AUTH_CODES = frozenset(
    {"readapidenied", "mwoauth-invalid-authorization", "permissiondenied", "badtoken"}
)


def parse_mw_time(value: Any, path: str) -> datetime | None:
    """``2024-03-01T09:00:00Z`` → aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponse(f"response from {path}: a timestamp is not a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedResponse(f"response from {path}: unreadable timestamp") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _obj(value: Any, what: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedResponse(f"response from {path}: {what} is not an object")
    return value


def _list(value: Any, what: str, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise MalformedResponse(f"response from {path}: {what} is not a list of objects")
    return value


def _int(d: dict[str, Any], key: str, path: str) -> int:
    value = d.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedResponse(f"response from {path}: field {key!r} is not an integer")
    return value


def _query(payload: Any, path: str) -> dict[str, Any]:
    return _obj(_obj(payload, "the response", path).get("query", {}), "'query'", path)


def revision_record(rev: dict[str, Any], page_id: int, title: str, path: str) -> Record:
    """One revision → a ``page_revision`` record of ``page-<page_id>``."""
    revid = _int(rev, "revid", path)
    slots = _obj(rev.get("slots", {}), "slots", path)
    main = _obj(slots.get("main", {}), "slots.main", path)
    hidden = bool(rev.get("texthidden") or main.get("texthidden"))
    content = main.get("content", rev.get("content"))
    if content is not None and not isinstance(content, str):
        raise MalformedResponse(f"response from {path}: revision content is not text")
    user = rev.get("user")
    userid = rev.get("userid")
    return Record(
        external_id=f"rev-{revid}",
        kind=ItemKind.PAGE_REVISION,
        scope=f"page-{page_id}",
        text=None if hidden else content,
        status=ItemStatus.HIDDEN if hidden else ItemStatus.ACTIVE,
        platform_status="texthidden" if hidden else "visible",
        author_name=user if isinstance(user, str) else None,
        author_id=str(userid) if isinstance(userid, int) and not isinstance(userid, bool) else None,
        created_at=parse_mw_time(rev.get("timestamp"), path),
        updated_at=None,
        url=f"index.php?oldid={revid}",
        raw={**rev, "pageid": page_id, "title": title},
        parent_external_id=f"page-{page_id}",
    )


def page_record(page: dict[str, Any], revisions: list[Record], path: str) -> Record:
    """A page (with all its revisions read, oldest first) → a ``post`` record."""
    page_id = _int(page, "pageid", path)
    title = page.get("title")
    if not isinstance(title, str):
        raise MalformedResponse(f"response from {path}: a page without a title")
    latest = revisions[-1] if revisions else None
    return Record(
        external_id=f"page-{page_id}",
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text=f"{title}\n\n{latest.text or ''}" if latest else title,
        status=ItemStatus.ACTIVE,
        platform_status="exists",
        author_name=revisions[0].author_name if revisions else None,
        author_id=revisions[0].author_id if revisions else None,
        created_at=revisions[0].created_at if revisions else None,
        updated_at=latest.created_at if latest else None,
        url=f"index.php?curid={page_id}",
        raw={
            "pageid": page_id,
            "ns": page.get("ns"),
            "title": title,
            "latest_revid": latest.external_id if latest else None,
        },
    )


def parse_revisions_body(body: bytes, path: str = "/w/api.php") -> list[Record]:
    """Raw ``prop=revisions`` bytes → revision records; bad input ends in a ConnectorError."""
    payload = decode_json(body, path)
    out: list[Record] = []
    for page in _list(_query(payload, path).get("pages", []), "'pages'", path):
        pid = _int(page, "pageid", path)
        for rev in _list(page.get("revisions", []), "'revisions'", path):
            out.append(revision_record(rev, pid, str(page.get("title", "")), path))
    ContinuePaging().next_request(PageRequest("http://x/api.php"), payload, len(out))
    return out


def classify_mediawiki(response: httpx.Response, payload: Any) -> Classification:
    """Errors arrive with HTTP 200 as ``{"error": {"code", "info"}}``."""
    err = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(err, dict):
        return classify_http(response)
    code = err.get("code")
    detail = f"API error {code}: {one_line(str(err.get('info', '')), 200)}"
    if code in RATE_CODES:
        return Classification(Verdict.RATE_LIMITED, detail=detail)
    if code in AUTH_CODES:
        return Classification(Verdict.AUTH, detail=detail)
    if isinstance(code, str) and code.startswith("internal_api_error"):
        return Classification(Verdict.TRANSIENT, detail=detail)
    return Classification(Verdict.FATAL, detail=detail)


@dataclass(frozen=True)
class ContinuePaging(Paging):
    """API:Continue: the next request is the first one plus the whole ``continue`` object."""

    def next_request(
        self, request: PageRequest, payload: Any, item_count: int
    ) -> PageRequest | None:
        cont = payload.get("continue") if isinstance(payload, dict) else None
        if cont is None:
            return None
        if not isinstance(cont, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int) for k, v in cont.items()
        ):
            raise MalformedResponse(f"response from {request.path}: 'continue' is not an object")
        base = {k: v for k, v in request.params.items() if not request_is_continue(k, request)}
        return PageRequest(request.url, {**base, **{k: str(v) for k, v in cont.items()}})


def request_is_continue(key: str, request: PageRequest) -> bool:
    """Continuation keys of the previous page are replaced, never accumulated."""
    return key == "continue" or key.endswith("continue")


class _MwStream(TreeStream["MediaWikiConnector"]):
    paging = ContinuePaging()

    def request(self, params: dict[str, str]) -> PageRequest:
        """``api.php`` with the common parameters and ``params``."""
        return PageRequest(self.connector.api_base, {**BASE_PARAMS, **params})

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return classify_mediawiki(response, payload)


class AllPagesStream(_MwStream):
    """``list=allpages``: every page of the wiki (its records come from its revisions)."""

    def first_request(self) -> PageRequest:
        return self.request({"list": "allpages", "aplimit": self.connector.limit()})

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return _list(_query(payload, request.path).get("allpages", []), "'allpages'", request.path)

    def records(self, entry: Any) -> Iterable[Record]:
        return ()


class RevisionsStream(_MwStream):
    """``prop=revisions`` of one page, oldest first: the page's record (its latest text) and
    every revision. A page without revisions gives nothing and completes nothing."""

    parent_stream_type = AllPagesStream

    def __init__(self, connector: MediaWikiConnector, context: Context) -> None:
        super().__init__(connector, context)
        self.page_id = int(context["page"]["pageid"])
        self.found = False

    @classmethod
    def child_context(cls, parent: TreeStream[Any], entry: Any) -> Context | None:
        _int(entry, "pageid", "allpages")
        return {"page": entry}

    @classmethod
    def scope_contexts(cls, scopes: Sequence[str]) -> list[Context]:
        return [{"page": {"pageid": int(s.removeprefix("page-")), "title": None}} for s in scopes]

    @property
    def scopes(self) -> tuple[str, ...]:
        return (f"page-{self.page_id}",)

    def first_request(self) -> PageRequest:
        return self.request({
            "prop": "revisions",
            "pageids": str(self.page_id),
            "rvprop": RVPROP,
            "rvslots": "main",
            "rvdir": "newer",
            "rvlimit": self.connector.limit(),
        })

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        out: list[Record] = []
        for page in _list(_query(payload, request.path).get("pages", []), "'pages'", request.path):
            if page.get("missing"):
                continue
            pid, title = _int(page, "pageid", request.path), str(page.get("title", ""))
            for rev in _list(page.get("revisions", []), "'revisions'", request.path):
                out.append(revision_record(rev, pid, title, request.path))
        return out

    def entries(self, pages: Iterator[list[Any]]) -> Iterator[list[Any]]:
        """One batch: the page's record is made of all its revisions."""
        revisions = [revision for batch in pages for revision in batch]
        self.found = bool(revisions)
        page = self.context["page"]
        head = [page_record(page, revisions, self.connector.api_base)] if (
            revisions and page.get("title") is not None) else []
        yield head + revisions

    def completeness(self) -> Completeness:
        return Completeness.COMPLETE if self.found else Completeness.PARTIAL


class LogStream(_MwStream):
    """``list=logevents`` of deletions (read by look-ups, not by the walk)."""

    def first_request(self) -> PageRequest:
        return self.request({
            "list": "logevents",
            "letype": "delete",
            "lelimit": self.connector.limit(),
            "leprop": "ids|title|type|user|timestamp|comment|details",
        })

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return _list(
            _query(payload, request.path).get("logevents", []), "'logevents'", request.path
        )


class MediaWikiConnector(TreeConnector):
    """Reads every revision of every page of a wiki; confirms deletions through the delete log."""

    platform: ClassVar[Platform] = Platform.MEDIAWIKI
    default_api_base: ClassVar[str] = ""  # see __init__
    anonymous_read: ClassVar[bool] = True
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (AllPagesStream, RevisionsStream)

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        if not self.api_base:
            # The account's external id is the wiki's api.php URL when no --api-base is given.
            self.api_base = config.account_external_id.rstrip("/")

    def limit(self) -> str:
        """Rows a page (the API allows up to 500)."""
        return str(max(1, min(500, self.config.page_size or 500)))

    def read(self, scopes: Sequence[str] | None = None) -> Iterator[ReadEvent]:
        """Every page (``post``) with all its revisions, then ``ListingComplete("")``.

        With scopes: ``page-<id>`` re-reads that page's revisions; ROOT walks every page (the
        pages' records are made of their revisions, so the top level alone would read none).
        """
        return super().read(None if scopes is None or ROOT_SCOPE in scopes else scopes)

    def _delete_event(self, page_id: int) -> dict[str, Any] | None:
        for events in self.pages(LogStream(self, {})):
            for event in events:
                if event.get("logpage") == page_id and event.get("action") == "delete":
                    return event
        return None

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Gone only for a missing page with a ``delete`` log event (the evidence)."""
        checked_at = self.now().isoformat()
        try:
            if ref.kind == ItemKind.PAGE_REVISION:
                revid = ref.external_id.removeprefix("rev-")
                fetched = self.fetch(
                    PageRequest(
                        self.api_base,
                        {**BASE_PARAMS, "prop": "revisions", "revids": revid, "rvprop": "ids"},
                    ),
                    classify_mediawiki,
                )
                bad = _obj(
                    _query(fetched.payload, "revids").get("badrevids", {}), "badrevids", "revids"
                )
                if revid not in bad:
                    return Present()
                revision_answer: dict[str, Any] | None = fetched.payload
                page_ref = ref.parent_external_id or ref.scope
            else:
                revision_answer, page_ref = None, ref.external_id
            page_id = int(page_ref.removeprefix("page-"))
            fetched = self.fetch(
                PageRequest(self.api_base, {**BASE_PARAMS, "pageids": str(page_id)}),
                classify_mediawiki,
            )
            pages = _list(_query(fetched.payload, "pageids").get("pages", []), "pages", "pageids")
            if not pages or not pages[0].get("missing"):
                return (
                    Present()
                    if revision_answer is None
                    else Unknown("the revision is missing but its page exists (revision deletion?)")
                )
            event = self._delete_event(page_id)
        except (ConnectorError, ValueError) as exc:
            return Unknown(str(exc))
        if event is None:
            return Unknown(f"page {page_id} is missing but no delete log event names it")
        evidence: dict[str, Any] = {
            "platform": Platform.MEDIAWIKI,
            "page_query": fetched.payload,
            "delete_log_event": event,
            "checked_at": checked_at,
        }
        if revision_answer is not None:
            evidence["revision_query"] = revision_answer
        return Gone(evidence=evidence)

    # -- the wiki's own statements (additive: read by archiver.monitoring) --------------------

    def profile(self) -> Profile:
        """The wiki's main page: its name from ``meta=siteinfo``
        (https://www.mediawiki.org/wiki/API:Siteinfo), then its current wikitext through
        ``prop=revisions`` (https://www.mediawiki.org/wiki/API:Revisions)."""
        info = PageRequest(self.api_base, {**BASE_PARAMS, "meta": "siteinfo",
                                           "siprop": "general"})
        general = _query(self.read_object(info, classify_mediawiki), info.path).get("general")
        general = general if isinstance(general, dict) else {}
        main = general.get("mainpage")
        if not isinstance(main, str) or not main:
            raise self._fail(MalformedResponse, f"response from {info.path}: no main page named")
        page = PageRequest(self.api_base, {**BASE_PARAMS, "prop": "revisions", "titles": main,
                                           "rvprop": "content", "rvslots": "main"})
        answer = self.read_object(page, classify_mediawiki)
        found: list[ProfileField] = []
        for entry in _list(_query(answer, page.path).get("pages"), "pages", page.path):
            for rev in entry.get("revisions") or []:
                content = ((rev.get("slots") or {}).get("main") or {}).get("content")
                if isinstance(content, str) and content.strip():
                    found.append(ProfileField(f"page: {main}", content.strip()))
        base = general.get("base")
        return Profile(self.platform, self.config.account_external_id, tuple(found),
                       url=base if isinstance(base, str) else None,
                       requests=(f"GET {info.path}?meta=siteinfo&siprop=general",
                                 f"GET {page.path}?prop=revisions&titles={main}"),
                       raw={"siteinfo": general, "page": answer})
