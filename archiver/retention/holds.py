"""Legal holds (freezes): create, release, list, and hold new items the moment they are stored.

A hold's scope is a search (Whoosh query, account, publication dates), or everything when asked
for with ``--all`` (:mod:`archiver.retention.scope`). Creating a hold records every item its
scope matches now; :func:`hold_new_items` runs for every item the archive stores (subscribed to
the record writer by :mod:`archiver.retention.subscribers`), so an item that matches an active
hold later is held at once. A held item is never disposed. Each held
item's blobs also get the store's legal hold (S3 Object Lock legal hold on S3), released when the
last active hold covering them is released.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiver.blobs.interface import BlobStore
from archiver.errors import ArchiverError, BlobNotFound, NotFound
from archiver.retention.protection import lock_protection
from archiver.retention.scope import (
    ProtectionScope,
    check_within,
    describe_scope,
    live_ids,
    matching_ids,
    new_items_in_scope,
)
from archiver.search.interface import SearchFilters
from archiver.search.predicate import DocView
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.db import insert_ignore
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit
from archiver.store.models import Hold, HoldItem, Item, ItemVersion

CHUNK = 1000


class HoldStatus(StrEnum):
    """A hold's state, as shown: active until released (a released hold stays on record)."""

    ACTIVE = "active"
    RELEASED = "released"


@dataclass(frozen=True)
class HoldSpec:
    """What ``hold create`` is given. ``since``/``until`` bound the publication time."""

    name: str
    matter: str
    created_by: str
    query: str | None = None
    account_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    custodians: tuple[str, ...] = ()
    everything: bool = False  # --all: the only way to hold every item, now and later

    def scope(self) -> ProtectionScope:
        return ProtectionScope(query=self.query, account_id=self.account_id, since=self.since,
                               until=self.until, everything=self.everything)


def active_hold_exists_clause() -> Any:
    """SQL: the item (``Item.id``) is covered by at least one active hold."""
    return exists().where(HoldItem.item_id == Item.id, HoldItem.hold_id == Hold.id,
                          Hold.released_at.is_(None))


def held_item_ids(session: Session, item_ids: Iterable[int]) -> set[int]:
    """Which of ``item_ids`` an active hold covers."""
    ids = list(item_ids)
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        found.update(session.scalars(
            select(HoldItem.item_id).join(Hold, Hold.id == HoldItem.hold_id)
            .where(HoldItem.item_id.in_(ids[start:start + CHUNK]), Hold.released_at.is_(None))
        ))
    return found


def _filters(hold: Hold | HoldSpec) -> SearchFilters:
    return SearchFilters(account_id=hold.account_id, since=hold.since, until=hold.until)


def create_hold(archive: Archive, spec: HoldSpec) -> dict[str, Any]:
    """Create the hold, hold everything its scope matches now, and record it all."""
    if not spec.name.strip() or not spec.matter.strip():
        raise ArchiverError("a hold needs a non-empty name and --matter")
    scope = spec.scope()
    scope.check("a hold")
    item_ids = matching_ids(archive, scope.search_query(), scope.filters())
    now = archive.clock()
    try:
        with archive.transaction() as s:
            lock_protection(s, f"hold.create {spec.name}", now)
            hold = Hold(name=spec.name, matter=spec.matter, query=spec.query,
                        account_id=spec.account_id, since=spec.since, until=spec.until,
                        custodians="\n".join(spec.custodians), created_by=spec.created_by,
                        created_at=now)
            s.add(hold)
            s.flush()
            live = live_ids(s, item_ids)
            _link(s, hold.id, live, now)
            record_event(s, action="hold.create", occurred_at=now, actor=spec.created_by,
                         target_type="hold", target_id=hold.name,
                         details={**hold_json(hold), "items": len(live)})
    except IntegrityError:
        raise ArchiverError(f"a hold named {spec.name!r} already exists") from None
    set_blob_holds(archive.sessions, archive.store, live, on=True)
    return {**hold_json(hold), "items": len(live)}


def _link(session: Session, hold_id: int, item_ids: Sequence[int], now: datetime) -> None:
    for start in range(0, len(item_ids), CHUNK):
        insert_ignore(session, HoldItem, [{"hold_id": hold_id, "item_id": i, "added_at": now}
                                          for i in item_ids[start:start + CHUNK]])


def active_holds(session: Session) -> list[Hold]:
    """Every hold not released."""
    return list(session.scalars(select(Hold).where(Hold.released_at.is_(None))))


def hold_new_items(session: Session, archive: Archive, holds: Sequence[Hold],
                   docs: Sequence[DocView], engine: str) -> set[int]:
    """Hold the just-stored items that an active hold's scope matches; returns the ids newly held.

    Runs inside the transaction that stores them: the items and their new versions are written
    but not yet in the search index, so ``docs`` are the documents the index will get, tested
    with ``engine``'s checks (:func:`~archiver.retention.scope.new_items_in_scope`).
    """
    now = archive.clock()
    newly: set[int] = set()
    for hold in holds:
        found, problem = new_items_in_scope(docs, hold.query or "*", _filters(hold), engine)
        if problem is not None:
            record_event(session, action="hold.query_unrunnable", occurred_at=now,
                         target_type="hold", target_id=hold.name,
                         details={"query": hold.query, "error": problem,
                                  "held_instead": "every new item its other filters admit"})
        ids = sorted(found)
        already = set(session.scalars(select(HoldItem.item_id).where(
            HoldItem.hold_id == hold.id, HoldItem.item_id.in_(ids)))) if ids else set()
        fresh = [i for i in ids if i not in already]
        if not fresh:
            continue
        _link(session, hold.id, fresh, now)
        record_event(session, action="hold.items_added", occurred_at=now,
                     target_type="hold", target_id=hold.name,
                     details={"item_ids": fresh})
        newly.update(fresh)
    if newly:
        set_blob_holds_in(session, archive.store, sorted(newly), on=True)
    return newly


def release_hold(archive: Archive, name: str, *, released_by: str, reason: str) -> dict[str, Any]:
    """Release the hold (deliberately, with a reason) and lift blob holds no other hold needs."""
    if not released_by.strip() or not reason.strip():
        raise ArchiverError("releasing a hold needs --released-by and --reason")
    now = archive.clock()
    with archive.transaction() as s:
        hold = s.scalar(select(Hold).where(Hold.name == name).with_for_update())
        if hold is None:
            raise NotFound(f"no hold named {name!r}")
        if hold.released_at is not None:
            raise ArchiverError(f"hold {name!r} was already released on "
                                f"{hold.released_at.isoformat()} by {hold.released_by}")
        hold.released_at, hold.released_by, hold.release_reason = now, released_by, reason
        ids = list(s.scalars(select(HoldItem.item_id).where(HoldItem.hold_id == hold.id)))
        still_held = held_item_ids(s, ids)
        record_event(s, action="hold.release", occurred_at=now, actor=released_by,
                     target_type="hold", target_id=name,
                     details={"reason": reason, "items": len(ids),
                              "items_still_held_by_other_holds": len(still_held)})
        result = {**hold_json(hold), "items": len(ids)}
    with archive.sessions() as s:
        kept = _blobs_of(s, sorted(still_held))
        freed = [b for b in _blobs_of(s, ids) if b not in kept]
    _set_holds(archive.store, freed, on=False)
    return result


def check_hold_within(archive: Archive, name: str, limit: AccountLimit) -> None:
    """A one-line error unless the hold's scope stays within ``limit`` (a user limited to some
    accounts releases only holds over one of them); NotFound for no such hold."""
    with archive.sessions() as s:
        hold = s.scalar(select(Hold).where(Hold.name == name))
        if hold is None:
            raise NotFound(f"no hold named {name!r}")
        scope = ProtectionScope(query=hold.query, account_id=hold.account_id, since=hold.since,
                                until=hold.until)
    check_within(scope, limit, "release holds over")


def hold_json(hold: Hold) -> dict[str, Any]:
    """A hold as JSON; ``scope`` says in words what it covers."""
    return {
        "name": hold.name, "matter": hold.matter,
        "scope": describe_scope(hold.query, hold.account_id, hold.since, hold.until),
        "query": hold.query,
        "account_id": hold.account_id,
        "since": hold.since.isoformat() if hold.since else None,
        "until": hold.until.isoformat() if hold.until else None,
        "custodians": [c for c in hold.custodians.split("\n") if c],
        "created_by": hold.created_by, "created_at": hold.created_at.isoformat(),
        "status": HoldStatus.ACTIVE if hold.released_at is None else HoldStatus.RELEASED,
        "released_at": hold.released_at.isoformat() if hold.released_at else None,
        "released_by": hold.released_by, "release_reason": hold.release_reason,
    }


def list_holds(archive: Archive, *, within: AccountLimit = EVERY_ACCOUNT) -> list[dict[str, Any]]:
    """Every hold, oldest first, with how many items it covers (of the accounts ``within``
    allows)."""
    from sqlalchemy import func

    with archive.sessions() as s:
        counts = dict(s.execute(select(HoldItem.hold_id, func.count())
                                .join(Item, Item.id == HoldItem.item_id)
                                .where(within.clause(Item.account_id))
                                .group_by(HoldItem.hold_id)).all())
        return [{**hold_json(h), "items": counts.get(h.id, 0)}
                for h in s.scalars(select(Hold).order_by(Hold.id))]


def hold_detail(archive: Archive, name: str) -> dict[str, Any]:
    """One hold and the ids of every item it covers."""
    with archive.sessions() as s:
        hold = s.scalar(select(Hold).where(Hold.name == name))
        if hold is None:
            raise NotFound(f"no hold named {name!r}")
        ids = list(s.scalars(select(HoldItem.item_id).where(HoldItem.hold_id == hold.id)
                             .order_by(HoldItem.item_id)))
        return {**hold_json(hold), "items": len(ids), "item_ids": ids}


# -- blob legal holds --------------------------------------------------------------------------


def _blobs_of(session: Session, item_ids: Sequence[int]) -> list[str]:
    found: set[str] = set()
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start:start + CHUNK]
        query = union(
            select(ItemVersion.record_sha256.label("sha")).where(ItemVersion.item_id.in_(chunk)),
            select(ItemVersion.evidence_sha256.label("sha")).where(
                ItemVersion.item_id.in_(chunk)),
        )
        found.update(sha for (sha,) in session.execute(query) if sha)
    return sorted(found)


def _set_holds(store: BlobStore, hashes: Iterable[str], *, on: bool) -> None:
    for sha in hashes:
        try:
            store.set_legal_hold(sha, on)
        except BlobNotFound:
            continue  # already destroyed by an earlier disposition: nothing left to hold


def set_blob_holds_in(session: Session, store: BlobStore, item_ids: Sequence[int], *,
                      on: bool) -> None:
    """Turn the store's legal hold on/off for every blob of ``item_ids`` (inside a session)."""
    _set_holds(store, _blobs_of(session, item_ids), on=on)


def set_blob_holds(sessions: Any, store: BlobStore, item_ids: Sequence[int], *, on: bool) -> None:
    with sessions() as s:
        hashes = _blobs_of(s, item_ids)
    _set_holds(store, hashes, on=on)
