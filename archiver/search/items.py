"""Search: the index finds the items, the database tells what they are."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select

from archiver.search.interface import SearchFilters
from archiver.store.accounts import get_account
from archiver.store.archive import Archive
from archiver.store.item_json import ITEM_KEYS, ItemJson, item_record, version_record
from archiver.store.models import Account, Item, ItemVersion
from archiver.store.threads import roots_of, thread_key


@dataclass(frozen=True)
class SearchOutcome:
    total: int
    threads: int
    results: list[ItemJson]

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "threads": self.threads, "results": self.results}


def search_items(
    archive: Archive, query: str, filters: SearchFilters, *, limit: int = 20, offset: int = 0
) -> SearchOutcome:
    """Run ``query`` (Whoosh syntax, ``*`` for everything) and return the contract's rows.

    An account filter must name an account: a mistyped id is an error, not an empty answer."""
    if filters.account_id is not None:
        get_account(archive, filters.account_id)
    found = archive.index.search(query, filters, limit=limit, offset=offset)
    rows = item_rows(archive, [hit.item_id for hit in found.hits])
    results = [rows[hit.item_id] for hit in found.hits if hit.item_id in rows]
    matched = matched_versions(archive, query, [r["item_id"] for r in results])
    for row in results:
        row["matched_versions"] = matched.get(row["item_id"], [])
    return SearchOutcome(total=found.total, threads=found.threads, results=results)


_WORD = re.compile(r"\w+\*?")
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"})


def query_terms(query: str) -> list[str]:
    """The bare words of a query, lower-cased (operators and ``field:`` filters left out)."""
    plain = re.sub(r"\b\w+:(\[[^\]]*\]|\"[^\"]*\"|\S+)", " ", query)
    plain = re.sub(r"\bNOT\s+(\"[^\"]*\"|\S+)", " ", plain)
    return [w.lower() for w in _WORD.findall(plain) if w not in _OPERATORS]


def matched_versions(archive: Archive, query: str, item_ids: list[int]) -> dict[int, list[int]]:
    """For each item, the version numbers whose text holds a word of the query (a wildcard
    ``word*`` matches as a prefix). With no words (``*``) every version counts. This shows
    where text that was edited away appeared."""
    if not item_ids:
        return {}
    terms = query_terms(query)
    out: dict[int, list[int]] = {i: [] for i in item_ids}
    with archive.sessions() as s:
        rows = s.execute(select(ItemVersion.item_id, ItemVersion.seq, ItemVersion.text)
                         .where(ItemVersion.item_id.in_(item_ids))
                         .order_by(ItemVersion.item_id, ItemVersion.seq))
        for item_id, seq, text in rows:
            words = set(_WORD.findall((text or "").lower()))
            if not terms or any(
                (t[:-1] and any(w.startswith(t[:-1]) for w in words)) if t.endswith("*")
                else t in words for t in terms
            ):
                out[item_id].append(seq)
    return out


def item_rows(archive: Archive, item_ids: list[int]) -> dict[int, ItemJson]:
    """Each item as a search result (the one shape without versions, see
    :mod:`archiver.store.item_json`), keyed by item id."""
    if not item_ids:
        return {}
    with archive.sessions() as s:
        rows = s.execute(
            select(Item, ItemVersion, Account)
            .join(ItemVersion, and_(ItemVersion.item_id == Item.id,
                                    ItemVersion.seq == Item.current_seq))
            .join(Account, Account.id == Item.account_id)
            .where(Item.id.in_(item_ids))
        ).all()
        roots = roots_of(s, {item.id: thread_key(item.account_id, item.external_id, item.scope)
                             for item, _, _ in rows})
    return {item.id: item_record(item, account, roots[item.id]).to_json(
                ITEM_KEYS, current=version_record(version))
            for item, version, account in rows}
