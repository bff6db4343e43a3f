"""Facebook Page connector (Graph API).

Followed:

* Page feed: https://developers.facebook.com/docs/graph-api/reference/page/feed
* Comments edge (``filter=stream``, ``order``): https://developers.facebook.com/docs/graph-api/reference/object/comments
* Comment fields: https://developers.facebook.com/docs/graph-api/reference/comment
* Paging (cursors, ``paging.next``; a short or empty page may still have ``next``):
  https://developers.facebook.com/docs/graph-api/results
* Errors (190 token, 100/33 unknown object, ``is_transient``):
  https://developers.facebook.com/docs/graph-api/guides/error-handling
* Rate limits (codes 4, 17, 32, 613, 80001; ``X-App-Usage``, ``X-Business-Use-Case-Usage``):
  https://developers.facebook.com/docs/graph-api/overview/rate-limiting
* Page stories ``GET /{page-id}/stories`` (``post_id, status PUBLISHED|ARCHIVED, creation_time,
  media_type, media_id, url``; archived ones only while the Page's story archive is on):
  https://developers.facebook.com/docs/page-stories-api; each story's photo (``images``) or video
  (``source``) is read from its ``media_id``: https://developers.facebook.com/docs/graph-api/reference/photo,
  https://developers.facebook.com/docs/graph-api/reference/video. Stories are their own kind and
  listing (:mod:`archiver.connectors.stories`).

The token goes in an ``Authorization: Bearer`` header (OAuth 2.0, RFC 6750), not in the URL, so
no URL we log or store can carry it; ``access_token`` in ``paging.next`` links is stripped. The
Graph API accepts the header although Meta's own examples use the parameter; the maintained
clients added it as an option (restfb/restfb#1107, huandu/facebook#205).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from archiver.connectors.base import (
    Classification,
    NextUrlPaging,
    ObjectNotFound,
    PageRequest,
    Verdict,
    classify_http,
    decode_json,
    dig,
    one_line,
)
from archiver.connectors.errors import AuthError, ConnectorError, MalformedResponse
from archiver.connectors.profiles import Profile, TokenStatus, text_fields
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemKind,
    ItemRef,
    ItemStatus,
    LookupResult,
    MediaRef,
    Platform,
    Present,
    Record,
    Unknown,
)
from archiver.connectors.stories import STORIES_SCOPE, PermittedListing
from archiver.connectors.streams import RecordChildStream, TreeConnector, TreeStream

DEFAULT_API_BASE = "https://graph.facebook.com/v19.0"
POST_FIELDS = (
    "id,message,created_time,updated_time,permalink_url,from,status_type,is_hidden,"
    "is_published,attachments{media_type,url,media,target,subattachments}"
)
STORY_FIELDS = "post_id,status,creation_time,media_type,media_id,url"
COMMENT_FIELDS = (
    "id,message,created_time,from,parent{id},is_hidden,permalink_url,attachment,"
    "comment_count,like_count"
)
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001})
AUTH_CODES = frozenset({102, 104, 190})
PERMISSION_CODES = frozenset({10}) | frozenset(range(200, 300))
# Usage (percent) from which we pace our calls; Meta throttles at 100.
USAGE_SLOWDOWN_AT = 90
# A Page's public fields that say what the page is and how to reach the department.
PAGE_PROFILE_FIELDS = ("about", "description", "general_info", "website", "phone", "emails")


def parse_graph_time(value: Any, path: str) -> datetime | None:
    """``"2024-05-01T14:03:22+0000"`` → an aware UTC datetime (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponse(f"response from {path}: a timestamp is not a string")
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
    except (ValueError, OverflowError):
        raise MalformedResponse(f"response from {path}: unreadable timestamp") from None


def _opt(item: dict[str, Any], key: str, kind: type, path: str) -> Any:
    value = item.get(key)
    if value is not None and not isinstance(value, kind):
        raise MalformedResponse(f"response from {path}: field {key!r} has the wrong type")
    return value


def _author(item: dict[str, Any], path: str) -> tuple[str | None, str | None]:
    who = _opt(item, "from", dict, path)
    if who is None:  # Graph leaves ``from`` out without the MODERATE task
        return None, None
    return _opt(who, "name", str, path), _opt(who, "id", str, path)


def _media_of(att: dict[str, Any], path: str, type_key: str) -> list[MediaRef]:
    media = _opt(att, "media", dict, path) or {}
    image = _opt(media, "image", dict, path) or {}
    src = _opt(media, "source", str, path) or _opt(image, "src", str, path)
    url = src or _opt(att, "url", str, path)
    refs = [MediaRef(url=url, media_type=_opt(att, type_key, str, path))] if url else []
    subs = _opt(att, "subattachments", dict, path)
    for sub in _edge_data(subs, path) if subs else []:
        refs.extend(_media_of(sub, path, type_key))
    return refs


def _edge_data(edge: Any, path: str) -> list[dict[str, Any]]:
    data = edge.get("data") if isinstance(edge, dict) else None
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise MalformedResponse(f"response from {path}: expected a list of objects under 'data'")
    return data


def _id(item: dict[str, Any], path: str) -> str:
    value = item.get("id")
    if not isinstance(value, str) or not value:
        raise MalformedResponse(f"response from {path}: an item without an id")
    return value


def post_record(item: dict[str, Any], path: str) -> Record:
    """One feed item → a ``post`` :class:`Record` (``raw`` is the item as parsed)."""
    hidden = bool(_opt(item, "is_hidden", bool, path))
    published = _opt(item, "is_published", bool, path)
    name, author_id = _author(item, path)
    media: list[MediaRef] = []
    attachments = _opt(item, "attachments", dict, path)
    for att in _edge_data(attachments, path) if attachments else []:
        media.extend(_media_of(att, path, "media_type"))
    return Record(
        external_id=_id(item, path),
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text=_opt(item, "message", str, path),
        status=ItemStatus.HIDDEN if hidden else ItemStatus.ACTIVE,
        platform_status="hidden"
        if hidden
        else ("unpublished" if published is False else "published"),
        author_name=name,
        author_id=author_id,
        created_at=parse_graph_time(item.get("created_time"), path),
        updated_at=parse_graph_time(item.get("updated_time"), path),
        url=_opt(item, "permalink_url", str, path),
        raw=item,
        media=tuple(media),
    )


def comment_record(item: dict[str, Any], post_id: str, path: str) -> Record:
    """One comment of ``post_id`` → a ``comment`` or ``reply`` :class:`Record`."""
    hidden = bool(_opt(item, "is_hidden", bool, path))
    parent = _opt(item, "parent", dict, path)
    parent_id = _opt(parent, "id", str, path) if parent else None
    is_reply = parent_id is not None and parent_id != post_id
    name, author_id = _author(item, path)
    attachment = _opt(item, "attachment", dict, path)
    return Record(
        external_id=_id(item, path),
        kind=ItemKind.REPLY if is_reply else ItemKind.COMMENT,
        scope=post_id,
        text=_opt(item, "message", str, path),
        status=ItemStatus.HIDDEN if hidden else ItemStatus.ACTIVE,
        platform_status="hidden" if hidden else "published",
        author_name=name,
        author_id=author_id,
        created_at=parse_graph_time(item.get("created_time"), path),
        updated_at=None,  # comments have no updated_time in the Graph API
        url=_opt(item, "permalink_url", str, path),
        raw=item,
        parent_external_id=parent_id if is_reply else post_id,
        media=tuple(_media_of(attachment, path, "type")) if attachment else (),
    )


def parse_posts_page(payload: Any, path: str) -> list[Record]:
    """A decoded feed page → its post records, or :class:`MalformedResponse`."""
    return [post_record(item, path) for item in _edge_data(payload, path)]


def parse_comments_page(payload: Any, post_id: str, path: str) -> list[Record]:
    """A decoded comments page → comment/reply records, or :class:`MalformedResponse`."""
    return [comment_record(item, post_id, path) for item in _edge_data(payload, path)]


def parse_feed_body(body: bytes, path: str = "/feed") -> tuple[list[Record], str | None]:
    """Raw feed bytes → (records, ``paging.next``). Any bad input ends in a ConnectorError."""
    payload = decode_json(body, path)
    records = parse_posts_page(payload, path)
    nxt = dig(payload, ("paging", "next"))
    return records, nxt if isinstance(nxt, str) else None


def _story_time(value: Any, path: str) -> datetime | None:
    """A story's ``creation_time``: Unix seconds (a number or its digits) or a Graph time."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _unix_time(value)
    return parse_graph_time(value, path)


def story_media(media_type: str | None, obj: dict[str, Any], path: str) -> tuple[MediaRef, ...]:
    """The file of a story's photo (its largest ``images`` entry) or video (``source``)."""
    source = _opt(obj, "source", str, path)
    images = _opt(obj, "images", list, path) or []
    sized = [i for i in images if isinstance(i, dict) and isinstance(i.get("source"), str)]
    if not source and sized:
        best = max(sized, key=lambda i: (i.get("width") or 0) * (i.get("height") or 0)
                   if isinstance(i.get("width"), int) and isinstance(i.get("height"), int) else 0)
        source = best["source"]
    return (MediaRef(url=source, media_type=media_type),) if source else ()


def story_record(item: dict[str, Any], media: tuple[MediaRef, ...], path: str) -> Record:
    """One Page story → a ``story`` :class:`Record` (``platform_status``: ``published`` or
    ``archived``, the story's own ``status`` lower-cased)."""
    post_id = _opt(item, "post_id", str, path)
    if not post_id:
        raise MalformedResponse(f"response from {path}: a story without a post_id")
    status = _opt(item, "status", str, path)
    return Record(
        external_id=post_id, kind=ItemKind.STORY, scope=STORIES_SCOPE, text=None,
        status=ItemStatus.ACTIVE, platform_status=status.lower() if status else None,
        author_name=None, author_id=None,
        created_at=_story_time(item.get("creation_time"), path), updated_at=None,
        url=_opt(item, "url", str, path), raw=item, media=media)


def _graph_error(payload: Any) -> dict[str, Any] | None:
    err = payload.get("error") if isinstance(payload, dict) else None
    return err if isinstance(err, dict) else None


def permission_refused(payload: Any) -> bool:
    """Is this Graph answer a refusal for a permission the token lacks (code 10, 200-299)?"""
    err = _graph_error(payload)
    return err is not None and err.get("code") in PERMISSION_CODES


def _usage_numbers(response: httpx.Response) -> tuple[float, float]:
    """(highest usage percent, longest ``estimated_time_to_regain_access`` in minutes)."""
    pct, regain = 0.0, 0.0
    for header in ("X-App-Usage", "X-Page-Usage", "X-Business-Use-Case-Usage"):
        text = response.headers.get(header)
        if not text:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue  # a garbled hint is no reason to fail a read
        blocks: list[Any] = [data]
        if header == "X-Business-Use-Case-Usage" and isinstance(data, dict):
            blocks = [b for v in data.values() if isinstance(v, list) for b in v]
        for block in blocks:
            if not isinstance(block, dict):
                continue
            for key, value in block.items():
                if not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                if key == "estimated_time_to_regain_access":
                    regain = max(regain, float(value))
                elif key in ("call_count", "total_time", "total_cputime"):
                    pct = max(pct, float(value))
    return pct, regain


def classify_graph(response: httpx.Response, payload: Any) -> Classification:
    """What a Graph answer means: rate limit, token problem, unknown object, transient, ..."""
    err = _graph_error(payload)
    if err is None:
        return classify_http(response)
    code, sub = err.get("code"), err.get("error_subcode")
    label = f"{code}/{sub}" if sub is not None else f"{code}"
    detail = (
        f"Graph error {label} ({err.get('type')}): {one_line(str(err.get('message', '')), 200)}"
    )
    if code in RATE_LIMIT_CODES or (isinstance(code, int) and 80000 <= code <= 80099):
        _, regain = _usage_numbers(response)
        return Classification(Verdict.RATE_LIMITED, wait=regain * 60 or None, detail=detail)
    if code in AUTH_CODES:
        return Classification(
            Verdict.AUTH, detail=f"the access token is invalid or expired ({detail})"
        )
    if code in PERMISSION_CODES:
        return Classification(Verdict.AUTH, detail=f"the token lacks a permission ({detail})")
    if code == 100 and sub == 33:
        return Classification(Verdict.NOT_FOUND, detail=detail)
    if err.get("is_transient") is True or code in (1, 2) or response.status_code >= 500:
        return Classification(Verdict.TRANSIENT, detail=detail)
    if response.status_code == 429:
        return Classification(Verdict.RATE_LIMITED, detail=detail)
    return Classification(Verdict.FATAL, detail=detail)


class GraphEdgeStream(TreeStream["FacebookConnector"]):
    """``GET /{node}/{edge}?fields=...&limit=...``: the shape of every Graph listing we read
    (Instagram's too): ``paging.next`` URLs, Graph error bodies.

    A subclass names the edge, the fields, any fixed parameters and its page size, says which
    node it lists (:meth:`node_id`) and parses a page.
    """

    paging = NextUrlPaging(("paging", "next"))
    edge: ClassVar[str]
    fields: ClassVar[str]
    params: ClassVar[Mapping[str, str]] = {}
    page_size: ClassVar[int]  # when the account's config names none
    page_max: ClassVar[int | None] = None  # the documented maximum, if any

    def node_id(self) -> str:
        """The Graph node whose edge is listed: the account's own at the top level."""
        return self.connector.config.account_external_id

    def first_request(self) -> PageRequest:
        limit = self.connector.config.page_size or self.page_size
        if self.page_max is not None:
            limit = min(limit, self.page_max)
        url = f"{self.connector.api_base}/{quote(self.node_id(), safe='')}/{self.edge}"
        return PageRequest(url, {**self.params, "fields": self.fields, "limit": str(limit)})

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return classify_graph(response, payload)


class FeedStream(GraphEdgeStream):
    """``GET /{page-id}/feed``: every post on the page, newest first."""

    edge, fields, page_size = "feed", POST_FIELDS, 25

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return parse_posts_page(payload, request.path)


class CommentsStream(GraphEdgeStream, RecordChildStream["FacebookConnector"]):
    """``GET /{post-id}/comments?filter=stream``: a post's comments and replies, flattened,
    oldest first. A post deleted while we read leaves its listing incomplete, the run goes on."""

    edge, fields, page_size = "comments", COMMENT_FIELDS, 100
    params = {"filter": "stream", "order": "chronological"}
    parent_stream_type = FeedStream
    gone_counter = "listings_gone"

    def node_id(self) -> str:
        return self.parent_id

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return parse_comments_page(payload, self.parent_id, request.path)


class GraphStoriesListing(PermittedListing, GraphEdgeStream):
    """A ``/stories`` edge (a Page's, an Instagram account's): its own scope, and a token
    without the permission for it reported, not failed."""

    @property
    def scopes(self) -> tuple[str, ...]:
        return (STORIES_SCOPE,)

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return self.permitted(classify_graph(response, payload), permission_refused(payload))


class StoriesStream(GraphStoriesListing):
    """``GET /{page-id}/stories``: the Page's stories of the last day (and archived ones while
    the story archive is on), each with its photo or video file, read at once."""

    edge, fields, page_size = "stories", STORY_FIELDS, 25
    what, needs = "page stories", "pages_read_engagement"

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [story_record(item, self._media(item, request.path), request.path)
                for item in _edge_data(payload, request.path)]

    def _media(self, item: dict[str, Any], path: str) -> tuple[MediaRef, ...]:
        """The story's file; a media object that cannot be read is noted, never guessed."""
        media_id = _opt(item, "media_id", str, path)
        media_type = _opt(item, "media_type", str, path)
        if not media_id:
            return ()
        field = "source" if (media_type or "").lower() == "video" else "images"
        request = PageRequest(f"{self.connector.api_base}/{quote(media_id, safe='')}",
                              {"fields": field})
        try:
            obj = self.connector.read_object(request, classify_graph)
        except ConnectorError as exc:
            self.connector.stats.notes.append(
                self.connector.scrub(f"facebook: story {item.get('post_id')}: its media file "
                                     f"could not be read ({exc})"))
            return ()
        return story_media(media_type.lower() if media_type else None, obj, path)


class FacebookConnector(TreeConnector):
    """Reads a Facebook Page's feed and every post's comments; looks items up by id."""

    platform: ClassVar[Platform] = Platform.FACEBOOK
    default_api_base: ClassVar[str] = DEFAULT_API_BASE
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (
        FeedStream, CommentsStream, StoriesStream)
    sweep_scopes: ClassVar[tuple[str, ...]] = (STORIES_SCOPE,)

    @property
    def page_id(self) -> str:
        """The page's Graph id (the account's external id)."""
        return self.config.account_external_id

    def usage_wait(self, response: httpx.Response) -> float:
        """Pace calls as Meta's usage headers near 100%, or wait out a stated regain time."""
        pct, regain = _usage_numbers(response)
        if regain > 0:
            return min(regain * 60, self.config.backoff_cap)
        if pct < USAGE_SLOWDOWN_AT:
            return 0.0
        return min(self.config.backoff_cap, self.config.backoff_base * 2 ** ((pct - 90) / 2))

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Present, Gone (100/33 while the page itself still reads) or Unknown."""
        return self.graph_lookup(ref, self.page_id, "page")

    def graph_lookup(self, ref: ItemRef, owner_id: str, owner: str) -> LookupResult:
        """Look ``ref`` up on the Graph API: Gone only for 100/33 while ``owner_id`` (the page,
        the Instagram account) still reads, since 100/33 also means "lost permission"."""
        request = PageRequest(
            f"{self.api_base}/{quote(ref.external_id, safe='')}", {"fields": "id"}
        )
        try:
            self.fetch(request, classify_graph)
            return Present()
        except ObjectNotFound as nf:
            err = _graph_error(nf.body)
            if not err or err.get("code") != 100 or err.get("error_subcode") != 33:
                return Unknown(self.scrub(str(nf)))
            not_found = nf
        except ConnectorError as exc:
            return Unknown(self.scrub(str(exc)))
        owner_req = PageRequest(f"{self.api_base}/{quote(owner_id, safe='')}", {"fields": "id"})
        try:
            checked = self.fetch(owner_req, classify_graph)
        except ConnectorError as exc:
            return Unknown(
                self.scrub(
                    f"{self.platform}: {ref.external_id} answered 100/33 but the {owner} itself "
                    f"cannot be read, so it may be a permission loss ({exc})"
                )
            )
        return Gone(evidence={
            "platform": self.platform,
            "request": f"GET {not_found.path}?fields=id",
            "http_status": not_found.status,
            "response": not_found.body,
            f"{owner}_check": {
                "request": f"GET {owner_req.path}?fields=id",
                "http_status": checked.response.status_code,
            },
            "checked_at": self.now().astimezone(UTC).isoformat(),
        })

    # -- the page's own statements and the token (additive: read by archiver.monitoring) ------

    def profile(self) -> Profile:
        """The Page's public fields about, description, general_info, website, phone and
        emails, and its link (https://developers.facebook.com/docs/graph-api/reference/page/)."""
        return self.graph_profile(self.page_id, PAGE_PROFILE_FIELDS, ("name", "link"), "link")

    def graph_profile(self, node_id: str, text: Sequence[str], other: Sequence[str],
                      link: str | None) -> Profile:
        """``GET /{node}?fields=...``: the ``text`` fields as the profile, ``link`` as its
        address; the answer is kept without secrets."""
        fields = ",".join((*other, *text))
        request = PageRequest(f"{self.api_base}/{quote(node_id, safe='')}", {"fields": fields})
        raw = self.read_object(request, classify_graph)
        url = raw.get(link) if link else None
        return Profile(self.platform, node_id, tuple(text_fields(raw, text)),
                       url=url if isinstance(url, str) else None,
                       requests=(f"GET {request.path}?fields={fields}",), raw=raw)

    def token_status(self) -> TokenStatus:
        """Graph's ``debug_token`` for the account's own token: ``is_valid``, ``expires_at``
        and ``data_access_expires_at`` (Unix seconds, 0: never), ``scopes``
        (https://developers.facebook.com/docs/graph-api/reference/debug_token/). A token the
        Graph refuses outright is invalid too."""
        request = PageRequest(f"{self.api_base}/debug_token",
                              {"input_token": self.config.token or ""})
        try:
            data = self.read_object(request, classify_graph).get("data")
        except AuthError as exc:
            return TokenStatus(valid=False, problem=self.scrub(str(exc)))
        if not isinstance(data, dict):
            raise self._fail(MalformedResponse, f"response from {request.path} has no data")
        found = data.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        scopes = data.get("scopes")
        return TokenStatus(
            valid=data.get("is_valid") is True,
            expires_at=_unix_time(data.get("expires_at")),
            data_access_expires_at=_unix_time(data.get("data_access_expires_at")),
            scopes=tuple(s for s in scopes if isinstance(s, str))
            if isinstance(scopes, list) else (),
            problem=self.scrub(one_line(str(error.get("message")), 200))
            if error.get("message") else None)


def _unix_time(value: Any) -> datetime | None:
    """Graph's Unix seconds as a UTC time; 0 or nothing means "never"."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
