"""Search: the index finds the items, the database tells what they are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select

from archiver.archive import Archive
from archiver.models import Account, Item, ItemVersion
from archiver.search_index import SearchFilters


@dataclass(frozen=True)
class SearchOutcome:
    total: int
    threads: int
    results: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "threads": self.threads, "results": self.results}


def search_items(
    archive: Archive, query: str, filters: SearchFilters, *, limit: int = 20, offset: int = 0
) -> SearchOutcome:
    """Run ``query`` (Whoosh syntax, ``*`` for everything) and return the contract's rows."""
    found = archive.index.search(query, filters, limit=limit, offset=offset)
    rows = item_rows(archive, [hit.item_id for hit in found.hits])
    results = [rows[hit.item_id] for hit in found.hits if hit.item_id in rows]
    return SearchOutcome(total=found.total, threads=found.threads, results=results)


def item_rows(archive: Archive, item_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The contract's result row for each item (its current version), keyed by item id."""
    if not item_ids:
        return {}
    with archive.sessions() as s:
        query = (
            select(Item, ItemVersion, Account.platform)
            .join(ItemVersion, and_(ItemVersion.item_id == Item.id,
                                    ItemVersion.seq == Item.current_seq))
            .join(Account, Account.id == Item.account_id)
            .where(Item.id.in_(item_ids))
        )
        return {item.id: result_row(item, version, platform)
                for item, version, platform in s.execute(query)}


def result_row(item: Item, current: ItemVersion, platform: str) -> dict[str, Any]:
    return {
        "item_id": item.id,
        "account_id": item.account_id,
        "platform": platform,
        "external_id": item.external_id,
        "kind": item.kind,
        "status": item.status,
        "author": current.author_name,
        "created_at": current.created_at.isoformat() if current.created_at else None,
        "text": current.text,
        "url": current.url,
        "version_count": item.current_seq,
        "parent_id": item.parent_id,
    }
