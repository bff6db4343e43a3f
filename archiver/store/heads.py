"""Reading items' chain heads, the record store's side of what capture compares and looks up.

Capture reads here what it needs to apply its rules (which records changed, which items a
complete listing lacked, what to look up on the platform); :mod:`archiver.store.writer` writes
what it decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from archiver.connectors.records import ItemKind, ItemRef
from archiver.store.db import table_of
from archiver.store.models import Item, ItemVersion


@dataclass(frozen=True)
class Head:
    """An item's chain head as the writer needs it: its id, latest version and hashes."""

    id: int
    current_seq: int
    current_sha256: str
    content_sha256: str
    first_captured_at: datetime | None = None
    removed_detected_at: datetime | None = None


def read_heads(session: Session, account_id: int, external_ids: Sequence[str]) -> dict[str, Head]:
    """The chain heads of the account's items among ``external_ids``, by external id (one read)."""
    return {
        row.external_id: Head(row.id, row.current_seq, row.current_sha256, row.content_sha256,
                              row.first_captured_at, row.removed_detected_at)
        for row in session.execute(
            select(Item.id, Item.external_id, Item.current_seq, Item.current_sha256,
                   Item.content_sha256, Item.first_captured_at, Item.removed_detected_at)
            .where(Item.account_id == account_id, Item.external_id.in_(list(external_ids))))
    }


def item_id_of(session: Session, account_id: int, external_id: str) -> int | None:
    """The id of the account's item ``external_id``, if the archive holds it."""
    return session.scalar(select(Item.id).where(Item.account_id == account_id,
                                                Item.external_id == external_id))


def item_ref(session: Session, item_id: int) -> ItemRef:
    """What a connector needs to look the item up on its platform."""
    item = session.get(Item, item_id)
    assert item is not None
    return ItemRef(item.external_id, ItemKind(item.kind), item.scope, item.parent_external_id)


def unseen_by_scope(session: Session, account_id: int, run_id: int) -> dict[str, list[int]]:
    """The account's items not seen by run ``run_id`` and not yet removed, by listing scope
    (one read: a scope per post would be a query per post)."""
    by_scope: dict[str, list[int]] = {}
    seen_elsewhere = Item.last_seen_run_id.is_(None) | (Item.last_seen_run_id != run_id)
    for item_id, scope in session.execute(
        select(Item.id, Item.scope).where(
            Item.account_id == account_id, Item.status != "removed", seen_elsewhere,
        ).order_by(Item.id)
    ):
        by_scope.setdefault(scope, []).append(item_id)
    return by_scope


@dataclass(frozen=True)
class Removable:
    """An item about to be marked removed, locked: its head and its latest version (a row of
    ``item_versions``), whose content the removal version carries on."""

    head: Head
    kind: str
    latest: Row[Any]


def lock_removable(session: Session, item_id: int) -> Removable | None:
    """Lock the item's row and return it, or None when it is already removed.

    Plain rows, not ORM objects: the writer updates the row with a Core statement, and a loaded
    object would go on showing the old values to whatever reads it later in the transaction.
    """
    item = session.execute(
        select(Item.id, Item.kind, Item.status, Item.current_seq, Item.current_sha256,
               Item.content_sha256, Item.first_captured_at, Item.removed_detected_at)
        .where(Item.id == item_id).with_for_update()).one()
    if item.status == "removed":
        return None
    versions = table_of(ItemVersion)
    latest = session.execute(select(versions).where(
        versions.c.item_id == item_id, versions.c.seq == item.current_seq)).one()
    head = Head(item.id, item.current_seq, item.current_sha256, item.content_sha256,
                item.first_captured_at, item.removed_detected_at)
    return Removable(head, item.kind, latest)
