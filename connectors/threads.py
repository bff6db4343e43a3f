"""Threads connector (Meta's Threads API at graph.threads.net, a Graph-style API).

Followed:

* The account's posts, ``GET /v1.0/{threads-user-id}/threads?fields=&limit=``, newest first:
  https://developers.facebook.com/docs/threads/retrieve-and-discover-posts/retrieve-posts
* The account's own replies, ``GET /v1.0/{threads-user-id}/replies``, and every reply under a
  post at every depth, flattened, ``GET /v1.0/{threads-media-id}/conversation?reverse=false``
  (each reply names ``root_post`` and ``replied_to``; ``hide_status`` is one of ``NOT_HUSHED``,
  ``UNHUSHED``, ``HIDDEN``, ``COVERED``, ``BLOCKED``, ``RESTRICTED``):
  https://developers.facebook.com/docs/threads/reply-management and
  https://developers.facebook.com/documentation/threads/reference/reply-management
* Fields of a post or reply (``text, media_type, media_url, thumbnail_url, permalink, timestamp,
  username, children, shortcode, reposted_post``...): https://developers.facebook.com/docs/threads/threads-media
* The profile, ``GET /v1.0/{threads-user-id}?fields=username,name,threads_biography``:
  https://developers.facebook.com/docs/threads/threads-profiles
* Permissions ``threads_basic``, ``threads_read_replies`` (and ``threads_manage_replies`` to see
  hidden replies as the owner), the long-lived token (60 days, refreshed with
  ``th_refresh_token``) and the limits (calls per 24 hours, Graph-style errors):
  https://developers.facebook.com/docs/threads/overview and
  https://developers.facebook.com/docs/threads/get-started/long-lived-tokens

Errors, back-off and usage pacing are the Graph API's (:func:`~archiver.connectors.facebook
.classify_graph`, :class:`~archiver.connectors.facebook.FacebookConnector`). Paging: Meta's
examples show only ``paging.cursors``; a page's ``paging.next`` is followed when present, and a
page without it that is full to the ``limit`` asked is followed by ``after=<cursors.after>``
(:class:`ThreadsPaging`).

Normalization: a post is a ``post`` (scope ``""``); under it (scope: the post's id) a reply to the
post is a ``comment`` and a reply to a reply a ``reply``, parent ``replied_to``. A reply the
account wrote under someone else's post is a ``reply`` at the top level, with its own
conversation beneath it; its replies within its own posts are read once, in those posts'
conversations. A reply whose ``hide_status`` is ``HIDDEN``, ``COVERED``, ``BLOCKED`` or
``RESTRICTED`` is ``hidden``, ``platform_status`` the status in lower case. Reposts
(``REPOST_FACADE``) are other accounts' posts: counted (``stats.extra["reposts_not_kept"]``),
not stored.

What the API cannot read, said rather than guessed: deleted posts and replies leave no trace in a
listing (no tombstone); replies waiting for the account's approval (reply approvals) are not in
``/conversation`` and are not read; a reply's author is given by ``username`` only (no user id).
Every read of the top level adds :data:`UNREAD_NOTE` to the run's notes.

"A direct look-up confirms it is gone" means: ``GET /{id}?fields=id`` answers Graph error 100/33
**and** ``GET /{threads-user-id}?fields=id`` still reads. Meta does not document the answer for a
deleted Threads object: 100/33 is Graph's "does not exist", and any other answer is Unknown, so
an undocumented answer can never record a removal. Evidence: both requests, the 100/33 body.

The token goes in an ``Authorization: Bearer`` header, never the URL; ``access_token`` in
``paging.next`` links is stripped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar
from urllib.parse import quote

from archiver.connectors.base import (
    ConnectorConfig,
    NextUrlPaging,
    PageRequest,
    decode_json,
    dig,
)
from archiver.connectors.errors import MalformedResponse
from archiver.connectors.facebook import (
    FacebookConnector,
    GraphEdgeStream,
    _edge_data,
    _id,
    _opt,
    parse_graph_time,
)
from archiver.connectors.instagram import _media_refs, without_secrets
from archiver.connectors.profiles import Profile
from archiver.connectors.records import (
    ROOT_SCOPE,
    ItemKind,
    ItemRef,
    ItemStatus,
    LookupResult,
    Platform,
    ReadEvent,
    Record,
)
from archiver.connectors.streams import RecordChildStream, TreeStream

DEFAULT_API_BASE = "https://graph.threads.net/v1.0"
_MEDIA = ("id,text,media_type,media_product_type,media_url,thumbnail_url,permalink,timestamp,"
          "username,shortcode,is_quote_post,children{id,media_type,media_url,thumbnail_url}")
POST_FIELDS = f"{_MEDIA},owner,reposted_post,quoted_post"
REPLY_FIELDS = f"{_MEDIA},root_post,replied_to,is_reply,has_replies,hide_status"
PAGE_SIZE = 25  # the documented default
UNREAD_NOTE = ("threads: the API does not show replies awaiting the account's approval, nor "
               "deleted posts and replies (those are confirmed one by one)")
HIDDEN_STATUSES = frozenset({"HIDDEN", "COVERED", "BLOCKED", "RESTRICTED"})


@dataclass(frozen=True)
class ThreadsPaging(NextUrlPaging):
    """``paging.next`` when the page has one (Graph: "if not included, this is the last
    page"); a page without it but full to the ``limit`` asked, with a ``paging.cursors.after``,
    is followed by ``after=`` in case the API gives cursors only, as Meta's examples show."""

    path: tuple[str, ...] = ("paging", "next")

    def next_request(
        self, request: PageRequest, payload: Any, item_count: int
    ) -> PageRequest | None:
        if dig(payload, self.path):
            return super().next_request(request, payload, item_count)
        data = payload.get("data") if isinstance(payload, dict) else None
        after = dig(payload, ("paging", "cursors", "after"))
        limit = request.params.get("limit", "")
        full = isinstance(data, list) and limit.isdigit() and len(data) >= int(limit) > 0
        if not full or after is None or after == "":
            return None
        if not isinstance(after, str):
            raise MalformedResponse(f"response from {request.path}: page cursor is not a string")
        return PageRequest(request.url, {**request.params, "after": after})


def _ref_id(item: dict[str, Any], key: str, path: str) -> str | None:
    ref = _opt(item, key, dict, path)
    return _opt(ref, "id", str, path) if ref else None


def post_record(item: dict[str, Any], path: str) -> Record:
    """One Threads media object of the account → a ``post`` :class:`Record`."""
    owner = _opt(item, "owner", dict, path)
    return Record(
        external_id=_id(item, path),
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text=_opt(item, "text", str, path),
        status=ItemStatus.ACTIVE,
        platform_status="published",
        author_name=_opt(item, "username", str, path),
        author_id=_opt(owner, "id", str, path) if owner else None,
        created_at=parse_graph_time(item.get("timestamp"), path),
        updated_at=None,  # no edit time is given; edits are found by hashing
        url=_opt(item, "permalink", str, path),
        raw=without_secrets(item),
        media=tuple(_media_refs(item, path)),
    )


def reply_record(item: dict[str, Any], scope: str, path: str) -> Record:
    """One reply → a ``comment`` (it answers ``scope``'s post) or a ``reply``; a reply the
    account wrote elsewhere (``scope`` ``""``) is a ``reply`` at the top level."""
    status = _opt(item, "hide_status", str, path)
    hidden = status in HIDDEN_STATUSES
    parent = _ref_id(item, "replied_to", path) or _ref_id(item, "root_post", path)
    answers_scope = scope != ROOT_SCOPE and parent in (None, scope)
    return Record(
        external_id=_id(item, path),
        kind=ItemKind.COMMENT if answers_scope else ItemKind.REPLY,
        scope=scope,
        text=_opt(item, "text", str, path),
        status=ItemStatus.HIDDEN if hidden else ItemStatus.ACTIVE,
        platform_status=status.lower() if hidden and status else
        ("unhidden" if status == "UNHUSHED" else "published"),
        author_name=_opt(item, "username", str, path),
        author_id=None,  # the API names a reply's author by username only
        created_at=parse_graph_time(item.get("timestamp"), path),
        updated_at=None,
        url=_opt(item, "permalink", str, path),
        raw=without_secrets(item),
        parent_external_id=parent or (scope or None),
        media=tuple(_media_refs(item, path)),
    )


def parse_posts_page(payload: Any, path: str) -> tuple[list[Record], int]:
    """A decoded ``/threads`` page → (the account's posts, how many reposts were left out)."""
    records, reposts = [], 0
    for item in _edge_data(payload, path):
        if _opt(item, "media_type", str, path) == "REPOST_FACADE":
            reposts += 1
            continue
        records.append(post_record(item, path))
    return records, reposts


def parse_conversation_page(payload: Any, scope: str, path: str) -> list[Record]:
    """A decoded ``/conversation`` page → the replies under ``scope``'s post."""
    return [reply_record(item, scope, path) for item in _edge_data(payload, path)]


def parse_conversation_body(body: bytes, scope: str, path: str = "/conversation") -> list[Record]:
    """Raw ``/conversation`` bytes → reply records. Bad input ends in a ConnectorError."""
    return parse_conversation_page(decode_json(body, path), scope, path)


class _ThreadsStream(GraphEdgeStream):
    """A Threads listing: Graph's request and errors, Threads' paging."""

    paging = ThreadsPaging()
    page_size = PAGE_SIZE
    page_max = 100

    @property
    def threads(self) -> ThreadsConnector:
        """The connector, as the Threads connector it is."""
        assert isinstance(self.connector, ThreadsConnector)
        return self.connector


class PostsStream(_ThreadsStream):
    """``GET /{threads-user-id}/threads``: the account's posts, newest first."""

    edge, fields = "threads", POST_FIELDS

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        records, reposts = parse_posts_page(payload, request.path)
        if reposts:
            extra = self.connector.stats.extra
            extra["reposts_not_kept"] = extra.get("reposts_not_kept", 0) + reposts
        self.threads.own_posts.update(r.external_id for r in records)
        return list(records)


class UserRepliesStream(_ThreadsStream):
    """``GET /{threads-user-id}/replies``: the account's replies; those under its own posts are
    left to those posts' conversations (read after the posts, so they are known)."""

    edge, fields = "replies", REPLY_FIELDS

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        own = self.threads.own_posts
        return [reply_record(item, ROOT_SCOPE, request.path)
                for item in _edge_data(payload, request.path)
                if _ref_id(item, "root_post", request.path) not in own]


class ConversationStream(_ThreadsStream, RecordChildStream[FacebookConnector]):
    """``GET /{threads-media-id}/conversation?reverse=false``: every reply under a post, at
    every depth, oldest first. A post deleted while we read leaves its listing incomplete."""

    edge, fields = "conversation", REPLY_FIELDS
    params = {"reverse": "false"}
    parent_stream_type: ClassVar[type[TreeStream[Any]] | None] = PostsStream
    gone_counter = "listings_gone"

    def node_id(self) -> str:
        return self.parent_id

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return list(parse_conversation_page(payload, self.parent_id, request.path))


class ReplyConversationStream(ConversationStream):
    """The conversation under a reply the account wrote on someone else's post."""

    parent_stream_type = UserRepliesStream


class ThreadsConnector(FacebookConnector):
    """Reads a Threads account's posts, its replies elsewhere, and every post's conversation
    with hidden replies marked; a Graph API client like the Facebook connector."""

    platform: ClassVar[Platform] = Platform.THREADS
    default_api_base: ClassVar[str] = DEFAULT_API_BASE
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (
        PostsStream, UserRepliesStream, ConversationStream, ReplyConversationStream)

    def __init__(self, config: ConnectorConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self.own_posts: set[str] = set()

    def read(self, scopes: Sequence[str] | None = None) -> Iterator[ReadEvent]:
        """The walk of the streams; a read of the account's top level says what the API leaves
        out, so a run's summary does not let it pass for everything."""
        yield from super().read(scopes)
        if scopes is None or ROOT_SCOPE in scopes:
            self.stats.notes.append(UNREAD_NOTE)

    @property
    def user_id(self) -> str:
        """The Threads user id (the account's external id)."""
        return self.config.account_external_id

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Present, Gone (100/33 while the account itself still reads) or Unknown."""
        return self.graph_lookup(ref, self.user_id, "account")

    def profile(self) -> Profile:
        """The account's name and ``threads_biography``; its address is
        ``https://www.threads.net/@<username>``."""
        found = self.graph_profile(self.user_id, ("name", "threads_biography"), ("username",),
                                   None)
        username = found.raw.get("username")
        if isinstance(username, str) and username:
            return replace(found, url=f"https://www.threads.net/@{quote(username, safe='')}")
        return found
