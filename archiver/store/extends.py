"""Does the archive still extend a checkpoint? (``archiver verify --since FILE``)

Everything a checkpoint names must still be there, unchanged: every item, with the version that
was its head (same seq, same hash) still in its chain, and the audit chain's head event (same id,
same hash) with as many events up to it. ``verify`` then proves that each chain still links and
re-hashes from those heads onwards; together they show that nothing the checkpoint witnessed was
rewritten, removed or cut off, however carefully the hashes in the database were re-sealed.

A purge after the checkpoint keeps every destroyed version's row and hash (its tombstone
lists them), so a destroyed item still extends its checkpoint; what the check adds is that the
purge that destroyed it is itself on the audit chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver.store.checkpoints import LoadedCheckpoint
from archiver.store.models import AuditEvent, Item, ItemVersion, Tombstone

PURGE_START = "retention.purge.start"


@dataclass(frozen=True)
class Departure:
    """One way the archive no longer extends the checkpoint."""

    kind: str  # item | audit
    id: str
    reason: str


@dataclass
class ExtendsReport:
    """What the check found besides departures: items checked, and destroyed since."""

    items: int = 0
    destroyed_since: int = 0


def _versions(session: Session) -> Iterator[tuple[int, int, str]]:
    rows = session.connection().execute(
        select(ItemVersion.item_id, ItemVersion.seq, ItemVersion.sha256)
        .order_by(ItemVersion.item_id, ItemVersion.seq).execution_options(yield_per=5000))
    for item_id, seq, sha in rows:
        yield int(item_id), int(seq), str(sha)


def _item_ids(session: Session) -> Iterator[int]:
    rows = session.connection().execute(
        select(Item.id).order_by(Item.id).execution_options(yield_per=5000))
    for (item_id,) in rows:
        yield int(item_id)


def check_items(session: Session, checkpoint: LoadedCheckpoint,
                report: ExtendsReport) -> Iterator[Departure]:
    """Every checkpointed item still there with its checkpointed head in its chain (a merge
    of the checkpoint's heads with the items and versions, all in item id order)."""
    items = _item_ids(session)
    versions = _versions(session)
    item = next(items, None)
    version = next(versions, None)
    for item_id, seq, sha in checkpoint.heads:
        report.items += 1
        while item is not None and item < item_id:
            item = next(items, None)
        while version is not None and (version[0], version[1]) < (item_id, seq):
            version = next(versions, None)
        if item != item_id:
            yield Departure("item", str(item_id),
                            f"item {item_id} (at v{seq} in the checkpoint) is gone")
        elif version is None or (version[0], version[1]) != (item_id, seq):
            yield Departure("item", str(item_id),
                            f"item {item_id}: v{seq}, its head at the checkpoint, is gone from "
                            "its chain")
        elif version[2] != sha:
            yield Departure("item", str(item_id),
                            f"item {item_id} v{seq}: hash {version[2][:16]} differs from the "
                            f"checkpoint's {sha[:16]}: rewritten since")


def check_purges(session: Session, checkpoint: LoadedCheckpoint,
                 report: ExtendsReport) -> Iterator[Departure]:
    """A checkpointed head destroyed since must have been destroyed by a purge the audit chain
    records after the checkpoint."""
    heads = {item_id: seq for item_id, seq, _ in checkpoint.heads}
    after = checkpoint.audit["last_event_id"] or 0
    audited = {int(t or 0) for t in session.scalars(
        select(AuditEvent.target_id).where(AuditEvent.action == PURGE_START,
                                           AuditEvent.target_type == "disposition",
                                           AuditEvent.id > after))}
    before = {int(t or 0) for t in session.scalars(
        select(AuditEvent.target_id).where(AuditEvent.action == PURGE_START,
                                           AuditEvent.target_type == "disposition",
                                           AuditEvent.id <= after))}
    rows = session.execute(select(Tombstone.item_id, Tombstone.disposition_id, Tombstone.last_seq)
                           .order_by(Tombstone.id))
    for item_id, disposition_id, last_seq in rows:
        seq = heads.get(item_id)
        if seq is None or last_seq < seq or disposition_id in before:
            continue  # not a checkpointed head, or destroyed before the checkpoint was taken
        if disposition_id in audited:
            report.destroyed_since += 1
        else:
            yield Departure("item", str(item_id),
                            f"item {item_id}: destroyed since the checkpoint, but no purge after "
                            f"it records disposition {disposition_id}")


def check_audit(session: Session, checkpoint: LoadedCheckpoint) -> Iterator[Departure]:
    """The checkpointed audit head is still in the chain, with as many events up to it."""
    audit = checkpoint.audit
    last_id, last_sha, count = audit["last_event_id"], audit["last_sha256"], audit["event_count"]
    if last_id is None:
        return
    stored = session.scalar(select(AuditEvent.sha256).where(AuditEvent.id == last_id))
    if stored is None:
        yield Departure("audit", str(last_id),
                        f"audit event {last_id}, the chain's head at the checkpoint, is gone")
    elif stored != last_sha:
        yield Departure("audit", str(last_id),
                        f"audit event {last_id}: hash {stored[:16]} differs from the "
                        f"checkpoint's {last_sha[:16]}: the chain was rewritten since")
    up_to = session.scalar(select(func.count()).select_from(AuditEvent)
                           .where(AuditEvent.id <= last_id)) or 0
    if up_to != count:
        yield Departure("audit", "head",
                        f"{up_to} audit events up to event {last_id}, the checkpoint counted "
                        f"{count}: events were removed or inserted since")
