"""YouTube channel connector (YouTube Data API v3).

Followed:

* Uploads playlist: https://developers.google.com/youtube/v3/docs/channels/list
  (``contentDetails.relatedPlaylists.uploads``) and
  https://developers.google.com/youtube/v3/docs/playlistItems/list
* Comment threads: https://developers.google.com/youtube/v3/docs/commentThreads/list
  (``moderationStatus`` published|heldForReview|likelySpam, owner only; a thread "does not
  necessarily contain all replies")
* Replies and look-ups: https://developers.google.com/youtube/v3/docs/comments/list
  (``parentId``, ``id``); https://developers.google.com/youtube/v3/guides/implementation/comments
* Errors (quotaExceeded, rateLimitExceeded, commentsDisabled, commentNotFound, videoNotFound):
  https://developers.google.com/youtube/v3/docs/errors

Items: each upload is a ``post`` (scope ROOT); top-level comments are ``comment`` and replies
``reply``, both scoped to their video. Held-for-review and likely-spam comments are read with the
owner's token through one thread listing per moderation status and archived as ``hidden`` with
the platform's word in ``platform_status``. Edits show as a changed ``textOriginal`` (and
``updatedAt``, kept as ``updated_at``).

Limits: ``quotaExceeded`` ends the run at once with a clear error (the daily quota resets at
midnight Pacific time; waiting inside the run would hold the scheduler for hours), so nothing is
marked removed. ``rateLimitExceeded`` (403) and 429 are waited out through the injected sleep.

"A direct look-up confirms it is gone" here means: ``comments.list?id=…`` (or ``videos.list?id=…``
for an upload) answers 200 with the id absent from ``items``, or 404 commentNotFound/videoNotFound,
while the channel itself still reads (so a revoked token or a vanished channel is Unknown).

Credentials: the owner's OAuth token goes in ``Authorization: Bearer``. An API key (public data
only: no held or spam comments) is accepted as a token written ``key:<api key>``; the API takes a
key only as the ``key`` query parameter, so it is added by a transport *after* httpx has built
the request it logs, and never appears in a URL we log, store or show.

Incremental capture: the API has no "changed since" filter for comments or playlist items; every
run reads the listings again (comment listings for older videos are the scheduler's choice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from archiver.connectors.base import (
    Classification,
    ConnectorConfig,
    CursorPaging,
    ObjectNotFound,
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
from archiver.connectors.streams import (
    Completeness,
    Context,
    Entry,
    EntryRestStream,
    RecordChildStream,
    TreeConnector,
    TreeStream,
)

DEFAULT_API_BASE = "https://www.googleapis.com/youtube/v3"
KEY_PREFIX = "key:"
MODERATION_STATUSES = ("published", "heldForReview", "likelySpam")
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
AUTH_REASONS = frozenset(
    {"authError", "forbidden", "insufficientPermissions", "keyInvalid", "keyExpired"}
)
NOT_FOUND_REASONS = frozenset(
    {"commentNotFound", "videoNotFound", "channelNotFound", "playlistNotFound", "notFound"}
)


def parse_yt_time(value: Any, path: str) -> datetime | None:
    """RFC 3339 (``2024-05-01T10:00:00Z``) → aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponse(f"response from {path}: a timestamp is not a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedResponse(f"response from {path}: unreadable timestamp") from None
    if parsed.tzinfo is None:
        raise MalformedResponse(f"response from {path}: timestamp without a time zone")
    return parsed.astimezone(UTC)


def _obj(value: Any, what: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedResponse(f"response from {path}: {what} is not an object")
    return value


def _str(d: dict[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = d.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise MalformedResponse(f"response from {path}: field {key!r} is missing or not a string")
    return value


def items_of(payload: Any, path: str) -> list[dict[str, Any]]:
    """``payload["items"]`` as a list of objects (an absent list is an empty one)."""
    items = _obj(payload, "the response", path).get("items", [])
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise MalformedResponse(f"response from {path}: 'items' is not a list of objects")
    return items


def video_record(item: dict[str, Any], path: str) -> Record:
    """A ``youtube#playlistItem`` of the uploads playlist → a ``post`` record."""
    snippet = _obj(item.get("snippet"), "snippet", path)
    details = _obj(item.get("contentDetails", {}), "contentDetails", path)
    resource = _obj(snippet.get("resourceId", {}), "resourceId", path)
    video_id = _str(details, "videoId", path) or _str(resource, "videoId", path, required=True)
    assert video_id is not None
    title = _str(snippet, "title", path) or ""
    description = _str(snippet, "description", path) or ""
    thumbs = _obj(snippet.get("thumbnails", {}), "thumbnails", path)
    media: list[MediaRef] = []
    for size in ("maxres", "high", "medium", "default"):
        if size in thumbs:
            url = _str(_obj(thumbs[size], "thumbnail", path), "url", path)
            if url:
                media.append(MediaRef(url, "image"))
            break
    published = details.get("videoPublishedAt", snippet.get("publishedAt"))
    return Record(
        external_id=video_id,
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text=f"{title}\n\n{description}".strip(),
        status=ItemStatus.ACTIVE,
        platform_status="published",
        author_name=_str(snippet, "channelTitle", path),
        author_id=_str(snippet, "channelId", path),
        created_at=parse_yt_time(published, path),
        updated_at=None,
        url=f"https://www.youtube.com/watch?v={video_id}",
        raw=item,
        media=tuple(media),
    )


def comment_record(item: dict[str, Any], video_id: str, path: str) -> Record:
    """A ``youtube#comment`` (top-level or reply) → a ``comment``/``reply`` record."""
    comment_id = _str(item, "id", path, required=True)
    assert comment_id is not None
    snippet = _obj(item.get("snippet"), "comment snippet", path)
    parent = _str(snippet, "parentId", path)
    moderation = _str(snippet, "moderationStatus", path) or "published"
    author = snippet.get("authorChannelId")
    author_id = _str(author, "value", path) if isinstance(author, dict) else None
    text = _str(snippet, "textOriginal", path)
    if text is None:
        text = _str(snippet, "textDisplay", path)
    return Record(
        external_id=comment_id,
        kind=ItemKind.REPLY if parent else ItemKind.COMMENT,
        scope=video_id,
        text=text,
        status=ItemStatus.ACTIVE if moderation == "published" else ItemStatus.HIDDEN,
        platform_status=moderation,
        author_name=_str(snippet, "authorDisplayName", path),
        author_id=author_id,
        created_at=parse_yt_time(snippet.get("publishedAt"), path),
        updated_at=parse_yt_time(snippet.get("updatedAt"), path),
        url=f"https://www.youtube.com/watch?v={video_id}&lc={comment_id}",
        raw=item,
        parent_external_id=parent or video_id,
    )


def thread_records(item: dict[str, Any], video_id: str, path: str) -> tuple[list[Record], int]:
    """A ``youtube#commentThread`` → (its comment + inline replies, ``totalReplyCount``)."""
    snippet = _obj(item.get("snippet"), "thread snippet", path)
    top = comment_record(
        _obj(snippet.get("topLevelComment"), "topLevelComment", path), video_id, path
    )
    records = [top]
    replies = item.get("replies")
    if replies is not None:
        listed = _obj(replies, "replies", path).get("comments", [])
        if not isinstance(listed, list):
            raise MalformedResponse(f"response from {path}: 'replies.comments' is not a list")
        records += [comment_record(_obj(r, "reply", path), video_id, path) for r in listed]
    total = snippet.get("totalReplyCount", 0)
    if not isinstance(total, int) or isinstance(total, bool):
        raise MalformedResponse(f"response from {path}: 'totalReplyCount' is not a number")
    return records, total


def parse_threads_body(
    body: bytes, video_id: str = "v", path: str = "/commentThreads"
) -> list[Record]:
    """Raw commentThreads bytes → records. Any bad input ends in a :class:`ConnectorError`."""
    payload = decode_json(body, path)
    out: list[Record] = []
    for thread in items_of(payload, path):
        out += thread_records(thread, video_id, path)[0]
    token = payload.get("nextPageToken") if isinstance(payload, dict) else None
    if token is not None and not isinstance(token, str):
        raise MalformedResponse(f"response from {path}: page token is not a string")
    return out


def error_reason(payload: Any) -> tuple[str | None, str]:
    """(first ``errors[].reason``, ``error.message``) of a Google API error body."""
    err = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(err, dict):
        return None, ""
    message = str(err.get("message", ""))
    errors = err.get("errors")
    if isinstance(errors, list):
        for e in errors:
            if isinstance(e, dict) and isinstance(e.get("reason"), str):
                return e["reason"], message
    return None, message


def classify_youtube(response: httpx.Response, payload: Any) -> Classification:
    """What a YouTube answer means (by ``errors[].reason`` first, then the HTTP status)."""
    if response.status_code < 400:
        return Classification(Verdict.OK)
    reason, message = error_reason(payload)
    detail = f"HTTP {response.status_code} {reason or ''}: {one_line(message, 200)}".strip()
    if reason in QUOTA_REASONS:
        return Classification(
            Verdict.FATAL,
            detail=f"the API project's daily quota is used up ({reason}); it resets at midnight "
            "Pacific time, capture again then",
        )
    if reason in RATE_REASONS or response.status_code == 429:
        return Classification(Verdict.RATE_LIMITED, detail=detail)
    if reason in AUTH_REASONS or response.status_code == 401:
        return Classification(Verdict.AUTH, detail=detail)
    if reason in NOT_FOUND_REASONS or reason == "commentsDisabled":
        return Classification(Verdict.NOT_FOUND, detail=detail)
    if reason in ("backendError", "internalError"):
        return Classification(Verdict.TRANSIENT, detail=detail)
    base = classify_http(response)
    return Classification(base.verdict, detail=detail)


def thread_entry(item: dict[str, Any], video_id: str, path: str) -> Entry:
    """A ``youtube#commentThread`` → its top-level comment and inline replies, ``truncated``
    when ``totalReplyCount`` says the thread shows only some of them."""
    records, total = thread_records(item, video_id, path)
    return Entry(records[0], tuple(records[1:]), truncated=total > len(records) - 1)


class _YtStream(TreeStream["YouTubeConnector"]):
    paging = CursorPaging(("nextPageToken",), "pageToken")
    page_max: ClassVar[int]

    def size(self) -> str:
        return str(min(self.page_max, self.connector.config.page_size or self.page_max))

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return classify_youtube(response, payload)


class UploadsStream(_YtStream):
    """``playlistItems.list`` of the channel's uploads playlist."""

    page_max = 50

    def first_request(self) -> PageRequest:
        return PageRequest(
            f"{self.connector.api_base}/playlistItems",
            {
                "part": "snippet,contentDetails",
                "playlistId": self.connector.uploads_playlist(),
                "maxResults": self.size(),
            },
        )

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [video_record(i, request.path) for i in items_of(payload, request.path)]


class ThreadsStream(_YtStream, RecordChildStream["YouTubeConnector"]):
    """``commentThreads.list`` of one video in one moderation status: the three statuses
    together are the video's comment listing (only ``published`` is visible to an API key,
    and then the listing is never whole). Comments disabled or the video gone mid-run leave
    the listing incomplete."""

    page_max = 100
    parent_stream_type = UploadsStream
    gone_counter = "listings_skipped"

    @classmethod
    def open(cls, connector: YouTubeConnector, context: Context) -> Sequence[ThreadsStream]:
        statuses = ("published",) if connector.api_key else MODERATION_STATUSES
        return [cls(connector, {**context, "moderation": status}) for status in statuses]

    def first_request(self) -> PageRequest:
        params = {
            "part": "snippet,replies",
            "videoId": self.parent_id,
            "maxResults": self.size(),
            "textFormat": "plainText",
            "order": "time",
        }
        if self.context["moderation"] != "published":
            params["moderationStatus"] = str(self.context["moderation"])
        return PageRequest(f"{self.connector.api_base}/commentThreads", params)

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [thread_entry(t, self.parent_id, request.path)
                for t in items_of(payload, request.path)]

    def completeness(self) -> Completeness:
        # Held and spam comments are invisible to a key: the listing is not whole.
        return Completeness.PARTIAL if self.connector.api_key else Completeness.COMPLETE


class RepliesStream(_YtStream, EntryRestStream["YouTubeConnector"]):
    """``comments.list?parentId=…``: every reply of a thread that shows only some."""

    page_max = 100
    parent_stream_type = ThreadsStream

    def first_request(self) -> PageRequest:
        return PageRequest(
            f"{self.connector.api_base}/comments",
            {
                "part": "snippet",
                "parentId": self.entry_id,
                "maxResults": self.size(),
                "textFormat": "plainText",
            },
        )

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [comment_record(c, self.scope, request.path)
                for c in items_of(payload, request.path)]


class _KeyTransport(httpx.BaseTransport):
    """Adds ``key=…`` to the request actually sent, leaving httpx's logged request without it."""

    def __init__(self, key: str, inner: httpx.BaseTransport | None = None) -> None:
        self._key = key
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = httpx.Request(
            request.method,
            request.url.copy_merge_params({"key": self._key}),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return self._inner.handle_request(sent)

    def close(self) -> None:
        self._inner.close()


class YouTubeConnector(TreeConnector):
    """Reads a channel's uploads and every upload's comments (all moderation states)."""

    platform: ClassVar[Platform] = Platform.YOUTUBE
    default_api_base: ClassVar[str] = DEFAULT_API_BASE
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (
        UploadsStream, ThreadsStream, RepliesStream)

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] | None = None,
        **kwargs: Any,
    ) -> None:
        token = config.token or ""
        self.api_key = token[len(KEY_PREFIX) :] if token.startswith(KEY_PREFIX) else None
        if client is None and self.api_key:
            client = httpx.Client(transport=_KeyTransport(self.api_key), follow_redirects=False)
            own = True
        else:
            own = client is None
        options: dict[str, Any] = dict(kwargs)
        if sleep is not None:
            options["sleep"] = sleep
        super().__init__(config, client=client, now=now, **options)
        self._own_client = own
        self._uploads: str | None = None

    def auth_headers(self) -> dict[str, str]:
        """The OAuth token as Bearer; an API key travels through the transport instead."""
        return {} if self.api_key else super().auth_headers()

    def secrets(self) -> tuple[str, ...]:
        """The token (``key:…``) and the bare API key the transport sends."""
        return (*super().secrets(), *((self.api_key,) if self.api_key else ()))

    @property
    def channel_id(self) -> str:
        """The channel id (``UC…``), the account's external id."""
        return self.config.account_external_id

    def uploads_playlist(self) -> str:
        """``channels.list`` → the uploads playlist id (``UU…``)."""
        if self._uploads is None:
            request = PageRequest(
                f"{self.api_base}/channels", {"part": "contentDetails", "id": self.channel_id}
            )
            fetched = self.fetch(request, classify_youtube)
            items = items_of(fetched.payload, request.path)
            if not items:
                raise self._fail(ConnectorError, f"channel {self.channel_id} not found")
            related = _obj(
                _obj(items[0].get("contentDetails"), "contentDetails", request.path).get(
                    "relatedPlaylists"
                ),
                "relatedPlaylists",
                request.path,
            )
            uploads = _str(related, "uploads", request.path, required=True)
            assert uploads is not None
            self._uploads = uploads
        return self._uploads

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Present, Gone (absent from ``items`` or 404 while the channel reads) or Unknown."""
        resource = "videos" if ref.kind == ItemKind.POST else "comments"
        part = "snippet"
        request = PageRequest(f"{self.api_base}/{resource}", {"part": part, "id": ref.external_id})
        checked_at = self.now().isoformat()
        try:
            fetched = self.fetch(request, classify_youtube)
            items = items_of(fetched.payload, request.path)
            status, body = fetched.response.status_code, fetched.payload
        except ObjectNotFound as nf:
            items, status, body = [], nf.status, nf.body
        except ConnectorError as exc:
            return Unknown(str(exc))
        if any(i.get("id") == ref.external_id for i in items):
            return Present()
        try:
            self._uploads = None
            self.uploads_playlist()  # the channel still reads with this token
        except ConnectorError as exc:
            return Unknown(f"the channel itself does not read, so absence proves nothing: {exc}")
        return Gone(
            evidence={
                "platform": Platform.YOUTUBE,
                "request": f"GET {request.path}?part={part}&id={ref.external_id}",
                "http_status": status,
                "response": body,
                "channel_check": {
                    "request": "GET /channels?part=contentDetails",
                    "channel_id": self.channel_id,
                    "http_status": 200,
                },
                "checked_at": checked_at,
            }
        )

    # -- the channel's own statements (additive: read by archiver.monitoring) -----------------

    def profile(self) -> Profile:
        """The channel's ``snippet.description`` (and title, custom URL) and its branding
        description, from ``channels.list?part=snippet,brandingSettings``
        (https://developers.google.com/youtube/v3/docs/channels)."""
        request = PageRequest(f"{self.api_base}/channels",
                              {"part": "snippet,brandingSettings", "id": self.channel_id})
        raw = self.read_object(request, classify_youtube)
        items = items_of(raw, request.path)
        if not items:
            raise self._fail(ConnectorError, f"channel {self.channel_id} not found")
        given = items[0].get("snippet")
        snippet: dict[str, Any] = given if isinstance(given, dict) else {}
        branding = items[0].get("brandingSettings")
        channel = branding.get("channel") if isinstance(branding, dict) else None
        found = text_fields(snippet, ("title", "description"))
        if isinstance(channel, dict):
            extra = text_fields(channel, ("description",))
            found += [ProfileField("brandingSettings.channel.description", f.text)
                      for f in extra if f.text not in {g.text for g in found}]
        custom = snippet.get("customUrl")
        url = (f"https://www.youtube.com/{custom}" if isinstance(custom, str) and custom
               else f"https://www.youtube.com/channel/{self.channel_id}")
        return Profile(self.platform, self.channel_id, tuple(found), url=url,
                       requests=(f"GET {request.path}?part=snippet,brandingSettings"
                                 f"&id={self.channel_id}",), raw=raw)
