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
    one_line,
)
from archiver.connectors.bluesky_parse import ThreadFacts, parse_feed_page, parse_thread
from archiver.connectors.errors import ConnectorError, MalformedResponse
from archiver.connectors.profiles import Profile, text_fields
from archiver.connectors.records import (
    Gone,
    ItemRef,
    LookupResult,
    Platform,
    Present,
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
AUTH_ERRORS = frozenset({"AuthenticationRequired", "InvalidToken", "AccountTakedown",
                         "AuthFactorTokenRequired", "AccountDeactivated"})
NOT_FOUND_ERRORS = frozenset({"NotFound", "RecordNotFound"})


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
