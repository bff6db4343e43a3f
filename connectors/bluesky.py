"""Bluesky connector (the AT Protocol's XRPC HTTP API).

Followed:

* Signing in: ``POST /xrpc/com.atproto.server.createSession`` with the account's identifier
  (its DID or handle, the account's external id) and an app password; the answer's
  ``accessJwt`` is the bearer token of every read, ``did`` the account's DID. An expired session
  (``ExpiredToken``) signs in again:
  https://docs.bsky.app/docs/api/com-atproto-server-create-session,
  https://docs.bsky.app/docs/advanced-guides/api-directory
* The account's posts and its replies, newest first, ``GET /xrpc/app.bsky.feed.getAuthorFeed
  ?actor=&filter=posts_with_replies&limit=100&cursor=`` (``cursor`` to the end):
  https://docs.bsky.app/docs/api/app-bsky-feed-get-author-feed
* Each post's thread, ``GET /xrpc/app.bsky.feed.getPostThread?uri=&depth=200&parentHeight=0``:
  replies nest as ``#threadViewPost``; a deleted reply is ``#notFoundPost`` (``notFound``), one
  the account cannot see ``#blockedPost``; the thread's ``threadgate`` record lists the replies the
  author hid (``hiddenReplies``):
  https://docs.bsky.app/docs/api/app-bsky-feed-get-post-thread and the lexicons
  https://github.com/bluesky-social/atproto/tree/main/lexicons/app/bsky/feed (``defs.json``,
  ``threadgate.json``)
* Errors are ``{"error": <name>, "message": ...}`` with an HTTP status (XRPC):
  https://atproto.com/specs/xrpc
* Rate limits: HTTP 429 and the ``RateLimit-Limit``, ``-Remaining``, ``-Reset`` (Unix seconds) and
  ``-Policy`` headers; ``createSession`` is limited to 30 per 5 minutes, 300 a day, so one session
  is kept for the whole run: https://docs.bsky.app/docs/advanced-guides/rate-limits

Normalization: the external id is the post's ``at://`` URI (Bluesky's own id: unique, and the
key every API call takes). A post of the account is a ``post`` (scope ``""``); a reply the account
wrote in someone else's conversation is a ``reply`` at the top level (its parent is the post it
answers). Each post's thread is its own scope: a direct answer is a ``comment``, an answer to an
answer a ``reply``. A reply named by the root post's threadgate ``hiddenReplies`` is ``hidden``.
Reposts of other accounts' posts are not the account's records: they are counted
(``stats.extra["reposts_not_kept"]``), not stored.

What the API cannot read, said rather than guessed: a ``#blockedPost`` reply (an account the
department blocked or that blocked it), a reply of an unknown kind, and a post whose
``replyCount`` is more than the replies shown (the thread is read 200 levels deep) leave that
thread's listing partial, so nothing missing from it is looked up as removed; the run's notes say
how many. A ``#notFoundPost`` in a thread is a deleted reply: it is counted
(``stats.extra["replies_deleted"]``), and if it had been archived the look-up below confirms its
removal. Replies the threadgate hides but the thread does not show are counted
(``stats.extra["hidden_replies_not_shown"]``), never taken as removed. The Bluesky app has no
edits (a record rewritten by another client is a new version, found by hashing), and the API
shows no moderation of others' replies beyond the threadgate.

"A direct look-up confirms it is gone" means, for the account's own post, that its repository
answers ``com.atproto.repo.getRecord`` with HTTP 400 ``RecordNotFound`` **and**
``com.atproto.repo.describeRepo`` of the account still reads
(https://docs.bsky.app/docs/api/com-atproto-repo-get-record); for a visitor's reply (kept in the
visitor's repository, on a host we do not know), that ``getPostThread?uri=<the reply>&depth=0``
answers HTTP 400 ``NotFound`` **and** ``app.bsky.actor.getProfile`` of the account still reads
(so the session and the AppView work). A removal by Bluesky's moderation reads the same as the
author's deletion. Evidence: both requests and the error body.

The app password is read from the account's variable, sent only in the ``createSession`` body,
and scrubbed (as are the session's tokens) from everything capture stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import httpx

from archiver.connectors.base import (
    Classification,
    ConnectorConfig,
    CursorPaging,
    ObjectNotFound,
    PageRequest,
    Paging,
    Verdict,
    classify_http,
    decode_json,
    one_line,
)
from archiver.connectors.errors import ConnectorError, MalformedResponse
from archiver.connectors.profiles import Profile, text_fields
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
from archiver.connectors.streams import (
    Completeness,
    RecordChildStream,
    TreeConnector,
    TreeStream,
)

DEFAULT_API_BASE = "https://bsky.social"
FEED_PAGE_MAX = 100  # the lexicon's maximum for getAuthorFeed
# Replies deeper than this are not asked for: each level nests the answer twice more, and a JSON
# decoder gives up near a thousand levels. A post with answers below it leaves its thread
# partial (its replyCount says so), never a false removal.
THREAD_DEPTH = 200
POST_COLLECTION = "app.bsky.feed.post"
AUTH_ERRORS = frozenset({"AuthenticationRequired", "InvalidToken", "AccountTakedown",
                         "AuthFactorTokenRequired", "AccountDeactivated"})
NOT_FOUND_ERRORS = frozenset({"NotFound", "RecordNotFound"})
_VIEW = "app.bsky.feed.defs#"


def parse_bsky_time(value: Any, path: str) -> datetime | None:
    """An RFC 3339 time as aware UTC; None when absent or unreadable (``createdAt`` is written by
    the posting client, so a bad one is the post's oddity, not a broken answer)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponse(f"response from {path}: a timestamp is not a string")
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (found if found.tzinfo else found.replace(tzinfo=UTC)).astimezone(UTC)


def _str(item: dict[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise MalformedResponse(f"response from {path}: field {key!r} is missing or not text")
    return value


def _obj(item: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = item.get(key, {})
    if not isinstance(value, dict):
        raise MalformedResponse(f"response from {path}: field {key!r} is not an object")
    return value


def _count(item: dict[str, Any], key: str) -> int:
    value = item.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _media(embed: dict[str, Any], path: str) -> list[MediaRef]:
    """Files an embed view shows: images (full size), a video's thumbnail (its HLS playlist stays
    in ``raw``), a link card's thumbnail, and those of a quote-with-media."""
    refs: list[MediaRef] = []
    images = embed.get("images")
    if isinstance(images, list):
        for image in images:
            url = _str(image, "fullsize", path) if isinstance(image, dict) else None
            if url:
                refs.append(MediaRef(url=url, media_type="image"))
    thumb = _str(embed, "thumbnail", path)
    if thumb:
        refs.append(MediaRef(url=thumb, media_type="thumbnail"))
    external = embed.get("external")
    if isinstance(external, dict) and isinstance(external.get("thumb"), str):
        refs.append(MediaRef(url=external["thumb"], media_type="thumbnail"))
    inner = embed.get("media")
    if isinstance(inner, dict):
        refs.extend(_media(inner, path))
    return refs


def post_url(uri: str) -> str | None:
    """``at://did/app.bsky.feed.post/rkey`` → ``https://bsky.app/profile/did/post/rkey``."""
    parts = uri.removeprefix("at://").split("/")
    if not uri.startswith("at://") or len(parts) != 3 or parts[1] != POST_COLLECTION:
        return None
    return f"https://bsky.app/profile/{quote(parts[0], safe=':')}/post/{quote(parts[2], safe='')}"


def post_record(view: Any, *, kind: ItemKind, scope: str, parent: str | None, hidden: bool,
                path: str) -> Record:
    """One ``app.bsky.feed.defs#postView`` → a :class:`Record` (``raw`` is the view)."""
    if not isinstance(view, dict):
        raise MalformedResponse(f"response from {path}: a post is not an object")
    uri = _str(view, "uri", path, required=True)
    assert uri is not None  # required
    author = _obj(view, "author", path)
    record = _obj(view, "record", path)
    embed = _obj(view, "embed", path)
    return Record(
        external_id=uri,
        kind=kind,
        scope=scope,
        text=_str(record, "text", path),
        status=ItemStatus.HIDDEN if hidden else ItemStatus.ACTIVE,
        platform_status="hidden" if hidden else "published",
        author_name=_str(author, "handle", path),
        author_id=_str(author, "did", path),
        created_at=parse_bsky_time(record.get("createdAt"), path)
        or parse_bsky_time(view.get("indexedAt"), path),
        updated_at=None,
        url=post_url(uri),
        raw=view,
        parent_external_id=parent,
        media=tuple(_media(embed, path)),
    )


def _reply_refs(view: dict[str, Any], path: str) -> tuple[str | None, str | None]:
    """(root URI, parent URI) of a post that answers another; (None, None) for a new post."""
    reply = _obj(_obj(view, "record", path), "reply", path)
    if not reply:
        return None, None
    return (_str(_obj(reply, "root", path), "uri", path),
            _str(_obj(reply, "parent", path), "uri", path))


@dataclass
class FeedPage:
    """What one getAuthorFeed page held: the account's records and the reposts left out."""

    records: list[Record]
    reposts: int = 0


def parse_feed_page(payload: Any, account_did: str | None, path: str) -> FeedPage:
    """A decoded getAuthorFeed page → the account's posts and its replies in other accounts'
    conversations. Its replies within its own threads are left to those threads' listings, so
    each item is read in one scope only; reposts are counted."""
    feed = payload.get("feed") if isinstance(payload, dict) else None
    if not isinstance(feed, list) or not all(isinstance(x, dict) for x in feed):
        raise MalformedResponse(f"response from {path}: expected a list of objects under 'feed'")
    page = FeedPage([])
    for entry in feed:
        if entry.get("reason") is not None:  # a repost (or a pin): not written here
            page.reposts += 1
            continue
        view = _obj(entry, "post", path)
        root, parent = _reply_refs(view, path)
        if root is None:
            page.records.append(post_record(view, kind=ItemKind.POST, scope=ROOT_SCOPE,
                                            parent=None, hidden=False, path=path))
            continue
        if account_did is not None and root.startswith(f"at://{account_did}/"):
            continue  # read with its own thread
        page.records.append(post_record(view, kind=ItemKind.REPLY, scope=ROOT_SCOPE,
                                        parent=parent, hidden=False, path=path))
    return page


@dataclass
class ThreadFacts:
    """What a thread showed besides its replies, and whether it showed all of them."""

    deleted: int = 0  # #notFoundPost
    unseen: int = 0  # #blockedPost, unknown kinds, replies not shown
    hidden_missing: int = 0  # named by the threadgate, absent from the thread

    @property
    def complete(self) -> bool:
        """Every reply was shown (deleted ones as deleted)."""
        return self.unseen == 0


def _hidden_replies(payload: dict[str, Any], path: str) -> set[str]:
    gate = payload.get("threadgate")
    record = gate.get("record") if isinstance(gate, dict) else None
    uris = record.get("hiddenReplies") if isinstance(record, dict) else None
    if uris is None:
        return set()
    if not isinstance(uris, list):
        raise MalformedResponse(f"response from {path}: threadgate hiddenReplies is not a list")
    return {u for u in uris if isinstance(u, str)}


def _replies(node: dict[str, Any], facts: ThreadFacts, path: str) -> list[Any]:
    """A thread node's replies; those its ``replyCount`` names but the answer leaves out (past
    the depth, or not shown) are counted as unseen."""
    replies = node.get("replies", [])
    if not isinstance(replies, list):
        raise MalformedResponse(f"response from {path}: replies is not a list")
    facts.unseen += max(0, _count(_obj(node, "post", path), "replyCount") - len(replies))
    return replies


def parse_thread(payload: Any, root_uri: str, path: str) -> tuple[list[Record], ThreadFacts]:
    """A decoded getPostThread answer → the replies under ``root_uri``, depth first in the
    thread's order (the root post itself is read from the feed), with what the thread could not
    show."""
    thread = payload.get("thread") if isinstance(payload, dict) else None
    if not isinstance(thread, dict):
        raise MalformedResponse(f"response from {path}: no thread object")
    hidden = _hidden_replies(payload, path)
    facts = ThreadFacts()
    records: list[Record] = []
    if thread.get("$type") != f"{_VIEW}threadViewPost":
        facts.unseen += 1  # the root itself is blocked or of an unknown kind
        return records, facts
    stack = [(child, root_uri) for child in reversed(_replies(thread, facts, path))]
    while stack:
        node, parent = stack.pop()
        kind = node.get("$type") if isinstance(node, dict) else None
        if kind == f"{_VIEW}notFoundPost":
            facts.deleted += 1
            continue
        if kind != f"{_VIEW}threadViewPost":
            facts.unseen += 1
            continue
        view = node.get("post")
        uri = view.get("uri") if isinstance(view, dict) else None
        record = post_record(view, kind=ItemKind.COMMENT if parent == root_uri else ItemKind.REPLY,
                             scope=root_uri, parent=parent, hidden=uri in hidden, path=path)
        records.append(record)
        stack.extend((c, record.external_id) for c in reversed(_replies(node, facts, path)))
    facts.hidden_missing = len(hidden - {r.external_id for r in records})
    return records, facts


def parse_thread_body(body: bytes, root_uri: str, path: str = "/getPostThread") -> list[Record]:
    """Raw getPostThread bytes → reply records. Bad input ends in a ConnectorError."""
    return parse_thread(decode_json(body, path), root_uri, path)[0]


def parse_feed_body(body: bytes, account_did: str | None = None,
                    path: str = "/getAuthorFeed") -> list[Record]:
    """Raw getAuthorFeed bytes → the account's records. Bad input ends in a ConnectorError."""
    return parse_feed_page(decode_json(body, path), account_did, path).records


def reset_wait(response: httpx.Response, now: datetime) -> float | None:
    """Seconds until ``RateLimit-Reset``: Bluesky sends Unix seconds; the IETF draft it follows
    sends seconds from now, so a small number is read as that."""
    value = response.headers.get("RateLimit-Reset")
    try:
        reset = float(value) if value else None
    except ValueError:
        return None
    if reset is None or reset != reset:  # absent, or NaN
        return None
    if reset > 1_000_000_000:
        return max(0.0, reset - now.timestamp())
    return max(0.0, reset)


class SinglePage(Paging):
    """A listing answered in one page (a thread)."""

    def next_request(
        self, request: PageRequest, payload: Any, item_count: int
    ) -> PageRequest | None:
        return None


@dataclass(frozen=True)
class _Session:
    did: str
    access_jwt: str
    refresh_jwt: str


class XrpcStream(TreeStream["BlueskyConnector"]):
    """A listing over XRPC: its errors read by the connector (which knows the session)."""

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return self.connector.classify_xrpc(response, payload)


class AuthorFeedStream(XrpcStream):
    """``getAuthorFeed``: the account's posts and replies, newest first, to the end."""

    paging = CursorPaging(("cursor",), "cursor")

    def first_request(self) -> PageRequest:
        limit = min(self.connector.config.page_size or FEED_PAGE_MAX, FEED_PAGE_MAX)
        return PageRequest(self.connector.xrpc("app.bsky.feed.getAuthorFeed"), {
            "actor": self.connector.actor, "filter": "posts_with_replies", "limit": str(limit)})

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        page = parse_feed_page(payload, self.connector.account_did(), request.path)
        if page.reposts:
            self.connector.count("reposts_not_kept", page.reposts)
        return list(page.records)


class ThreadStream(XrpcStream, RecordChildStream["BlueskyConnector"]):
    """``getPostThread``: every reply under one of the account's posts, in one answer. A post
    deleted while we read leaves its listing incomplete; the run goes on."""

    paging = SinglePage()
    parent_stream_type = AuthorFeedStream
    gone_counter = "listings_gone"

    def __init__(self, connector: BlueskyConnector, context: Any) -> None:
        super().__init__(connector, context)
        self.facts = ThreadFacts()

    def first_request(self) -> PageRequest:
        return PageRequest(self.connector.xrpc("app.bsky.feed.getPostThread"), {
            "uri": self.parent_id, "depth": str(THREAD_DEPTH), "parentHeight": "0"})

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        records, self.facts = parse_thread(payload, self.parent_id, request.path)
        for key, value in (("replies_deleted", self.facts.deleted),
                           ("replies_unseen", self.facts.unseen),
                           ("hidden_replies_not_shown", self.facts.hidden_missing)):
            if value:
                self.connector.count(key, value)
        return list(records)

    def completeness(self) -> Completeness:
        if self.facts.complete:
            return Completeness.COMPLETE
        unseen = self.facts.unseen
        self.connector.stats.notes.append(
            f"bluesky: {unseen} {'reply' if unseen == 1 else 'replies'} under {self.parent_id} "
            "could not be read (blocked or not shown by the API); that thread is kept as read, "
            "nothing in it is taken as removed")
        return Completeness.PARTIAL


class BlueskyConnector(TreeConnector):
    """Reads a Bluesky account's feed and every post's thread in one signed-in session."""

    platform: ClassVar[Platform] = Platform.BLUESKY
    default_api_base: ClassVar[str] = DEFAULT_API_BASE
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (AuthorFeedStream, ThreadStream)

    def __init__(self, config: ConnectorConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self._session: _Session | None = None
        self._signing_in = False
        self._tokens: list[str] = []

    @property
    def actor(self) -> str:
        """The account's DID or handle (its external id)."""
        return self.config.account_external_id

    def xrpc(self, method: str) -> str:
        """The URL of an XRPC method on this connector's host."""
        return f"{self.api_base}/xrpc/{method}"

    def count(self, key: str, n: int) -> None:
        """Add ``n`` to ``stats.extra[key]``."""
        self.stats.extra[key] = self.stats.extra.get(key, 0) + n

    # -- the session -----------------------------------------------------------------------

    def secrets(self) -> tuple[str, ...]:
        """The app password and every session token this connector was given."""
        return (*super().secrets(), *self._tokens)

    def auth_headers(self) -> dict[str, str]:
        """The session's bearer token, signing in first when there is none."""
        if self._signing_in or not self.config.token:
            return {}
        session = self._session or self._sign_in()
        return {"Authorization": f"Bearer {session.access_jwt}"}

    def _sign_in(self) -> _Session:
        request = PageRequest(self.xrpc("com.atproto.server.createSession"),
                              body={"identifier": self.actor, "password": self.config.token})
        self._signing_in = True
        try:
            payload = self.fetch(request, self.classify_xrpc).payload
        finally:
            self._signing_in = False
        if not isinstance(payload, dict):
            raise self._fail(MalformedResponse, f"response from {request.path} is not an object")
        values = [payload.get(k) for k in ("did", "accessJwt", "refreshJwt")]
        if not all(isinstance(v, str) and v for v in values):
            raise self._fail(MalformedResponse,
                             f"response from {request.path} has no did, accessJwt or refreshJwt")
        did, access, refresh = (str(v) for v in values)
        self._tokens += [access, refresh]
        self.__dict__.pop("scrubber", None)  # rebuilt with the session's tokens in it
        self._session = _Session(did, access, refresh)
        self.count("sessions", 1)
        return self._session

    def account_did(self) -> str | None:
        """The account's DID: its external id if it is one, else the session's."""
        if self.actor.startswith("did:"):
            return self.actor
        return self._session.did if self._session else None

    def classify_xrpc(self, response: httpx.Response, payload: Any) -> Classification:
        """What an XRPC answer means. An expired session is dropped and the request asked again
        (the retry signs in anew)."""
        status = response.status_code
        error = payload.get("error") if isinstance(payload, dict) else None
        if status < 400 and error is None:
            return Classification(Verdict.OK)
        message = payload.get("message") if isinstance(payload, dict) else None
        detail = (f"XRPC error {one_line(str(error), 60)} (HTTP {status}): "
                  f"{one_line(str(message or ''), 200)}" if error else f"HTTP {status}")
        if status == 429 or error == "RateLimitExceeded":
            return Classification(Verdict.RATE_LIMITED, wait=reset_wait(response, self.now()),
                                  detail=detail)
        if error == "ExpiredToken" and self._sent_session_token(response):
            self._session = None
            return Classification(Verdict.TRANSIENT, detail="the session expired; signing in again")
        if error in AUTH_ERRORS or error == "ExpiredToken" or status in (401, 403):
            return Classification(Verdict.AUTH, detail=detail)
        if error in NOT_FOUND_ERRORS:
            return Classification(Verdict.NOT_FOUND, detail=detail)
        if status >= 500 or status == 408:
            return Classification(Verdict.TRANSIENT, detail=detail)
        return Classification(classify_http(response).verdict if not error else Verdict.FATAL,
                              detail=detail)

    def _sent_session_token(self, response: httpx.Response) -> bool:
        """Did the answered request carry a token of one of our sessions?"""
        try:
            sent = response.request.headers.get("Authorization", "")
        except RuntimeError:  # a response built without its request
            return False
        return sent.removeprefix("Bearer ") in self._tokens

    def usage_wait(self, response: httpx.Response) -> float:
        """Wait for the window to reset once ``RateLimit-Remaining`` says nothing is left."""
        remaining = response.headers.get("RateLimit-Remaining")
        if remaining is None or remaining.strip() not in ("0", "-0"):
            return 0.0
        return reset_wait(response, self.now()) or 0.0

    # -- look-ups and the profile ----------------------------------------------------------

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Present, Gone or Unknown. The account's own post is asked of its repository
        (``getRecord`` answers ``RecordNotFound`` while ``describeRepo`` still reads); anyone
        else's, whose repository lives on another host, of the AppView (``getPostThread``
        answers ``NotFound`` while the account's profile still reads)."""
        parts = ref.external_id.removeprefix("at://").split("/")
        if not ref.external_id.startswith("at://") or len(parts) != 3:
            return Unknown(f"{self.platform}: {ref.external_id!r} is not an at:// URI")
        try:
            own = parts[0] == (self.account_did() or self._sign_in().did)
        except ConnectorError as exc:
            return Unknown(self.scrub(str(exc)))
        if own:
            probe = PageRequest(self.xrpc("com.atproto.repo.getRecord"), {
                "repo": parts[0], "collection": parts[1], "rkey": parts[2]})
            check = PageRequest(self.xrpc("com.atproto.repo.describeRepo"), {"repo": parts[0]})
            return self._confirm_gone(ref, probe, "RecordNotFound", check)
        probe = PageRequest(self.xrpc("app.bsky.feed.getPostThread"),
                            {"uri": ref.external_id, "depth": "0", "parentHeight": "0"})
        check = PageRequest(self.xrpc("app.bsky.actor.getProfile"), {"actor": self.actor})
        return self._confirm_gone(ref, probe, "NotFound", check)

    def _confirm_gone(self, ref: ItemRef, probe: PageRequest, error: str,
                      check: PageRequest) -> LookupResult:
        """Gone only when ``probe`` answers the XRPC ``error`` and ``check`` still reads."""
        try:
            self.fetch(probe, self.classify_xrpc)
            return Present()
        except ObjectNotFound as nf:
            body = nf.body if isinstance(nf.body, dict) else {}
            if body.get("error") != error:
                return Unknown(self.scrub(str(nf)))
            not_found = nf
        except ConnectorError as exc:
            return Unknown(self.scrub(str(exc)))
        try:
            checked = self.fetch(check, self.classify_xrpc)
        except ConnectorError as exc:
            return Unknown(self.scrub(
                f"{self.platform}: {ref.external_id} answered {error} but "
                f"{check.path} cannot be read, so the answer proves nothing ({exc})"))
        return Gone(evidence={
            "platform": self.platform,
            "request": f"GET {probe.path}?{urlencode(probe.params)}",
            "http_status": not_found.status,
            "response": not_found.body,
            "account_check": {"request": f"GET {check.path}?{urlencode(check.params)}",
                              "http_status": checked.response.status_code},
            "checked_at": self.now().astimezone(UTC).isoformat(),
        })

    def profile(self) -> Profile:
        """The account's display name and description (its bio) from
        ``app.bsky.actor.getProfile`` (https://docs.bsky.app/docs/api/app-bsky-actor-get-profile);
        its address is ``https://bsky.app/profile/<handle>``."""
        request = PageRequest(self.xrpc("app.bsky.actor.getProfile"), {"actor": self.actor})
        raw = self.read_object(request, self.classify_xrpc)
        handle = raw.get("handle")
        url = f"https://bsky.app/profile/{quote(handle, safe='')}" if isinstance(
            handle, str) and handle else None
        return Profile(self.platform, self.actor,
                       tuple(text_fields(raw, ("displayName", "description"))), url=url,
                       requests=(f"GET {request.path}?actor={self.actor}",), raw=raw)
