"""One item and its whole history, as ``archiver items show`` prints it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from archiver.errors import NotFound
from archiver.monitoring.review import item_review
from archiver.retention.tombstones import item_dispositions
from archiver.search.items import result_row
from archiver.store.archive import Archive
from archiver.store.items import version_json
from archiver.store.models import Account, Item, ItemVersion


def item_detail(archive: Archive, item_id: int) -> dict[str, Any]:
    """The item (contract fields plus capture facts) and all its versions, oldest first; a
    destroyed item's ``dispositions`` say when, under what and on which certificate; ``review``
    holds the monitoring flags on its versions and the reviewers' decisions."""
    with archive.sessions() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise NotFound(f"no item with id {item_id}")
        account = s.get(Account, item.account_id)
        assert account is not None
        versions = list(
            s.scalars(
                select(ItemVersion).where(ItemVersion.item_id == item_id)
                .order_by(ItemVersion.seq)
            )
        )
        dispositions = item_dispositions(s, item_id)
        review = item_review(s, item_id)
    if not versions:
        raise NotFound(f"item {item_id} has no versions (run 'archiver verify')")
    detail = result_row(item, versions[-1], account.platform)
    detail.update(
        account=account.handle,
        platform_status=versions[-1].platform_status,
        first_captured_at=item.first_captured_at.isoformat(),
        last_seen_at=item.last_seen_at.isoformat(),
        removed_detected_at=(
            item.removed_detected_at.isoformat() if item.removed_detected_at else None
        ),
        removal_evidence_sha256=item.removal_evidence_sha256,
        removal_evidence=_evidence(archive, item.removal_evidence_sha256),
        versions=[version_json(v) for v in versions],
        disposed_at=item.disposed_at.isoformat() if item.disposed_at else None,
        dispositions=dispositions,
        review=review,
    )
    return detail


def _evidence(archive: Archive, sha: str | None) -> Any:
    if sha is None:
        return None
    return json.loads(archive.store.get(sha))
