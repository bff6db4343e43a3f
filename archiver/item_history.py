"""What a reader sees of one item: its thread as the platform showed it, its history with word
differences between versions, the holds and requests covering it, and the media it showed.

Every function takes the reader's account limit: outside it, an item is not found.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from archiver.errors import NotFound
from archiver.exports.selection import (
    StoredMedia,
    ThreadView,
    ThreadWindow,
    iter_threads,
    threads_of,
)
from archiver.item_detail import item_detail
from archiver.store.archive import Archive
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit
from archiver.store.models import (
    Hold,
    HoldItem,
    Item,
    ItemVersion,
    MediaFile,
    OpenRecordsRequest,
    RequestItem,
    VersionMedia,
)
from archiver.store.vocabulary import MediaStatus

_TOKENS = re.compile(r"\s+|[^\s]+")
SAME, ADDED, REMOVED = "same", "added", "removed"


def word_diff(old: str | None, new: str | None) -> list[tuple[str, str]]:
    """``new`` against ``old`` word by word, as pieces ``(same|added|removed, text)``; the
    spaces between words travel with them, so joining the same and added pieces gives ``new``."""
    a, b = _TOKENS.findall(old or ""), _TOKENS.findall(new or "")
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append((SAME, "".join(a[i1:i2])))
            continue
        if i2 > i1:
            pieces.append((REMOVED, "".join(a[i1:i2])))
        if j2 > j1:
            pieces.append((ADDED, "".join(b[j1:j2])))
    return pieces


def item_thread(archive: Archive, item_id: int, *,
                within: AccountLimit = EVERY_ACCOUNT,
                window: ThreadWindow | None = None) -> ThreadView:
    """The thread ``item_id`` belongs to, in reading order, with the item marked: all of it,
    or the ``window`` of it (see :class:`ThreadWindow`)."""
    with archive.sessions() as s:
        account_id = s.scalar(select(Item.account_id).where(Item.id == item_id))
    if account_id is None or not within.allows(account_id):
        raise NotFound(f"no item with id {item_id}")
    roots = threads_of(archive, [item_id])
    return next(iter_threads(archive, roots, matched={item_id}, within=within, window=window))


def item_history(archive: Archive, item_id: int, *,
                 within: AccountLimit = EVERY_ACCOUNT) -> dict[str, Any]:
    """:func:`archiver.item_detail.item_detail` plus, for each version, what changed from the
    one before (status, word differences), and the holds and records requests covering it."""
    # The one item shape, widened with what the history page adds to it.
    detail: dict[str, Any] = dict(item_detail(archive, item_id, within=within))
    detail["versions"] = [dict(v) for v in detail["versions"]]
    previous: dict[str, Any] | None = None
    for version in detail["versions"]:
        version["changes"] = {
            "status_from": previous["status"] if previous and
            previous["status"] != version["status"] else None,
            "text_changed": previous is not None and previous["text"] != version["text"],
            "diff": word_diff(previous["text"] if previous else None, version["text"])
            if previous is not None else [],
        }
        previous = version
    with archive.sessions() as s:
        detail["holds"] = [
            {"name": name, "matter": matter, "created_at": created.isoformat(),
             "released_at": released.isoformat() if released else None}
            for name, matter, created, released in s.execute(
                select(Hold.name, Hold.matter, Hold.created_at, Hold.released_at)
                .join(HoldItem, HoldItem.hold_id == Hold.id)
                .where(HoldItem.item_id == item_id).order_by(Hold.created_at))]
        detail["requests"] = [
            {"request_id": request_id, "status": status, "received_on": received.isoformat(),
             "due_on": due.isoformat()}
            for request_id, status, received, due in s.execute(
                select(OpenRecordsRequest.request_id, OpenRecordsRequest.status,
                       OpenRecordsRequest.received_on, OpenRecordsRequest.due_on)
                .join(RequestItem, RequestItem.request_pk == OpenRecordsRequest.id)
                .where(RequestItem.item_id == item_id)
                .order_by(OpenRecordsRequest.received_on))]
    return detail


@dataclass(frozen=True)
class MediaBytes:
    media: StoredMedia
    data: bytes


def readable_media(archive: Archive, sha256: str, *,
                   within: AccountLimit = EVERY_ACCOUNT) -> MediaBytes:
    """A stored media file some version of an item within the limit showed, with its bytes.
    A file only items outside the limit showed is not found, like one never downloaded."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise NotFound("no such media file")
    with archive.sessions() as s:
        row = s.execute(
            select(MediaFile.sha256, MediaFile.media_type, MediaFile.size)
            .join(VersionMedia, VersionMedia.media_file_id == MediaFile.id)
            .join(ItemVersion, ItemVersion.id == VersionMedia.version_id)
            .join(Item, Item.id == ItemVersion.item_id)
            .where(MediaFile.sha256 == sha256, MediaFile.status == MediaStatus.STORED,
                   within.clause(Item.account_id), Item.disposed_at.is_(None))
            .limit(1)).first()
    if row is None:
        raise NotFound("no such media file")
    media = StoredMedia(sha256=sha256, media_type=row.media_type, size=row.size)
    return MediaBytes(media, archive.store.get(sha256))
