"""Search: the index finds the items, the database tells what they are."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, select

from archiver.errors import NotFound
from archiver.search.interface import SearchFilters
from archiver.store.accounts import get_account
from archiver.store.archive import Archive
from archiver.store.item_json import ITEM_KEYS, ItemJson, item_record, version_record
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit
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
    archive: Archive, query: str, filters: SearchFilters, *, limit: int = 20, offset: int = 0,
    within: AccountLimit = EVERY_ACCOUNT,
) -> SearchOutcome:
    """Run ``query`` (Whoosh syntax, ``*`` for everything) and return the contract's rows.

    ``within`` is the reader's account limit: nothing outside it is found or counted. An account
    filter must name an account the reader may see: otherwise it is an error (the same one for
    an account outside the limit as for a mistyped id), not an empty answer."""
    filters = limited_filters(archive, filters, within)
    found = archive.index.search(query, filters, limit=limit, offset=offset)
    rows = item_rows(archive, [hit.item_id for hit in found.hits])
    results = [rows[hit.item_id] for hit in found.hits if hit.item_id in rows]
    matched = matched_versions(archive, query, [r["item_id"] for r in results])
    for row in results:
        row["matched_versions"] = matched.get(row["item_id"], [])
    return SearchOutcome(total=found.total, threads=found.threads, results=results)


def limited_filters(archive: Archive, filters: SearchFilters,
                    within: AccountLimit) -> SearchFilters:
    """``filters`` narrowed to the reader's account limit; an account filter naming an account
    that does not exist or lies outside the limit is :class:`NotFound`."""
    if filters.account_id is not None:
        if not within.allows(filters.account_id):
            # Word for word what a mistyped id gets: the limit does not tell what exists.
            raise NotFound(f"no account with id {filters.account_id} (see 'archiver accounts "
                           "list')")
        get_account(archive, filters.account_id)
    if within.unlimited:
        return filters
    return replace(filters, account_ids=within.narrowed(filters.account_ids))


# The values each facet counts; accounts and platforms come from the registered accounts.
STATUS_VALUES = ("active", "hidden", "removed")
KIND_VALUES = ("post", "comment", "reply", "media", "page_revision")


def facet_counts(archive: Archive, query: str, filters: SearchFilters, *,
                 within: AccountLimit = EVERY_ACCOUNT) -> dict[str, dict[str, int]]:
    """How many items matching ``query`` and ``filters`` each value of each facet (status,
    kind, platform, account id) would leave: the numbers beside a search page's filters. A
    facet's own filter is left out when counting it, so its other values stay visible.
    Values with no items are left out."""
    filters = limited_filters(archive, filters, within)
    with archive.sessions() as s:
        accounts = [(a_id, platform) for a_id, platform in
                    s.execute(select(Account.id, Account.platform).order_by(Account.id))
                    if within.allows(a_id)]
    values: dict[str, Sequence[object]] = {
        "status": list(STATUS_VALUES), "kind": list(KIND_VALUES),
        "platform": sorted({platform for _, platform in accounts}),
        "account_id": [a_id for a_id, _ in accounts],
    }
    return archive.index.facet_counts(query, filters, values)


def snippet(text: str | None, query: str, *, width: int = 240) -> list[tuple[str, bool]]:
    """A short stretch of ``text`` around the first word of ``query`` it holds, as pieces
    ``(text, is_match)`` for a page to mark up (escaping each piece itself)."""
    if not text:
        return []
    terms = query_terms(query)
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)
             if _matches(m.group().lower(), terms)]
    start = 0
    if spans and spans[0][0] > width // 3:
        start = spans[0][0] - width // 3
    end = min(len(text), start + width)
    pieces: list[tuple[str, bool]] = [("…", False)] if start else []
    at = start
    for a, b in spans:
        if a < start or b > end:
            continue
        if a > at:
            pieces.append((text[at:a], False))
        pieces.append((text[a:b], True))
        at = b
    if at < end:
        pieces.append((text[at:end], False))
    if end < len(text):
        pieces.append(("…", False))
    return pieces


def _matches(word: str, terms: list[str]) -> bool:
    return any((t[:-1] and word.startswith(t[:-1])) if t.endswith("*") else word == t
               for t in terms)


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
            if not terms or any(_matches(w, terms) for w in words):
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
