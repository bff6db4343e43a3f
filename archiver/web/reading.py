"""The reads pages and API share: one library call within the user's limit, one audit event."""

from __future__ import annotations

from typing import Any

from flask import Response

from archiver.exports.selection import ThreadView, ThreadWindow
from archiver.item_history import item_history, item_thread, readable_media
from archiver.web.desk import archive, audit, signed_in
from archiver.web.security import attachment

# Items a thread page shows at once: a post can gather thousands of comments.
THREAD_PAGE = 200


def read_thread(item_id: int, start: int | None = None, size: int = THREAD_PAGE) -> ThreadView:
    """The part of ``item_id``'s thread from reading position ``start`` (by default the part
    holding the item) as the signed-in user may see it; audited."""
    view = item_thread(archive(), item_id, within=signed_in().limit,
                       window=ThreadWindow(size=size, start=start, around=item_id))
    audit("desk.thread_view", "item", item_id, {"thread_root": view.root_id,
                                                "items": len(view.items),
                                                "start": view.start, "total": view.count})
    return view


def read_history(item_id: int) -> dict[str, Any]:
    """The history of ``item_id`` as the signed-in user may see it; audited."""
    detail = item_history(archive(), item_id, within=signed_in().limit)
    audit("desk.item_view", "item", item_id, {"versions": len(detail["versions"])})
    return detail


def download_media(sha256: str) -> Response:
    """A media file some item the user may see showed, as a download; audited."""
    found = readable_media(archive(), sha256, within=signed_in().limit)
    audit("desk.media_download", "media", sha256, {"media_type": found.media.media_type,
                                                   "size": found.media.size})
    return attachment(found.data, found.media.name, found.media.media_type)
