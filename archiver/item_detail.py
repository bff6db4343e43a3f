"""One item and its whole history, as ``archiver items show`` prints it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from archiver.errors import NotFound
from archiver.monitoring.review import item_review
from archiver.retention.tombstones import item_dispositions
from archiver.store.archive import Archive
from archiver.store.item_json import ITEM_KEYS, ItemJson, item_record, version_record
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit
from archiver.store.models import Account, Item, ItemVersion
from archiver.store.threads import thread_root


def item_detail(archive: Archive, item_id: int, *,
                within: AccountLimit = EVERY_ACCOUNT) -> ItemJson:
    """The item in the one shape (:mod:`archiver.store.item_json`) with all its versions, oldest
    first, and the proof of its removal; a destroyed item's ``dispositions`` say when, under
    what and on which certificate. An item outside the reader's account limit ``within`` is not
    found, like one that never existed. ``review`` holds the monitoring flags on its versions
    and the reviewers' decisions."""
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
    if not versions:
        raise NotFound(f"item {item_id} has no versions (run 'archiver verify')")
    assert thread is not None  # the item exists, so its thread does
    detail = item_record(item, account, thread).to_json(ITEM_KEYS, current=versions[-1],
                                                        versions=versions)
    detail["removal_evidence"] = _evidence(archive, item.removal_evidence_sha256)
    detail["dispositions"] = dispositions
    detail["review"] = review
    return detail


def _evidence(archive: Archive, sha: str | None) -> Any:
    if sha is None:
        return None
    return json.loads(archive.store.get(sha))
