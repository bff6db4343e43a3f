"""X (Twitter) account connector (X API v2).

Followed:

* User Post timeline ``GET /2/users/:id/tweets`` (``max_results`` 5-100, ``pagination_token``,
  ``exclude``; latest 3,200 only; always the most recent edit with its history):
  https://docs.x.com/x-api/x-api-v2/tweets/timelines and
  https://developer.x.com/en/docs/x-api/tweets/timelines/migrate/standard-to-twitter-api-v2
* Conversations ``GET /2/tweets/search/recent?query=conversation_id:<id>`` (last 7 days,
  ``next_token``): https://developer.x.com/en/docs/twitter-api/conversation-id
* Edits (new id per edit, ``edit_history_tweet_ids`` oldest first, deleting one version deletes
  the chain): https://developer.x.com/en/docs/x-api/edit-tweets
* Post look-up ``GET /2/tweets?ids=`` (200 with ``errors`` for missing ids), rate limits
  (``x-rate-limit-*`` headers, 429 bodies, usage cap) and error shapes: platform-apis.md §3.
* Hidden replies (``PUT /2/tweets/:id/hidden``) are not exposed on the read side
  (https://docs.x.com/x-api/posts/hide-replies/quickstart), so the moderation this connector can
  see is ``withheld`` (status ``hidden``, platform_status ``"withheld"``).

Reposts, quotes and long posts: a repost's ``text`` is X's shortened ``RT @handle: ...`` and a
post longer than 280 characters shows only its start in ``text``; the whole text is the
``note_tweet.text`` field (https://docs.x.com/x-api/fundamentals/data-dictionary#tweet,
https://docs.x.com/x-api/posts/lookup/introduction) and the post a repost or quote refers to comes
with ``expansions=referenced_tweets.id`` in ``includes.tweets``, its author with
``referenced_tweets.id.author_id`` (https://docs.x.com/x-api/fundamentals/expansions). A repost's
text is stored as ``RT @handle: <the whole original>``, a quote's as its own text followed by
``Quoting @handle: <the whole quoted post>``, and the referenced posts as X gave them are kept
in the record's payload under ``referenced_posts``. When X leaves the referenced post out (deleted,
protected), the text X gave is kept as it is.

Normalization: the account's own top-level posts (``exclude=replies``; retweets kept) are
``post`` items in scope ``""``. Every post of a conversation found by search is a ``comment``
(replying to the root post) or a ``reply`` (replying to another reply), in the scope of the root
post. Item identity is the *first* id of ``edit_history_tweet_ids``: a newer edit id updates that
item (the text of the newest version; its ``created_at`` becomes ``updated_at``, the item's
``created_at`` is read from the first id, a snowflake).

"A direct look-up confirms it is gone" means: ``GET /2/tweets?ids=<id>`` answers 200 with an
``errors`` entry for that id whose title is "Not Found Error" (type ``.../resource-not-found``),
**and** ``GET /2/users/<account>`` still reads (so a suspended or unreachable account is never
taken for deletions). The error object is the evidence. "Authorization Error" (protected or
suspended authors) and anything else is Unknown.

Rate limits: when ``x-rate-limit-remaining`` reaches 0 we sleep (injected ``sleep``) until
``x-rate-limit-reset``; a 429 waits until the reset too (both body shapes). A 429
``UsageCapExceeded`` (the monthly cap) is never retried: it fails with one clear line.

Completeness: search/recent sees 7 days only, so a conversation's listing is declared complete
only for root posts younger than that window (an hour's margin); conversations up to
``CONVERSATION_READ_DAYS`` old are still read for new replies. The timeline's 3,200-post cap
makes a timeline that reached it incomplete (older posts are not gone, just out of reach).

Incremental capture: X documents no conditional requests. ``since_id`` only finds *new* ids (new
posts and edits) and says nothing of deletions or moderation, and the base gives connectors no
bookmark between runs, so each run reads the timeline in full, at ``max_results=100`` to keep
the count of requests low (a second capture of an unchanged account costs one timeline page per
100 posts plus one search per recent conversation).

Direct messages (``GET /2/dm_events``, a user-context token only):
:mod:`archiver.connectors.x_messages`.

The token (an OAuth 2.0 Bearer token) goes only in the ``Authorization`` header.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from archiver.connectors.base import (
    Classification,
    CursorPaging,
    PageRequest,
    Verdict,
    classify_http,
    decode_json,
    one_line,
)
from archiver.connectors.errors import ConnectorError, MalformedResponse
from archiver.connectors.profiles import Profile, ProfileField, text_fields
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
from archiver.connectors.streams import Completeness, Context, TreeConnector, TreeStream
from archiver.connectors.x_messages import DmEventsStream

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.x.com"
TWEET_FIELDS = (
    "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,"
    "edit_history_tweet_ids,attachments,withheld,note_tweet"
)
EXPANSIONS = "author_id,attachments.media_keys,referenced_tweets.id,referenced_tweets.id.author_id"
USER_FIELDS = "name,username"
MEDIA_FIELDS = "url,preview_image_url,type,variants"
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"
TIMELINE_CAP = 3200
SEARCH_WINDOW = timedelta(days=7) - timedelta(hours=1)
CONVERSATION_READ_DAYS = 30
_SNOWFLAKE_EPOCH_MS = 1288834974657


def _opt(item: dict[str, Any], key: str, kind: type, path: str) -> Any:
    value = item.get(key)
    if value is not None and not isinstance(value, kind):
        raise MalformedResponse(f"response from {path}: field {key!r} has the wrong type")
    return value


def _objects(value: Any, path: str, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise MalformedResponse(f"response from {path}: {what} is not a list of objects")
    return value


def parse_x_time(value: Any, path: str) -> datetime | None:
    """``"2024-04-16T15:58:10.000Z"`` → aware UTC datetime (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponse(f"response from {path}: a timestamp is not a string")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise MalformedResponse(f"response from {path}: unreadable timestamp") from None


def snowflake_time(post_id: str) -> datetime | None:
    """The creation time encoded in an X id (None for ids that are not snowflakes)."""
    try:
        ms = (int(post_id) >> 22) + _SNOWFLAKE_EPOCH_MS
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def edit_history(tweet: dict[str, Any], path: str) -> list[str]:
    """``edit_history_tweet_ids`` (oldest first), or just the id for posts without one."""
    tid = tweet.get("id")
    if not isinstance(tid, str) or not tid:
        raise MalformedResponse(f"response from {path}: a post without an id")
    history = tweet.get("edit_history_tweet_ids")
    if history is None:
        return [tid]
    if (not isinstance(history, list) or not history
            or not all(isinstance(x, str) and x for x in history)):
        raise MalformedResponse(f"response from {path}: edit_history_tweet_ids is not a list")
    return history


def _replied_to(tweet: dict[str, Any], path: str) -> str | None:
    for ref in _objects(tweet.get("referenced_tweets"), path, "referenced_tweets"):
        if ref.get("type") == "replied_to":
            rid = ref.get("id")
            if not isinstance(rid, str):
                raise MalformedResponse(f"response from {path}: a reference without an id")
            return rid
    return None


def _is_retweet(tweet: dict[str, Any], path: str) -> bool:
    return any(r.get("type") == "retweeted"
               for r in _objects(tweet.get("referenced_tweets"), path, "referenced_tweets"))


def full_text(tweet: dict[str, Any], path: str) -> str | None:
    """The whole text of a post: ``note_tweet.text`` for a long post, else ``text``."""
    note = _opt(tweet, "note_tweet", dict, path)
    if note is not None and isinstance(note.get("text"), str):
        return str(note["text"])
    return _opt(tweet, "text", str, path)


class Page:
    """One decoded X listing page: its posts and the ``includes`` they point at."""

    def __init__(self, payload: Any, path: str) -> None:
        if not isinstance(payload, dict):
            raise MalformedResponse(f"response from {path}: expected a JSON object")
        self.path = path
        self.tweets = _objects(payload.get("data"), path, "data")
        errors = _objects(payload.get("errors"), path, "errors")
        if "data" not in payload and "meta" not in payload and errors:
            first = errors[0]
            raise ConnectorError(
                f"x: GET {path}: {one_line(str(first.get('title', 'error')), 80)}: "
                f"{one_line(str(first.get('detail', first.get('message', ''))), 200)}"
            )
        includes = payload.get("includes") or {}
        if not isinstance(includes, dict):
            raise MalformedResponse(f"response from {path}: includes is not an object")
        self.users = {u.get("id"): u for u in _objects(includes.get("users"), path, "users")}
        self.media = {m.get("media_key"): m for m in _objects(includes.get("media"), path, "media")}
        self.included = {t["id"]: t for t in _objects(includes.get("tweets"), path, "tweets")
                         if isinstance(t.get("id"), str)}

    def handle(self, tweet: dict[str, Any]) -> str | None:
        """The ``@username`` of a post's author, when ``includes.users`` names it."""
        author = tweet.get("author_id")
        username = (self.users.get(author) or {}).get("username") if isinstance(author, str) \
            else None
        return username if isinstance(username, str) else None

    def referenced(self, tweet: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The reposted or quoted posts that ``includes.tweets`` holds, with their kind."""
        found: list[tuple[str, dict[str, Any]]] = []
        for ref in _objects(tweet.get("referenced_tweets"), self.path, "referenced_tweets"):
            rid = ref.get("id")
            other = self.included.get(rid) if isinstance(rid, str) else None
            if ref.get("type") in ("retweeted", "quoted") and other is not None:
                found.append((str(ref["type"]), other))
        return found

    def text_of(self, tweet: dict[str, Any]) -> str | None:
        """A post's whole text, a repost's or quote's with the whole post it refers to."""
        text = full_text(tweet, self.path)
        for kind, other in self.referenced(tweet):
            whole = full_text(other, self.path) or ""
            who = self.handle(other)
            if kind == "retweeted":
                text = f"RT @{who}: {whole}" if who else f"RT: {whole}"
            else:
                quoting = f"Quoting @{who}" if who else "Quoting"
                text = f"{text or ''}\n\n{quoting}: {whole}"
        return text

    def author(self, tweet: dict[str, Any]) -> tuple[str | None, str | None]:
        author_id = _opt(tweet, "author_id", str, self.path)
        user = self.users.get(author_id) or {}
        name, handle = user.get("name"), user.get("username")
        if isinstance(name, str) and isinstance(handle, str):
            return f"{name} (@{handle})", author_id
        return (handle if isinstance(handle, str) else None), author_id

    def media_of(self, tweet: dict[str, Any]) -> tuple[MediaRef, ...]:
        att = _opt(tweet, "attachments", dict, self.path) or {}
        keys = _objects([{"k": k} for k in att.get("media_keys") or []], self.path, "media_keys")
        refs: list[MediaRef] = []
        for entry in keys:
            m = self.media.get(entry["k"])
            if not isinstance(m, dict):
                continue
            kind = m.get("type") if isinstance(m.get("type"), str) else None
            url = m.get("url")
            if not isinstance(url, str):
                variants = [v for v in _objects(m.get("variants"), self.path, "variants")
                            if isinstance(v.get("url"), str)]
                best = max(variants, key=lambda v: v.get("bit_rate") or 0, default=None)
                url = best["url"] if best else m.get("preview_image_url")
            if isinstance(url, str):
                refs.append(MediaRef(url=url, media_type=kind))
        return tuple(refs)


def tweet_record(
    tweet: dict[str, Any], page: Page, *, kind: ItemKind, scope: str, parent: str | None
) -> Record:
    """One X post → a :class:`Record` whose identity is its first edit-history id."""
    path = page.path
    history = edit_history(tweet, path)
    first = history[0]
    withheld = _opt(tweet, "withheld", dict, path)
    created = parse_x_time(tweet.get("created_at"), path)
    edited = len(history) > 1
    name, author_id = page.author(tweet)
    text = page.text_of(tweet)
    referenced = [other for _, other in page.referenced(tweet)]
    handle = (page.users.get(author_id) or {}).get("username")
    latest = tweet["id"]
    url = (f"https://x.com/{handle}/status/{latest}" if isinstance(handle, str)
           else f"https://x.com/i/web/status/{latest}")
    return Record(
        external_id=first,
        kind=kind,
        scope=scope,
        text=text,
        status=ItemStatus.HIDDEN if withheld else ItemStatus.ACTIVE,
        platform_status="withheld" if withheld else "published",
        author_name=name,
        author_id=author_id,
        created_at=(snowflake_time(first) or created) if edited else created,
        updated_at=created if edited else None,
        url=url,
        raw={**tweet, "referenced_posts": referenced} if referenced else tweet,
        parent_external_id=parent,
        media=page.media_of(tweet),
    )


def parse_timeline_body(body: bytes, path: str = "/2/users/1/tweets") -> list[Record]:
    """Raw timeline bytes → post records. Any bad input ends in a ConnectorError."""
    page = Page(decode_json(body, path), path)
    return [tweet_record(t, page, kind=ItemKind.POST, scope=ROOT_SCOPE, parent=None)
            for t in page.tweets]


def classify_x(response: httpx.Response, payload: Any, now: datetime) -> Classification:
    """What an X answer means; a 429 waits for ``x-rate-limit-reset``, a usage cap is fatal."""
    status = response.status_code
    if status < 400:
        return Classification(Verdict.OK)
    body = payload if isinstance(payload, dict) else {}
    title = str(body.get("title") or "")
    detail = str(body.get("detail") or "")
    errors = body.get("errors")
    if not title and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        title = f"error {errors[0].get('code')}"
        detail = str(errors[0].get("message") or "")
    text = one_line(f"HTTP {status} {title}: {detail}".strip(": "), 200)
    if status == 429:
        if title == "UsageCapExceeded" or str(body.get("type", "")).endswith("/usage-capped"):
            return Classification(
                Verdict.FATAL,
                detail=f"the API usage cap is exhausted ({text}); not retried until it resets",
            )
        return Classification(Verdict.RATE_LIMITED, wait=reset_wait(response, now), detail=text)
    verdict = classify_http(response).verdict
    return Classification(verdict, detail=text)


def reset_wait(response: httpx.Response, now: datetime) -> float | None:
    """Seconds until ``x-rate-limit-reset`` (+1 for clock skew), None without the header."""
    try:
        reset = float(response.headers["x-rate-limit-reset"])
    except (KeyError, ValueError):
        return None
    return max(1.0, reset - now.timestamp() + 1)


def _older_edit(newest: dict[str, int], tweet: dict[str, Any], path: str) -> bool:
    """True when a newer version of this post was already read in this listing."""
    history = edit_history(tweet, path)
    first, position = history[0], len(history)
    if newest.get(first, 0) >= position:
        return True
    newest[first] = position
    return False


@dataclass(frozen=True)
class TimelinePost:
    """A timeline post and whether it is a retweet (whose replies belong to the original)."""

    record: Record
    retweet: bool


class _XStream(TreeStream["XConnector"]):
    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return classify_x(response, payload, self.connector.now())


class TimelineStream(_XStream):
    """``GET /2/users/:id/tweets``: the account's posts, newest first (the newest edit of each).
    X serves the latest 3,200 only: a timeline that reaches the cap is not a complete listing."""

    paging = CursorPaging(("meta", "next_token"), "pagination_token")

    def __init__(self, connector: XConnector, context: Context) -> None:
        super().__init__(connector, context)
        self.newest: dict[str, int] = {}
        self.count = 0

    def first_request(self) -> PageRequest:
        size = min(self.connector.config.page_size or 100, 100)
        user = quote(self.connector.user_id, safe="")
        return PageRequest(f"{self.connector.api_base}/2/users/{user}/tweets",
                           {**_common_params(max(size, 5)), "exclude": "replies"})

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        page = Page(payload, request.path)
        posts: list[TimelinePost] = []
        for tweet in page.tweets:
            self.count += 1
            record = tweet_record(tweet, page, kind=ItemKind.POST, scope=ROOT_SCOPE, parent=None)
            if not _older_edit(self.newest, tweet, page.path):
                posts.append(TimelinePost(record, _is_retweet(tweet, page.path)))
        return posts

    def records(self, entry: Any) -> Iterable[Record]:
        return (entry.record,)

    def completeness(self) -> Completeness:
        if self.count < TIMELINE_CAP:
            return Completeness.COMPLETE
        self.connector.stats.extra["timeline_capped"] = 1
        log.warning("x: the timeline reached X's %d-post cap; not a complete listing",
                    TIMELINE_CAP)
        return Completeness.PARTIAL


class ConversationStream(_XStream):
    """``GET /2/tweets/search/recent?query=conversation_id:<id>``: the replies under one post.

    Read for posts up to ``CONVERSATION_READ_DAYS`` old (any age when a caller asks for the
    scope); complete only inside the search window."""

    paging = CursorPaging(("meta", "next_token"), "next_token")
    parent_stream_type = TimelineStream

    def __init__(self, connector: XConnector, context: Context) -> None:
        super().__init__(connector, context)
        self.root = str(context["root"])
        self.age = _age(connector, context)

    @classmethod
    def child_context(cls, parent: TreeStream[Any], entry: Any) -> Context | None:
        if entry.retweet:  # a retweet's replies belong to the original post
            return None
        return {"root": entry.record.external_id, "root_created": entry.record.created_at,
                "force": False}

    @classmethod
    def scope_contexts(cls, scopes: Sequence[str]) -> list[Context]:
        return [{"root": s, "root_created": snowflake_time(s), "force": True} for s in scopes]

    @classmethod
    def open(cls, connector: XConnector, context: Context) -> Sequence[ConversationStream]:
        if not context["force"] and _age(connector, context) > timedelta(
                days=CONVERSATION_READ_DAYS):
            return ()
        return (cls(connector, context),)

    @property
    def scopes(self) -> tuple[str, ...]:
        return (self.root,)

    def first_request(self) -> PageRequest:
        size = max(10, min(self.connector.config.page_size or 100, 100))
        return PageRequest(f"{self.connector.api_base}/2/tweets/search/recent",
                           {**_common_params(size), "query": f"conversation_id:{self.root}"})

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [Page(payload, request.path)]

    def entries(self, pages: Iterator[list[Any]]) -> Iterator[list[Any]]:
        """One batch: a reply's parent may be any version of a post on any page."""
        read: list[Page] = [page for (page,) in pages]
        # Ids of every version map to the item id, so a reply to an edited post finds its parent.
        ident = {self.root: self.root}
        for page in read:
            for tweet in page.tweets:
                history = edit_history(tweet, page.path)
                ident.update({vid: history[0] for vid in history})
        newest: dict[str, int] = {}
        records: list[Record] = []
        for page in read:
            for tweet in page.tweets:
                history = edit_history(tweet, page.path)
                if history[0] == self.root or _older_edit(newest, tweet, page.path):
                    continue
                target = _replied_to(tweet, page.path)
                parent = ident.get(target, target) if target else self.root
                records.append(tweet_record(
                    tweet, page, kind=ItemKind.COMMENT if parent == self.root else ItemKind.REPLY,
                    scope=self.root, parent=parent))
        yield records

    def completeness(self) -> Completeness:
        if self.age <= SEARCH_WINDOW:
            return Completeness.COMPLETE
        extra = self.connector.stats.extra
        extra["conversations_outside_window"] = extra.get("conversations_outside_window", 0) + 1
        return Completeness.PARTIAL


def _age(connector: XConnector, context: Context) -> timedelta:
    created = context["root_created"]
    return connector.now() - created if created else timedelta(0)


def _common_params(page_size: int) -> dict[str, str]:
    return {"max_results": str(page_size), "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS, "user.fields": USER_FIELDS, "media.fields": MEDIA_FIELDS}


class XConnector(TreeConnector):
    """Reads an X account's posts and the conversations under them; looks posts up by id."""

    platform: ClassVar[Platform] = Platform.X
    default_api_base: ClassVar[str] = DEFAULT_API_BASE
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (
        TimelineStream, ConversationStream, DmEventsStream)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._account_ok: int | None = None  # HTTP status of a successful account check

    @property
    def user_id(self) -> str:
        """The account's numeric user id (the account's external id)."""
        return self.config.account_external_id

    def usage_wait(self, response: httpx.Response) -> float:
        """Sleep until the window resets once ``x-rate-limit-remaining`` reaches 0."""
        if response.headers.get("x-rate-limit-remaining") != "0":
            return 0.0
        wait = reset_wait(response, self.now())
        if wait:
            self.stats.rate_limited += 1
            log.info("x: rate-limit window spent; waiting %.0fs for its reset", wait)
        return wait or 0.0

    # -- look-ups ------------------------------------------------------------------------

    def classify_answer(self, response: httpx.Response, payload: Any) -> Classification:
        """What an X answer means (:func:`classify_x` on the connector's clock)."""
        return classify_x(response, payload, self.now())

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Present, Gone ("Not Found Error" while the account still reads) or Unknown."""
        request = PageRequest(f"{self.api_base}/2/tweets", {"ids": ref.external_id,
                                                            "tweet.fields": "id"})
        try:
            fetched = self.fetch(request, self.classify_answer)
            payload = fetched.payload
            if not isinstance(payload, dict):
                raise MalformedResponse(f"x: response from {request.path} is not an object")
            data = _objects(payload.get("data"), request.path, "data")
            errors = _objects(payload.get("errors"), request.path, "errors")
        except ConnectorError as exc:
            return Unknown(self.scrub(str(exc)))
        if any(d.get("id") == ref.external_id for d in data):
            return Present()
        mine = [e for e in errors if e.get("value") == ref.external_id
                or e.get("resource_id") == ref.external_id]
        gone = [e for e in mine if e.get("title") == "Not Found Error"
                or e.get("type") == NOT_FOUND_TYPE]
        if not gone:
            why = one_line(str(mine[0].get("title") if mine else "no answer for that id"), 100)
            return Unknown(self.scrub(f"x: look-up of {ref.external_id} was not decisive: {why}"))
        account_status = self._account_check()
        if isinstance(account_status, str):
            return Unknown(self.scrub(
                f"x: {ref.external_id} was not found but the account itself cannot be read, "
                f"so it may be a suspension or permission change ({account_status})"))
        return Gone(evidence={
            "platform": Platform.X,
            "request": f"GET {request.path}?ids={ref.external_id}",
            "http_status": fetched.response.status_code,
            "error": gone[0],
            "account_check": {"request": f"GET /2/users/{self.user_id}",
                              "http_status": account_status},
            "checked_at": self.now().astimezone(UTC).isoformat(),
        })

    def _account_check(self) -> int | str:
        """The HTTP status of a successful ``GET /2/users/:id`` (once per run) or why it failed."""
        if self._account_ok is not None:
            return self._account_ok
        request = PageRequest(f"{self.api_base}/2/users/{quote(self.user_id, safe='')}")
        try:
            fetched = self.fetch(request, self.classify_answer)
        except ConnectorError as exc:
            return str(exc)
        data = fetched.payload.get("data") if isinstance(fetched.payload, dict) else None
        if not isinstance(data, dict) or data.get("id") != self.user_id:
            return "the account look-up returned no account"
        self._account_ok = fetched.response.status_code
        return self._account_ok

    # -- the account's own statements (additive: read by archiver.monitoring) -----------------

    def profile(self) -> Profile:
        """The account's ``description``, ``location`` and web address (its ``url`` expanded
        from ``entities.url``) from ``GET /2/users/:id``
        (https://docs.x.com/x-api/users/user-lookup-by-id)."""
        fields = "name,username,description,url,location,entities"
        request = PageRequest(f"{self.api_base}/2/users/{quote(self.user_id, safe='')}",
                              {"user.fields": fields})
        raw = self.read_object(request, self.classify_answer)
        data = raw.get("data")
        if not isinstance(data, dict):
            raise self._fail(ConnectorError, f"GET {request.path}: the account was not found")
        found = text_fields(data, ("description", "location"))
        urls = (data.get("entities") or {}).get("url", {}).get("urls") \
            if isinstance(data.get("entities"), dict) else None
        expanded = [u.get("expanded_url") for u in urls or [] if isinstance(u, dict)]
        website = next((u for u in expanded if isinstance(u, str)), None) or data.get("url")
        if isinstance(website, str) and website:
            found.append(ProfileField("url", website))
        username = data.get("username")
        return Profile(self.platform, self.user_id, tuple(found),
                       url=f"https://x.com/{quote(username, safe='')}"
                       if isinstance(username, str) and username else None,
                       requests=(f"GET {request.path}?user.fields={fields}",), raw=raw)
