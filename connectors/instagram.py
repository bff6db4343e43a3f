"""Instagram business account connector (Instagram Graph API).

Followed:

* Media of the account, ``GET /{ig-user-id}/media``:
  https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media
* Media fields (``caption, media_type, media_url, thumbnail_url, permalink, timestamp,
  children``): https://developers.facebook.com/docs/instagram-platform/reference/instagram-media
* Comments, ``GET /{ig-media-id}/comments`` (top-level only, newest first), the nested
  ``replies{...}`` field and ``GET /{ig-comment-id}/replies``:
  https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments
  and .../reference/ig-comment/replies; comment fields incl. ``hidden``:
  .../reference/ig-comment and https://developers.facebook.com/docs/instagram-api/guides/comment-moderation
* Stories, ``GET /{ig-user-id}/stories`` (IG Media, "only available for 24 hours"; no live video,
  no reshares, one caption; ``instagram_basic`` and ``pages_read_engagement``):
  https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/stories.
  A story is its own kind and listing, its media downloaded by the run that sees it
  (:mod:`archiver.connectors.stories`).
* Instagram messages, ``GET /me/conversations?platform=instagram`` and each conversation's latest
  messages: :mod:`archiver.connectors.graph_messages`.
* Paging, errors and rate limits are the Graph API's (cursor ``paging.next``; 190 token;
  100/33 unknown object; 4/17/32/613/800xx limits): https://developers.facebook.com/docs/graph-api/results,
  .../guides/error-handling, .../overview/rate-limiting. They are read by the Facebook
  connector's :func:`~archiver.connectors.facebook.classify_graph` and usage pacing, reused here.

Normalization: a media object is a ``post`` (scope ``""``); a top-level comment is a ``comment``
whose parent is the media; a reply is a ``reply`` whose parent is the comment (Instagram keeps
replies one level deep); both have the media id as scope. A comment the account hid is status
``hidden`` with platform_status ``"hidden"``. Media files (``media_url``, a video's
``thumbnail_url``, every carousel child) are :class:`~archiver.connectors.records.MediaRef`.

Replies: the nested ``replies`` edge carries only the first few; when it has ``paging.next`` the
comment's whole ``/replies`` listing is read.

"A direct look-up confirms it is gone" means: ``GET /{id}?fields=id`` answers Graph error 100/33
**and** ``GET /{ig-user-id}?fields=id`` still reads (100/33 also means "lost permission", so a
failing account read makes the answer Unknown). Evidence: both requests, the 100/33 body.

Incremental capture: the Instagram Graph API documents no conditional requests (ETag /
If-None-Match) and no modified-since filter for media or comments, and hides and deletions do not
change anything a cheaper call could compare (``comments_count`` misses hides and edits), so a
full read stays the only complete one; limiting which media's comments are re-read is the
scheduler's job through ``read(scopes)``. Pages use the documented maxima (media 100 is not
documented; we ask 50 for both) to keep the request count low.

The token goes in an ``Authorization: Bearer`` header, never the URL.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import quote

from archiver.connectors.base import PageRequest, decode_json, dig, strip_secrets
from archiver.connectors.errors import MalformedResponse
from archiver.connectors.facebook import FacebookConnector
from archiver.connectors.graph import (
    GraphEdgeStream,
    _edge_data,
    _id,
    _opt,
    parse_graph_time,
)
from archiver.connectors.graph_messages import (
    InstagramConversationsStream,
    InstagramMessagesStream,
)
from archiver.connectors.graph_stories import GraphStoriesListing
from archiver.connectors.profiles import Profile
from archiver.connectors.records import (
    ROOT_SCOPE,
    ItemKind,
    ItemRef,
    ItemStatus,
    LookupResult,
    MediaRef,
    Platform,
    Record,
)
from archiver.connectors.stories import STORIES_SCOPE
from archiver.connectors.streams import Entry, EntryRestStream, RecordChildStream, TreeStream

DEFAULT_API_BASE = "https://graph.facebook.com/v19.0"
MEDIA_FIELDS = (
    "id,caption,media_type,media_url,thumbnail_url,permalink,timestamp,username,owner,"
    "media_product_type,comments_count,children{id,media_type,media_url,thumbnail_url}"
)
STORY_FIELDS = (
    "id,caption,media_type,media_url,thumbnail_url,permalink,timestamp,username,owner,"
    "media_product_type"
)
_COMMENT_CORE = "id,text,timestamp,username,from,hidden,like_count,parent_id"
COMMENT_FIELDS = f"{_COMMENT_CORE},replies{{{_COMMENT_CORE}}}"
COMMENT_PAGE_MAX = 50  # documented maximum for /comments


def without_secrets(value: Any) -> Any:
    """``value`` with credential parameters cut from the links of every ``paging`` object in it.

    Graph puts ``access_token`` in nested edges' ``paging.next`` links; ``raw`` is stored as a
    blob, so no link in it may keep the token. Other strings (visitors' text) are left alone.
    """
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: without_secrets(v) for k, v in value.items()}
    paging = out.get("paging")
    if isinstance(paging, dict):
        out["paging"] = {
            k: strip_secrets(v) if k in ("next", "previous") and isinstance(v, str) else v
            for k, v in paging.items()
        }
    return out


def _media_refs(item: dict[str, Any], path: str) -> list[MediaRef]:
    kind = _opt(item, "media_type", str, path)
    refs: list[MediaRef] = []
    url = _opt(item, "media_url", str, path)
    if url:
        refs.append(MediaRef(url=url, media_type=kind.lower() if kind else None))
    thumb = _opt(item, "thumbnail_url", str, path)
    if thumb:
        refs.append(MediaRef(url=thumb, media_type="thumbnail"))
    children = _opt(item, "children", dict, path)
    for child in _edge_data(children, path) if children else []:
        refs.extend(_media_refs(child, path))
    return refs


def media_record(item: dict[str, Any], path: str) -> Record:
    """One IG Media object → a ``post`` :class:`Record`."""
    username = _opt(item, "username", str, path)
    owner = _opt(item, "owner", dict, path)
    return Record(
        external_id=_id(item, path),
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text=_opt(item, "caption", str, path),
        status=ItemStatus.ACTIVE,
        platform_status="published",
        author_name=username,
        author_id=_opt(owner, "id", str, path) if owner else None,
        created_at=parse_graph_time(item.get("timestamp"), path),
        updated_at=None,  # Instagram has no edit timestamp; edits are found by hashing
        url=_opt(item, "permalink", str, path),
        raw=without_secrets(item),
        media=tuple(_media_refs(item, path)),
    )


def comment_record(item: dict[str, Any], media_id: str, parent_id: str | None, path: str) -> Record:
    """One IG Comment of ``media_id`` → a ``comment`` (no parent comment) or ``reply``."""
    hidden = _opt(item, "hidden", bool, path) is True
    who = _opt(item, "from", dict, path)
    username = _opt(item, "username", str, path) or (
        _opt(who, "username", str, path) if who else None
    )
    reply_to = parent_id or _opt(item, "parent_id", str, path)
    return Record(
        external_id=_id(item, path),
        kind=ItemKind.REPLY if reply_to else ItemKind.COMMENT,
        scope=media_id,
        text=_opt(item, "text", str, path),
        status=ItemStatus.HIDDEN if hidden else ItemStatus.ACTIVE,
        platform_status="hidden" if hidden else "published",
        author_name=username,
        author_id=_opt(who, "id", str, path) if who else None,
        created_at=parse_graph_time(item.get("timestamp"), path),
        updated_at=None,
        url=None,  # the API gives comments no permalink
        raw=without_secrets(item),
        parent_external_id=reply_to or media_id,
    )


def parse_media_page(payload: Any, path: str) -> list[Record]:
    """A decoded ``/media`` page → post records, or :class:`MalformedResponse`."""
    return [media_record(item, path) for item in _edge_data(payload, path)]


def parse_comments_page(payload: Any, media_id: str, path: str) -> list[Entry]:
    """A decoded ``/comments`` page → comments with their inline replies (``truncated`` when
    the nested ``replies`` edge has a next page)."""
    out: list[Entry] = []
    for item in _edge_data(payload, path):
        record = comment_record(item, media_id, None, path)
        edge = _opt(item, "replies", dict, path)
        replies = tuple(
            comment_record(r, media_id, record.external_id, path)
            for r in (_edge_data(edge, path) if edge else [])
        )
        more = dig(edge, ("paging", "next")) if edge else None
        if more is not None and not isinstance(more, str):
            raise MalformedResponse(f"response from {path}: next-page link is not a string")
        out.append(Entry(record, replies, bool(more)))
    return out


def parse_comments_body(body: bytes, media_id: str, path: str = "/comments") -> list[Record]:
    """Raw ``/comments`` bytes → comment and reply records. Bad input ends in a ConnectorError."""
    entries = parse_comments_page(decode_json(body, path), media_id, path)
    return [r for e in entries for r in (e.record, *e.inline)]


class MediaStream(GraphEdgeStream):
    """``GET /{ig-user-id}/media``: the account's media, newest first."""

    edge, fields, page_size = "media", MEDIA_FIELDS, 50

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return parse_media_page(payload, request.path)


class StoriesStream(GraphStoriesListing):
    """``GET /{ig-user-id}/stories``: the account's stories of the last 24 hours."""

    edge, fields, page_size = "stories", STORY_FIELDS, 50
    what, needs = "instagram stories", "instagram_basic, pages_read_engagement"

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [replace(media_record(item, request.path), kind=ItemKind.STORY,
                        scope=STORIES_SCOPE)
                for item in _edge_data(payload, request.path)]


class CommentsStream(GraphEdgeStream, RecordChildStream[FacebookConnector]):
    """``GET /{ig-media-id}/comments``: top-level comments with their first replies. Media
    deleted while we read (or a comment, for its replies) leave the listing incomplete."""

    edge, fields = "comments", COMMENT_FIELDS
    page_size = page_max = COMMENT_PAGE_MAX
    parent_stream_type = MediaStream
    gone_counter = "listings_gone"

    def node_id(self) -> str:
        return self.parent_id

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return parse_comments_page(payload, self.parent_id, request.path)


class RepliesStream(GraphEdgeStream, EntryRestStream[FacebookConnector]):
    """``GET /{ig-comment-id}/replies``: every reply of a comment whose inline replies are only
    the first few; part of the media's comment listing."""

    edge, fields = "replies", _COMMENT_CORE
    page_size = page_max = COMMENT_PAGE_MAX
    parent_stream_type = CommentsStream

    def node_id(self) -> str:
        return self.entry_id

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [
            comment_record(item, self.scope, self.entry_id, request.path)
            for item in _edge_data(payload, request.path)
        ]


class InstagramConnector(FacebookConnector):
    """Reads an Instagram business account's media and their comments and replies.

    It is a Graph API client like :class:`~archiver.connectors.facebook.FacebookConnector` and
    keeps its usage pacing; streams, normalization and look-ups are Instagram's.
    """

    platform: ClassVar[Platform] = Platform.INSTAGRAM
    default_api_base: ClassVar[str] = DEFAULT_API_BASE
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (
        MediaStream, CommentsStream, RepliesStream, StoriesStream,
        InstagramConversationsStream, InstagramMessagesStream)

    @property
    def user_id(self) -> str:
        """The IG user id of the business account (the account's external id)."""
        return self.config.account_external_id

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Present, Gone (100/33 while the account itself still reads) or Unknown."""
        return self.graph_lookup(ref, self.user_id, "account")

    # -- the account's own statements (additive: read by archiver.monitoring) -----------------

    def profile(self) -> Profile:
        """The professional account's ``biography`` and ``website`` (and its name)
        (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user);
        its address is ``https://www.instagram.com/<username>/``."""
        found = self.graph_profile(self.user_id, ("name", "biography", "website"),
                                   ("username",), None)
        username = found.raw.get("username")
        if isinstance(username, str) and username:
            return replace(found, url=f"https://www.instagram.com/{quote(username, safe='')}/")
        return found
