"""Facebook Page and Instagram conversations, polled through the Graph API.

Followed (https://developers.facebook.com/docs/messenger-platform/conversations,
https://developers.facebook.com/docs/graph-api/reference/conversation,
https://developers.facebook.com/docs/graph-api/reference/conversation/messages,
https://developers.facebook.com/docs/graph-api/reference/message):

* ``GET /{page-id}/conversations?platform=messenger`` (Messenger; a Page token with the MESSAGING
  or MODERATE task and ``pages_messaging, pages_manage_metadata, pages_read_engagement``) and
  ``GET /me/conversations?platform=instagram`` (Instagram messages: ``me`` is the Page for a Page
  token and the professional account for an Instagram Login token; ``instagram_basic,
  instagram_manage_messages, pages_manage_metadata``, or ``instagram_business_basic,
  instagram_business_manage_messages``:
  https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/conversations-api);
* each conversation's ``messages`` edge with ``id, message, from, to, created_time,
  attachments``. Only the 20 most recent messages of a conversation can be read (older ones
  answer as deleted), so the listing is a window and the messages are also kept from webhooks.

What a direct message is to the archive: :mod:`archiver.connectors.messages`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from archiver.connectors.base import PageRequest
from archiver.connectors.graph import PermittedGraphEdge, _edge_data, _id, _opt, parse_graph_time
from archiver.connectors.messages import MESSAGES_SCOPE, RECEIVED, SENT
from archiver.connectors.records import ItemKind, ItemStatus, MediaRef, Record
from archiver.connectors.streams import Context, TreeStream

CONVERSATION_FIELDS = "id,updated_time"
MESSAGE_FIELDS = "id,message,from,to,created_time,attachments"


def _attachments(item: dict[str, Any], path: str) -> tuple[MediaRef, ...]:
    """The files of a message's ``attachments`` (image, video or other file)."""
    edge = _opt(item, "attachments", dict, path)
    refs: list[MediaRef] = []
    for att in _edge_data(edge, path) if edge else []:
        for key, kind in (("image_data", "image"), ("video_data", "video")):
            data = _opt(att, key, dict, path)
            url = _opt(data, "url", str, path) if data else None
            if url:
                refs.append(MediaRef(url=url, media_type=kind))
        file_url = _opt(att, "file_url", str, path)
        if file_url:
            refs.append(MediaRef(url=file_url, media_type=_opt(att, "mime_type", str, path)))
    return tuple(refs)


def message_record(item: dict[str, Any], account_ids: tuple[str, ...], path: str) -> Record:
    """One Graph Message → a ``message`` :class:`Record`; ``platform_status`` is ``sent`` when
    one of ``account_ids`` (the Page, the Instagram account) wrote it, else ``received``."""
    who = _opt(item, "from", dict, path) or {}
    sender = _opt(who, "id", str, path)
    name = _opt(who, "name", str, path) or _opt(who, "username", str, path)
    return Record(
        external_id=_id(item, path), kind=ItemKind.MESSAGE, scope=MESSAGES_SCOPE,
        text=_opt(item, "message", str, path), status=ItemStatus.ACTIVE,
        platform_status=SENT if sender in account_ids else RECEIVED,
        author_name=name, author_id=sender,
        created_at=parse_graph_time(item.get("created_time"), path), updated_at=None,
        url=None, raw=item, media=_attachments(item, path))


class ConversationsStream(PermittedGraphEdge):
    """``GET /{node}/conversations?platform=...``: the account's conversations, each read for
    its latest messages (a window: the platform keeps older ones out of reach)."""

    edge, fields, page_size = "conversations", CONVERSATION_FIELDS, 25
    what = "page messages"
    needs = ("pages_messaging, pages_manage_metadata, pages_read_engagement "
             "(a Page token with the MESSAGING or MODERATE task)")
    params: ClassVar[dict[str, str]] = {"platform": "messenger"}
    node: ClassVar[str | None] = None  # None: the account's own node

    @property
    def scopes(self) -> tuple[str, ...]:
        return (MESSAGES_SCOPE,)

    def node_id(self) -> str:
        return self.node or self.connector.config.account_external_id

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [_id(c, request.path) for c in _edge_data(payload, request.path)]


class InstagramConversationsStream(ConversationsStream):
    """``GET /me/conversations?platform=instagram``: the professional account's conversations."""

    what = "instagram messages"
    needs = ("instagram_basic, instagram_manage_messages, pages_manage_metadata (or "
             "instagram_business_basic, instagram_business_manage_messages)")
    params = {"platform": "instagram"}
    node = "me"


class ConversationMessagesStream(PermittedGraphEdge):
    """``GET /{conversation-id}/messages``: a conversation's latest messages; part of the
    conversations' listing."""

    edge, fields, page_size = "messages", MESSAGE_FIELDS, 20
    what, needs = ConversationsStream.what, ConversationsStream.needs

    @classmethod
    def child_context(cls, parent: TreeStream[Any], entry: Any) -> Context | None:
        return {"conversation": entry}

    @classmethod
    def scope_contexts(cls, scopes: Sequence[str]) -> list[Context]:
        # Part of the conversations' listing: re-read only with it, never by a post's scope.
        return []

    @property
    def scopes(self) -> tuple[str, ...]:
        return ()

    def node_id(self) -> str:
        return str(self.context["conversation"])

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        account = self.connector.config.account_external_id
        return [message_record(m, (account,), request.path)
                for m in _edge_data(payload, request.path)]


class FacebookMessagesStream(ConversationMessagesStream):
    """A Messenger conversation's latest messages."""

    parent_stream_type = ConversationsStream


class InstagramMessagesStream(ConversationMessagesStream):
    """An Instagram conversation's latest messages."""

    what, needs = InstagramConversationsStream.what, InstagramConversationsStream.needs
    parent_stream_type = InstagramConversationsStream
