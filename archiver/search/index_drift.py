"""Comparing the search index with the database: which items the index lacks, holds at an older
version, or holds though the database no longer does, and the count of items per status.

The database is the record and the index is derived from it, so any difference is damage:
``archiver verify`` reports it, and :func:`archiver.search.indexing.catch_up_index` repairs it.

Both sides are read once. The index's ``(item_id, seq)`` pairs are kept in compact arrays, one
per block of item ids (16 bytes an item); the database's items are then streamed in id order and
each block is compared as it completes, so nothing else grows with the archive. A capture
running meanwhile can show as drift (it commits to the database first, then to the index).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from archiver.connectors.records import ItemStatus
from archiver.search.interface import SearchFilters
from archiver.store.archive import Archive
from archiver.store.models import Item

BLOCK = 4096  # item ids per compared block


@dataclass
class IndexDrift:
    """How the index differs from the database (every list in item id order)."""

    missing: list[int] = field(default_factory=list)  # in the database, not in the index
    stale: list[int] = field(default_factory=list)  # in the index at another version
    extra: list[int] = field(default_factory=list)  # in the index, not (or no longer) stored
    # status -> (items in the database, items in the index), where the two differ
    statuses: dict[str, tuple[int, int]] = field(default_factory=dict)
    database_items: int = 0
    index_items: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.extra or self.statuses)


def compare_index(archive: Archive) -> IndexDrift:
    """Compare every live (not destroyed) item's current version with the index's entries."""
    drift = IndexDrift()
    blocks = _index_blocks(archive.index.entries())
    with archive.sessions() as s:
        rows = s.connection().execute(
            select(Item.id, Item.current_seq).where(Item.disposed_at.is_(None))
            .order_by(Item.id).execution_options(yield_per=5000))
        block: list[tuple[int, int]] = []
        for item_id, seq in rows:
            drift.database_items += 1
            if block and block[0][0] // BLOCK != item_id // BLOCK:
                _compare_block(block, blocks, drift)
                block = []
            block.append((item_id, seq))
        if block:
            _compare_block(block, blocks, drift)
    for number in sorted(blocks):  # blocks the database has no item in
        drift.extra.extend(sorted(blocks[number][::2]))
    drift.index_items += sum(len(b) // 2 for b in blocks.values())
    _compare_statuses(archive, drift)
    return drift


def _index_blocks(entries: Iterable[tuple[int, int]]) -> dict[int, array[int]]:
    """The index's entries as ``item_id, seq, item_id, seq, ...`` arrays, one per id block."""
    blocks: dict[int, array[int]] = {}
    for item_id, seq in entries:
        number = item_id // BLOCK
        found = blocks.get(number)
        if found is None:
            found = blocks[number] = array("q")
        found.append(item_id)
        found.append(seq)
    return blocks


def _compare_block(rows: list[tuple[int, int]], blocks: dict[int, array[int]],
                   drift: IndexDrift) -> None:
    pairs = blocks.pop(rows[0][0] // BLOCK, array("q"))
    indexed = dict(zip(pairs[::2], pairs[1::2], strict=True))
    drift.index_items += len(indexed)
    for item_id, seq in rows:
        have = indexed.pop(item_id, None)
        if have is None:
            drift.missing.append(item_id)
        elif have != seq:
            drift.stale.append(item_id)
    drift.extra.extend(sorted(indexed))


def _compare_statuses(archive: Archive, drift: IndexDrift) -> None:
    with archive.sessions() as s:
        stored = dict(s.execute(select(Item.status, func.count()).where(
            Item.disposed_at.is_(None)).group_by(Item.status)).all())
    index = archive.index
    counted = 0
    for status in ItemStatus:
        have = index.search("*", SearchFilters(status=status), limit=0).total
        counted += have
        if have != stored.get(status, 0):
            drift.statuses[status] = (stored.get(status, 0), have)
    # A status outside the vocabulary cannot be asked of the index by name: such items are
    # compared together, as what the index holds beyond the known statuses.
    other_stored = sum(n for status, n in stored.items() if status not in set(ItemStatus))
    other = index.count() - counted
    if other != other_stored:
        drift.statuses["(other)"] = (other_stored, other)
