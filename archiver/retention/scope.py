"""What a legal hold or a records request covers: a search, or everything said in so many words.

A scope is a query (the search index's syntax) narrowed by an account and publication dates.
Covering the whole archive has to be asked for (``--all``): an empty scope is refused, so a
forgotten ``--query`` never quietly holds or protects everything, now and later.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.errors import ArchiverError, QueryError
from archiver.search.factory import check_query
from archiver.search.indexing import catch_up_index
from archiver.search.interface import SearchFilters
from archiver.search.items import item_rows
from archiver.search.predicate import DocView, docs_matching
from archiver.store.archive import Archive
from archiver.store.item_json import ItemJson
from archiver.store.limits import AccountLimit, ids_within
from archiver.store.models import Item

CHUNK = 1000
EVERYTHING = "everything (--all)"
_MOMENTS = ("since", "until", "captured_since", "captured_until")


@dataclass(frozen=True)
class ProtectionScope:
    """The options ``hold create``, ``requests add`` and ``requests scope`` share.

    ``since``/``until`` bound the publication time; ``everything`` is ``--all``.
    """

    query: str | None = None
    account_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    everything: bool = False

    def narrowed(self) -> bool:
        """True when any of the search options is given."""
        return any(v is not None for v in (self.query, self.account_id, self.since, self.until))

    def check(self, what: str) -> None:
        """Raise a one-line error unless the scope says what it covers (``what``: "a hold")."""
        if self.query is not None and not self.query.strip():
            raise ArchiverError("--query is empty: give a query, or --all to cover everything")
        if self.everything and self.narrowed():
            raise ArchiverError(f"--all goes alone: {what} covers everything, or what --query, "
                                "--account, --since and --until select")
        if not self.everything and not self.narrowed():
            raise ArchiverError(f"{what} needs a scope: give --query, --account, --since or "
                                "--until, or --all to cover everything")
        if self.since and self.until and self.since > self.until:
            raise ArchiverError(f"--since is after --until: {what} would cover nothing")

    def search_query(self) -> str:
        return self.query or "*"

    def filters(self) -> SearchFilters:
        return SearchFilters(account_id=self.account_id, since=self.since, until=self.until)

    def filters_json(self) -> str:
        """The filters as stored with a request's scope (the form exports record)."""
        return filters_to_json(self.filters())

    def describe(self) -> str:
        return describe_scope(self.query, self.account_id, self.since, self.until)


def check_within(scope: ProtectionScope, limit: AccountLimit, what: str) -> None:
    """A one-line error unless ``scope`` stays within the accounts ``limit`` allows: a user
    limited to some accounts names one of them (``what``: "hold", "cover")."""
    if limit.account_ids is None:
        return
    if scope.account_id is None or scope.account_id not in limit.account_ids:
        mine = ", ".join(map(str, sorted(limit.account_ids))) or "none"
        raise ArchiverError(f"you may only {what} items of your own accounts: choose one "
                            f"(account {mine})")


@dataclass(frozen=True)
class ScopePreview:
    """How many items a scope covers within an account limit, and the first of them (the
    search's result rows, newest item first)."""

    count: int
    items: list[ItemJson]


def preview_items(archive: Archive, item_ids: Sequence[int], within: AccountLimit,
                  first: int = 20) -> ScopePreview:
    """:class:`ScopePreview` of ``item_ids``, only those ``within`` allows."""
    with archive.sessions() as s:
        allowed = ids_within(s, sorted(item_ids, reverse=True), within)
    rows = item_rows(archive, allowed[:first])
    return ScopePreview(count=len(allowed), items=[rows[i] for i in allowed[:first] if i in rows])


def preview_scope(archive: Archive, scope: ProtectionScope, within: AccountLimit,
                  first: int = 20) -> ScopePreview:
    """What ``scope`` would cover now, within ``within``; nothing is held or protected."""
    return preview_items(archive, matching_ids(archive, scope.search_query(), scope.filters()),
                         within, first)


def describe_scope(query: str | None, account_id: int | None, since: datetime | None,
                   until: datetime | None) -> str:
    """One line saying what a scope covers, e.g. ``query 'closure'; account 3``."""
    parts: list[str] = []
    if query is not None and query.strip() != "*":
        parts.append(f"query {query!r}")
    if account_id is not None:
        parts.append(f"account {account_id}")
    if since and until:
        parts.append(f"published {since.isoformat()} .. {until.isoformat()}")
    elif since:
        parts.append(f"published since {since.isoformat()}")
    elif until:
        parts.append(f"published until {until.isoformat()}")
    return "; ".join(parts) or EVERYTHING


def filters_to_json(filters: SearchFilters) -> str:
    return json.dumps(filters.as_json(), sort_keys=True)


def filters_from_json(text: str) -> SearchFilters:
    """The filters a request scope row stored (by registration or by an export)."""
    data: dict[str, Any] = json.loads(text or "{}")
    known = set(vars(SearchFilters()))
    values: dict[str, Any] = {k: (datetime.fromisoformat(v) if k in _MOMENTS and v else v)
                              for k, v in data.items() if k in known}
    for name in ("account_ids", "without_kinds"):
        if values.get(name) is not None:
            values[name] = frozenset(values[name])
    return SearchFilters(**values)


def describe_filters_json(query: str, filters_json: str) -> str:
    """:func:`describe_scope` for a stored request scope row, naming its other filters too."""
    filters = filters_from_json(filters_json)
    text = describe_scope(query, filters.account_id, filters.since, filters.until)
    others = [f"{k} {v}" for k, v in filters.as_json().items()
              if k not in ("account_id", "since", "until")]
    if not others:
        return text
    return "; ".join(([] if text == EVERYTHING else [text]) + others)


def matching_ids(archive: Archive, query: str, filters: SearchFilters) -> list[int]:
    """Every item the scope matches in the search index, brought up to date first."""
    catch_up_index(archive)  # items stored but not yet indexed must not escape the scope
    return sorted(archive.index.matching(query, filters))


def live_ids(session: Session, item_ids: Sequence[int]) -> list[int]:
    """Those of ``item_ids`` not destroyed (read under the protection lock: final)."""
    out: list[int] = []
    for start in range(0, len(item_ids), CHUNK):
        out.extend(session.scalars(select(Item.id).where(
            Item.id.in_(item_ids[start:start + CHUNK]), Item.disposed_at.is_(None))))
    return out


def new_items_in_scope(docs: Sequence[DocView], query: str, filters: SearchFilters,
                       engine: str) -> tuple[set[int], str | None]:
    """The ids of ``docs`` (items just stored, not yet indexed) that a saved scope covers, and
    why its query could not run, if it could not.

    The query is tested as a predicate (:mod:`archiver.search.predicate`), after the checks the
    configured ``engine`` makes, so a query that engine refuses is refused here too. A query
    saved before the query rules tightened may no longer parse. Capture must not fail for it,
    and a duty to preserve must not shrink: every item the scope's other filters admit is then
    covered, and the reason is returned so the caller can audit it.
    """
    try:
        check_query(query, engine)
        return docs_matching(docs, query, filters), None
    except QueryError as exc:
        return docs_matching(docs, "*", filters), str(exc)
