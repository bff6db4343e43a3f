"""One item and its whole history, as ``archiver items show`` prints it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.errors import NotFound
from archiver.monitoring.review import item_review
from archiver.retention.tombstones import item_dispositions
from archiver.store.archive import Archive
from archiver.store.item_json import ITEM_KEYS, ItemJson, item_record, version_record
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit
from archiver.store.models import Account, Item, ItemVersion, WarcFile, WarcRecord
from archiver.store.threads import thread_root


def item_detail(archive: Archive, item_id: int, *,
                within: AccountLimit = EVERY_ACCOUNT) -> ItemJson:
    """The item in the one shape (:mod:`archiver.store.item_json`) with all its versions, oldest
    first, the proof of its removal and each version's WARC record; a destroyed item's
    ``dispositions`` say when, under what and on which certificate. An item outside the
    reader's account limit ``within`` is not found, like one that never existed. ``review``
    holds the monitoring flags on its versions and the reviewers' decisions."""
    with archive.sessions() as s:
        item = s.get(Item, item_id)
        if item is None or not within.allows(item.account_id):
            raise NotFound(f"no item with id {item_id}")
        account = s.get(Account, item.account_id)
        assert account is not None
        versions = [version_record(v) for v in s.scalars(
            select(ItemVersion).where(ItemVersion.item_id == item_id).order_by(ItemVersion.seq))]
        dispositions = item_dispositions(s, item_id)
        thread = thread_root(s, item_id)
        review = item_review(s, item_id)
        warc = _warc_records(s, item_id)
    if not versions:
        raise NotFound(f"item {item_id} has no versions (run 'archiver verify')")
    assert thread is not None  # the item exists, so its thread does
    detail = item_record(item, account, thread).to_json(ITEM_KEYS, current=versions[-1],
                                                        versions=versions)
    detail["removal_evidence"] = _evidence(archive, item.removal_evidence_sha256)
    detail["dispositions"] = dispositions
    detail["review"] = review
    detail["warc_records"] = warc
    return detail


def _warc_records(s: Session, item_id: int) -> list[dict[str, Any]]:
    """Each version's WARC record: the file (its blob), where in it, its id and payload digest,
    and, for a record a purge rewrote or removed, the original's id and digest."""
    rows = s.execute(
        select(ItemVersion.seq, WarcFile.sha256, WarcRecord.file_offset, WarcRecord.record_id,
               WarcRecord.record_type, WarcRecord.target_uri, WarcRecord.captured_at,
               WarcRecord.payload_digest, WarcRecord.original_record_id,
               WarcRecord.original_payload_digest, WarcRecord.removed_at)
        .join(WarcRecord, WarcRecord.id == ItemVersion.warc_record_id)
        .join(WarcFile, WarcFile.id == WarcRecord.warc_file_id)
        .where(ItemVersion.item_id == item_id).order_by(ItemVersion.seq))
    return [{"seq": r.seq, "warc_file_sha256": r.sha256, "offset": r.file_offset,
             "record_id": r.record_id, "record_type": r.record_type, "target_uri": r.target_uri,
             "captured_at": r.captured_at.isoformat(), "payload_digest": r.payload_digest,
             "original_record_id": r.original_record_id,
             "original_payload_digest": r.original_payload_digest,
             "removed_at": r.removed_at.isoformat() if r.removed_at else None} for r in rows]


def _evidence(archive: Archive, sha: str | None) -> Any:
    if sha is None:
        return None
    return json.loads(archive.store.get(sha))
