"""TikTok business account connector (TikTok API for Business, v1.3).

Followed:

* Business account videos, ``GET /business/video/list/?business_id=&fields=&cursor=&max_count``
  (at most 20 a page; ``data.videos``, ``data.cursor``, ``data.has_more``; by id with
  ``filters={"video_ids": [...]}``): https://ads.tiktok.com/marketing_api/docs?id=1733327057319937
* Comments of a video, ``GET /business/comment/list/?business_id=&video_id=&status=ALL``
  (``status=ALL`` gives public **and hidden** comments, each with its ``status``; at most 30 a
  page) and their replies, ``GET /business/comment/reply/list/?comment_id=``:
  https://ads.tiktok.com/marketing_api/docs?id=1733329505077250
* The answer envelope: HTTP 200 with ``{"code", "message", "request_id", "data"}``, ``code`` 0
  meaning success. 40100 is "too many requests" and 40102/40104/40105 a refused or expired
  token as third-party clients read them (https://github.com/sns-sdks/python-tiktok); we found
  no TikTok page listing them, so any other non-zero code stops the run with TikTok's message.
  The limits behind 40100 are not published; HTTP 429 is waited out as well
  (https://developers.tiktok.com/doc/tiktok-api-v2-rate-limit).
* The account's own words (``display_name``, ``bio_description``, ``username``) for the page
  checks, ``GET /business/get/?business_id=&fields=``, as the business account API is read by
  https://github.com/sns-sdks/python-tiktok (``get_account_data``).
* The access token travels in the ``Access-Token`` header (24 hours; refreshed outside the
  archiver), never in the URL.

Items: each video is a ``post`` (scope ROOT), with its cover (``thumbnail_url``) as media; a
top-level comment is a ``comment`` and a reply a ``reply``, both scoped to their video. A comment
the account hid (``status: HIDDEN``) is ``hidden`` with platform_status ``"hidden"``. A comment
whose ``replies`` count is above zero has its reply list read.

"Confirmed gone" does not exist here: the API has no look-up of a comment by id, and a video
missing from the by-id filter may have been deleted or only made private, which the API does not
tell apart. So a look-up answers Present when the video is still listed by id and Unknown
otherwise: an item missing from a complete listing is reported as "missing but not confirmed
gone" and a note of the run says why, and nothing is ever marked removed.

Incremental capture: the API has no modified-since filter; every run reads the listings again
(which videos' comments are re-read is the scheduler's choice through ``read(scopes)``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from archiver.connectors.base import (
    Classification,
    Fetched,
    PageRequest,
    Verdict,
    classify_http,
    decode_json,
    one_line,
)
from archiver.connectors.errors import ConnectorError
from archiver.connectors.jsonshape import (
    FlagCursorPaging,
    count,
    epoch_time,
    flagged_cursor,
    ident,
    obj,
    objects,
    text,
)
from archiver.connectors.profiles import Profile, text_fields
from archiver.connectors.records import (
    ROOT_SCOPE,
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
    Entry,
    EntryRestStream,
    RecordChildStream,
    TreeConnector,
    TreeStream,
)

DEFAULT_API_BASE = "https://business-api.tiktok.com/open_api/v1.3"
VIDEO_FIELDS = ("item_id", "create_time", "caption", "share_url", "embed_url", "thumbnail_url",
                "comments")
VIDEO_PAGE_MAX = 20
COMMENT_PAGE_MAX = 30
RATE_CODES = frozenset({40100})
AUTH_CODES = frozenset({40102, 40104, 40105})
PAGING_KEYS = (("data", "has_more"), ("data", "cursor"))
PROFILE_FIELDS = ("display_name", "username", "bio_description")
NOT_CONFIRMABLE = ("TikTok's API cannot confirm a deletion (no comment look-up by id; a deleted "
                   "video and a private one look alike): items missing from a listing are "
                   "reported as not confirmed gone, never marked removed")


def envelope_data(payload: Any, path: str) -> dict[str, Any]:
    """``payload["data"]`` of a successful TikTok envelope."""
    return obj(obj(payload, "the response", path).get("data"), "'data'", path)


def video_record(item: dict[str, Any], business_id: str, path: str) -> Record:
    """One business video → a ``post`` :class:`Record`."""
    video_id = ident(item, "item_id", path)
    thumb = text(item, "thumbnail_url", path)
    return Record(
        external_id=video_id,
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text=text(item, "caption", path),
        status=ItemStatus.ACTIVE,
        platform_status="published",
        author_name=None,
        author_id=business_id,
        created_at=epoch_time(item.get("create_time"), path),
        updated_at=None,  # no edit time: captions are compared by hash
        url=text(item, "share_url", path),
        raw=item,
        media=(MediaRef(thumb, "thumbnail"),) if thumb else (),
    )


def comment_record(item: dict[str, Any], video_id: str, parent_id: str | None,
                   path: str) -> Record:
    """One comment of ``video_id`` → a ``comment`` (no parent comment) or ``reply``."""
    status = text(item, "status", path) or "PUBLIC"
    hidden = status.upper() == "HIDDEN"
    reply_to = parent_id or text(item, "parent_comment_id", path)
    if reply_to == "0":  # some answers write "no parent" as zero
        reply_to = None
    return Record(
        external_id=ident(item, "comment_id", path),
        kind=ItemKind.REPLY if reply_to else ItemKind.COMMENT,
        scope=video_id,
        text=text(item, "text", path),
        status=ItemStatus.HIDDEN if hidden else ItemStatus.ACTIVE,
        platform_status=status.lower(),
        author_name=text(item, "display_name", path) or text(item, "username", path),
        author_id=text(item, "user_id", path),
        created_at=epoch_time(item.get("create_time"), path),
        updated_at=None,
        url=None,  # the API gives comments no link
        raw=item,
        parent_external_id=reply_to or video_id,
    )


def comment_entries(payload: Any, video_id: str, path: str) -> list[Entry]:
    """A comment-list page → comments, ``truncated`` where ``replies`` says there are some
    (their list is read separately)."""
    items = objects(envelope_data(payload, path).get("comments"), "'data.comments'", path)
    return [Entry(comment_record(c, video_id, None, path), (), count(c, "replies", path) > 0)
            for c in items]


def parse_comments_body(body: bytes, video_id: str = "v",
                        path: str = "/business/comment/list/") -> list[Record]:
    """Raw comment-list bytes → records. Any bad input ends in a :class:`ConnectorError`."""
    payload = decode_json(body, path)
    entries = comment_entries(payload, video_id, path)
    flagged_cursor(payload, *PAGING_KEYS, path)
    return [e.record for e in entries]


def classify_tiktok(response: httpx.Response, payload: Any) -> Classification:
    """What a TikTok answer means: the envelope's ``code`` first, then the HTTP status."""
    code = payload.get("code") if isinstance(payload, dict) else None
    message = payload.get("message") if isinstance(payload, dict) else None
    detail = f"HTTP {response.status_code}"
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        detail = f"code {code}: {one_line(str(message or ''), 200)}"
        if code in RATE_CODES:
            return Classification(Verdict.RATE_LIMITED, detail=detail)
        if code in AUTH_CODES:
            return Classification(Verdict.AUTH, detail=detail)
        if 50000 <= code < 60000:
            return Classification(Verdict.TRANSIENT, detail=detail)
        if response.status_code < 400:
            return Classification(Verdict.FATAL, detail=detail)
    base = classify_http(response)
    return Classification(base.verdict, detail=detail if base.verdict is not Verdict.OK else "")


class _TikTokStream(TreeStream["TikTokConnector"]):
    paging = FlagCursorPaging(*PAGING_KEYS, "cursor")
    page_max: ClassVar[int] = COMMENT_PAGE_MAX

    def size(self) -> str:
        return str(min(self.page_max, self.connector.config.page_size or self.page_max))

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return classify_tiktok(response, payload)


class VideosStream(_TikTokStream):
    """``business/video/list/``: the account's videos, newest first."""

    page_max = VIDEO_PAGE_MAX

    def first_request(self) -> PageRequest:
        return self.connector.videos_request(self.size())

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        videos = objects(envelope_data(payload, request.path).get("videos"), "'data.videos'",
                         request.path)
        return [video_record(v, self.connector.business_id, request.path) for v in videos]


class CommentsStream(_TikTokStream, RecordChildStream["TikTokConnector"]):
    """``business/comment/list/?status=ALL``: a video's public and hidden comments."""

    parent_stream_type = VideosStream

    def first_request(self) -> PageRequest:
        return PageRequest(f"{self.connector.api_base}/business/comment/list/", {
            "business_id": self.connector.business_id, "video_id": self.parent_id,
            "status": "ALL", "max_count": self.size()})

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return comment_entries(payload, self.parent_id, request.path)


class RepliesStream(_TikTokStream, EntryRestStream["TikTokConnector"]):
    """``business/comment/reply/list/``: every reply of a comment that has some."""

    parent_stream_type = CommentsStream

    def first_request(self) -> PageRequest:
        return PageRequest(f"{self.connector.api_base}/business/comment/reply/list/", {
            "business_id": self.connector.business_id, "video_id": self.scope,
            "comment_id": self.entry_id, "status": "ALL", "max_count": self.size()})

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        replies = objects(envelope_data(payload, request.path).get("comments"),
                          "'data.comments'", request.path)
        return [comment_record(r, self.scope, self.entry_id, request.path) for r in replies]


class TikTokConnector(TreeConnector):
    """Reads a TikTok business account's videos and every video's comments and replies."""

    platform: ClassVar[Platform] = Platform.TIKTOK
    default_api_base: ClassVar[str] = DEFAULT_API_BASE
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (
        VideosStream, CommentsStream, RepliesStream)

    @property
    def business_id(self) -> str:
        """The business account's id (the account's external id)."""
        return self.config.account_external_id

    def auth_headers(self) -> dict[str, str]:
        """TikTok takes the token in ``Access-Token``, not ``Authorization``."""
        return {"Access-Token": self.config.token} if self.config.token else {}

    def videos_request(self, size: str, video_ids: Sequence[str] = ()) -> PageRequest:
        """The video list's first page, or the videos of ``video_ids``."""
        params = {"business_id": self.business_id, "fields": json.dumps(list(VIDEO_FIELDS)),
                  "max_count": size}
        if video_ids:
            params["filters"] = json.dumps({"video_ids": list(video_ids)})
        return PageRequest(f"{self.api_base}/business/video/list/", params)

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Present when a video is still listed by id; Unknown otherwise (see the module)."""
        if ref.kind == ItemKind.POST:
            request = self.videos_request("1", (ref.external_id,))
            try:
                fetched: Fetched = self.fetch(request, classify_tiktok)
                videos = objects(envelope_data(fetched.payload, request.path).get("videos"),
                                 "'data.videos'", request.path)
            except ConnectorError as exc:
                return Unknown(str(exc))
            if any(str(v.get("item_id")) == ref.external_id for v in videos):
                return Present()
        if NOT_CONFIRMABLE not in self.stats.notes:
            self.stats.notes.append(NOT_CONFIRMABLE)
        return Unknown(NOT_CONFIRMABLE)

    # -- the account's own statements (additive: read by archiver.monitoring) -----------------

    def profile(self) -> Profile:
        """The account's ``display_name`` and ``bio_description``; its address is
        ``https://www.tiktok.com/@<username>``."""
        request = PageRequest(f"{self.api_base}/business/get/", {
            "business_id": self.business_id, "fields": json.dumps(list(PROFILE_FIELDS))})
        raw = self.read_object(request, classify_tiktok)
        data = envelope_data(raw, request.path)
        username = data.get("username")
        url = (f"https://www.tiktok.com/@{quote(username, safe='')}"
               if isinstance(username, str) and username else None)
        return Profile(self.platform, self.business_id,
                       tuple(text_fields(data, ("display_name", "bio_description"))), url=url,
                       requests=(f"GET {request.path}?business_id={self.business_id}"
                                 f"&fields={request.params['fields']}",), raw=raw)
