"""How the loopback Graph server renders data: ``fields`` selection, Graph JSON, page indexes.

Shapes follow developers.facebook.com/docs/graph-api/reference/page/feed, .../reference/comment and
.../results (cursor paging). Split from :mod:`archiver.standins.graph_server` to keep modules small.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Any

from archiver.standins.dataset import Attachment, Comment, PageDataset, Post

_FIELD_NAME = re.compile(r"[A-Za-z0-9_.()]*")


def parse_fields(spec: str) -> dict[str, dict[str, Any] | None]:
    """``"id,attachments{url,media},parent{id}"`` → ``{"id": None, "attachments": {...}, ...}``."""
    pos = 0

    def parse_list() -> dict[str, dict[str, Any] | None]:
        nonlocal pos
        out: dict[str, dict[str, Any] | None] = {}
        while pos < len(spec):
            match = _FIELD_NAME.match(spec, pos)
            name = match.group(0) if match else ""
            pos += len(name)
            sub = None
            if pos < len(spec) and spec[pos] == "{":
                pos += 1
                sub = parse_list()
            name = name.split(".", 1)[0]  # modifiers like .limit(5) are ignored
            if name:
                out[name] = sub
            if pos < len(spec) and spec[pos] == ",":
                pos += 1
                continue
            if pos < len(spec) and spec[pos] == "}":
                pos += 1
            break
        return out

    return parse_list()


def select(value: Any, fields: dict[str, dict[str, Any] | None] | None) -> Any:
    """Keep only ``fields`` of a Graph object (recursively; edges ``{"data": [...]}`` too)."""
    if fields is None:
        return value
    if isinstance(value, list):
        return [select(v, fields) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"data"} and isinstance(value["data"], list):
        return {"data": [select(v, fields) for v in value["data"]]}
    return {k: select(value[k], sub) for k, sub in fields.items() if k in value}


def _media(a: Attachment) -> dict[str, Any]:
    media: dict[str, Any] = {}
    if a.src:
        media["image"] = {"height": 720, "src": a.src, "width": 960}
        if a.media_type == "video":
            media["source"] = a.src
    out: dict[str, Any] = {"media_type": a.media_type, "url": a.url}
    if media:
        out["media"] = media
    if a.target_id:
        out["target"] = {"id": a.target_id, "url": a.url}
    return out


def post_json(p: Post) -> dict[str, Any]:
    """A post as the Graph API returns it (absent fields left out, as Graph does)."""
    out: dict[str, Any] = {"id": p.id, "created_time": p.created_time}
    if p.message is not None:
        out["message"] = p.message
    out.update(
        updated_time=p.updated_time or p.created_time,
        permalink_url=p.permalink_url,
        **{"from": {"name": p.author.name, "id": p.author.id}},
        status_type=p.status_type,
        is_hidden=p.is_hidden,
        is_published=p.is_published,
    )
    if p.attachments:
        out["attachments"] = {"data": [_media(a) for a in p.attachments]}
    return out


def comment_json(c: Comment, parent: Comment | None, reply_count: int) -> dict[str, Any]:
    """A comment as the Graph API returns it; ``parent`` only for replies."""
    out: dict[str, Any] = {"id": c.id, "created_time": c.created_time}
    if c.author is not None:
        out["from"] = {"name": c.author.name, "id": c.author.id}
    if c.message is not None:
        out["message"] = c.message
    if parent is not None:
        ref: dict[str, Any] = {"created_time": parent.created_time, "id": parent.id}
        if parent.author is not None:
            ref["from"] = {"name": parent.author.name, "id": parent.author.id}
        ref["message"] = parent.message or ""
        out["parent"] = ref
    out.update(
        is_hidden=c.is_hidden,
        can_hide=True,
        can_remove=True,
        comment_count=reply_count,
        like_count=c.like_count,
    )
    if c.permalink_url:
        out["permalink_url"] = c.permalink_url
    if c.attachment is not None:
        att = _media(c.attachment)
        att["type"] = att.pop("media_type")
        out["attachment"] = att
    return out


class PageIndex:
    """Lookup structures for one dataset, built once (linear time)."""

    def __init__(self, ds: PageDataset) -> None:
        self.dataset = ds
        self.posts = {p.id: p for p in ds.posts}
        self.comments = {c.id: c for c in ds.comments}
        self.feed = sorted(ds.posts, key=lambda p: (p.created_time, p.id), reverse=True)
        self.published = [p for p in self.feed if p.is_published]
        self.stream: dict[str, list[Comment]] = {}
        self.toplevel: dict[str, list[Comment]] = {}
        self.replies: dict[str, list[Comment]] = {}
        for c in sorted(ds.comments, key=lambda c: (c.created_time, c.id)):
            self.stream.setdefault(c.post_id, []).append(c)
            if c.parent_id is None:
                self.toplevel.setdefault(c.post_id, []).append(c)
            else:
                self.replies.setdefault(c.parent_id, []).append(c)

    def render_comment(self, c: Comment) -> dict[str, Any]:
        parent = self.comments.get(c.parent_id) if c.parent_id else None
        return comment_json(c, parent, len(self.replies.get(c.id, ())))


class Reversed(Sequence[Any]):
    """A reversed view of a list without copying it (pages stay O(page size))."""

    def __init__(self, items: Sequence[Any]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: Any) -> Any:
        return self._items[len(self._items) - 1 - i]


def encode_cursor(offset: int, page_no: int) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{page_no}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    offset, page_no = raw.split(":")
    return int(offset), int(page_no)
