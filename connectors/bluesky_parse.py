"""Reading Bluesky's feed and thread answers into records: pure functions, no requests.

The shapes are the lexicons' (https://github.com/bluesky-social/atproto/tree/main/lexicons/app/
bsky/feed: ``defs.json`` for ``#postView``, ``#threadViewPost``, ``#notFoundPost``,
``#blockedPost``; ``threadgate.json`` for ``hiddenReplies``; ``getAuthorFeed.json``,
``getPostThread.json``). What the records mean is said in :mod:`archiver.connectors.bluesky`.
Anything that is not the documented shape ends in one :class:`MalformedResponse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from archiver.connectors.base import decode_json
from archiver.connectors.errors import MalformedResponse
from archiver.connectors.records import ROOT_SCOPE, ItemKind, ItemStatus, MediaRef, Record

POST_COLLECTION = "app.bsky.feed.post"
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
