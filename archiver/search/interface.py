"""The search index, as the rest of the archiver sees it: plain values and a small interface.

The database holds the records; the index only answers "which item ids match this query and these
filters". Two engines serve this interface: Whoosh (:mod:`archiver.search.whoosh.index`, the
default) and
SQLite FTS5 (:mod:`archiver.search.fts5.index`), chosen with ``ARCHIVER_INDEX_ENGINE``; both read
the
same query language and return the same results contract.

Typical use::

    index = open_index(settings.index_dir, engine=settings.index_engine)  # search.factory
    index.add(docs)                                  # upsert by item_id, one commit
    found = index.search('"traffic stop" OR taser', SearchFilters(status=ItemStatus.REMOVED),
                         limit=20)
    ids = [hit.item_id for hit in found.hits]        # then load the items from the database
    index.close()

Query syntax (Whoosh's): ``AND``/``OR``/``NOT``, ``"phrases"``, ``field:value`` (``author:jane``,
``status:removed``, ``kind:comment``, ``account:handle``, ``platform:facebook``), wildcards
(``offic*``, ``?losure``, ``tr*fic``), ranges (``text:[closure TO closures]``, ``item_id:[2 TO 9]``,
``created_at:>=1704067200``), ids (``parent_id:42``, ``thread_id:7``). A ``<`` or ``>`` anywhere but
right after ``field:`` is a space, so text pasted from a comment (``<script>alert(1)</script>``) is
searched as its words. Bare words search the current text, every earlier version's text and the
author. ``*`` matches every item (narrowed by the filters). A query that means nothing is a
QueryError rather than some other search (:mod:`archiver.search.query`): empty, an operator without
a term on each side, an empty ``()``, more than 4,096 characters. Dates are narrowed with
:class:`SearchFilters`, which compare whole seconds: a bound's fraction of a second is dropped, so a
range never misses an item at its edges.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from archiver.connectors.records import ItemKind, ItemStatus, Platform
from archiver.errors import ArchiverError


class SearchIndexError(ArchiverError):
    """The search index cannot be used (missing, closed, locked by another writer too long)."""


def require_aware(name: str, value: datetime | None) -> None:
    """Raise ValueError when ``value`` is a naive datetime: the index only takes absolute times."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware (got naive {value.isoformat()})")


_T = TypeVar("_T")


def retry_until(
    attempt: Callable[[], _T | None],
    folder: Path,
    timeout: float,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> _T:
    """Call ``attempt`` until it returns something other than None (None: another writer holds
    the lock), sleeping with growing back-off, for up to ``timeout`` seconds; then raise
    :class:`SearchIndexError`. Both engines take their write lock through this."""
    deadline = monotonic() + timeout
    delay = 0.05
    while True:
        result = attempt()
        if result is not None:
            return result
        if monotonic() >= deadline:
            raise SearchIndexError(
                f"search index at {folder} is locked by another writer; gave up after {timeout:g}s"
            )
        sleep(delay)
        delay = min(delay * 2, 1.0)


# Sort key of an item with no publication time: below every real date, so it lists last.
NO_DATE_SORT_KEY = -(2**62)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_seconds(value: datetime) -> int:
    """Whole seconds since the epoch, floored, also for range bounds: a range then covers its
    end second whole and never misses an item. Both engines index and filter dates with it."""
    return (value.astimezone(UTC) - _EPOCH) // timedelta(seconds=1)


def date_sort_key(value: datetime | None) -> int:
    """Microseconds since the epoch (NO_DATE_SORT_KEY when unknown): the newest-first order."""
    if value is None:
        return NO_DATE_SORT_KEY
    return (value.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


def clean_text(text: str) -> str:
    """``text`` with anything UTF-8 cannot encode replaced (any engine stores UTF-8)."""
    # Visitor text can carry lone surrogates (from JSON escapes) that UTF-8 cannot encode.
    return text.encode("utf-8", "replace").decode("utf-8")


def author_key(author: str) -> str:
    """The form in which author names are compared exactly: spacing collapsed (lower-case it)."""
    return " ".join(clean_text(author).split())


@dataclass(frozen=True)
class IndexDoc:
    """What the index knows about one archive item (built from the item and its versions)."""

    item_id: int
    account_id: int
    platform: str
    account: str  # account handle
    external_id: str
    kind: str  # an ItemKind
    status: str  # an ItemStatus
    author: str | None
    text: str | None  # the current version's text
    history_text: str  # earlier versions' text the current one lacks: edited-away text is found
    created_at: datetime | None  # publication time (UTC, aware)
    first_captured_at: datetime  # capture time of the first version
    last_captured_at: datetime  # capture time of the latest version
    parent_id: int | None
    thread_id: int  # the item heading its thread: its post, itself for a post (store.threads)
    seq: int  # the item's version this doc was built from (its current one then)

    def __post_init__(self) -> None:
        require_aware("created_at", self.created_at)
        require_aware("first_captured_at", self.first_captured_at)
        require_aware("last_captured_at", self.last_captured_at)


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions applied on top of the query; every given filter must hold.

    ``since``/``until`` bound the publication time (``created_at``), both inclusive; items with no
    publication time are left out when either is given. ``captured_since``/``captured_until``
    select items whose captured versions span ``[first_captured_at, last_captured_at]`` overlaps
    the range, so an item with any version captured in the range is never missed. ``author`` is
    the exact author name, compared case-insensitively. ``platform``, ``kind`` and ``status`` may
    be given as their words, in any case (``"Removed"``); a word outside the vocabulary is a
    ValueError. ``account_ids`` keeps only items of those accounts (a reader's account limit;
    None: any account, empty: none). ``without_kinds`` leaves items of those kinds out (direct
    messages from open-records searches; None: no kind left out).
    """

    account_id: int | None = None
    account_ids: frozenset[int] | None = None
    platform: Platform | None = None
    kind: ItemKind | None = None
    status: ItemStatus | None = None
    author: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    captured_since: datetime | None = None
    captured_until: datetime | None = None
    without_kinds: frozenset[ItemKind] | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until", "captured_since", "captured_until"):
            require_aware(name, getattr(self, name))
        if self.without_kinds is not None:
            object.__setattr__(self, "without_kinds",
                               frozenset(ItemKind(str(k).lower()) for k in self.without_kinds))
        for name, vocabulary in _VOCABULARIES.items():
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, vocabulary(str(value).lower()))


    def as_json(self) -> dict[str, object]:
        """The filters that are set, as JSON values (times in ISO 8601, account ids sorted)."""
        shown: dict[str, object] = {}
        for name, value in vars(self).items():
            if isinstance(value, datetime):
                shown[name] = value.isoformat()
            elif isinstance(value, frozenset):
                shown[name] = sorted(value)
            elif value is not None:
                shown[name] = value
        return shown


_VOCABULARIES: dict[str, type[StrEnum]] = {
    "platform": Platform, "kind": ItemKind, "status": ItemStatus}


@dataclass(frozen=True)
class SearchHit:
    """One matching item. ``matched_history_only`` is True when the query matched an earlier
    version's text but not the current one (text edited away or replaced)."""

    item_id: int
    thread_id: int
    matched_history_only: bool


@dataclass(frozen=True)
class SearchResults:
    """One page of hits; ``total`` and ``threads`` (distinct thread ids) count ALL matches."""

    total: int
    hits: list[SearchHit] = field(default_factory=list)
    threads: int = 0


NO_FILTERS = SearchFilters()


@dataclass(frozen=True)
class IndexMark:
    """How far the index is known to follow the database, by row ids there: every item version
    with an id up to ``versions`` is in the index (its item at that version or a later one), and
    every item destroyed by a tombstone with an id up to ``tombstones`` is out of it."""

    versions: int
    tombstones: int


class SearchIndex(ABC):
    """A full-text index of archive items that returns item ids."""

    @abstractmethod
    def add(self, docs: Iterable[IndexDoc]) -> int:
        """Insert or replace (by item_id) every doc in one commit; return how many were written."""

    @abstractmethod
    def delete(self, item_ids: Iterable[int]) -> int:
        """Remove these items from the index in one commit; return how many were there."""

    @abstractmethod
    def search(
        self,
        query: str,
        filters: SearchFilters = NO_FILTERS,
        *,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResults:
        """Items matching ``query`` and ``filters``: by relevance for a real query, newest first
        for ``*``; ties broken by item_id. Raises QueryError (one line) for a query it cannot
        parse or run."""

    def facet_counts(self, query: str, filters: SearchFilters,
                     facets: Mapping[str, Sequence[object]]) -> dict[str, dict[str, int]]:
        """For each facet (a :class:`SearchFilters` field: ``status``, ``kind``, ``platform``,
        ``account_id``), how many items match ``query`` and ``filters`` with the facet's own
        filter set to each of its ``values`` in turn; values matching nothing are left out.
        This runs one search per value; an engine may count them in one pass."""
        counts: dict[str, dict[str, int]] = {}
        for facet, values in facets.items():
            cleared: dict[str, Any] = {facet: None}
            base = replace(filters, **cleared)
            found: dict[str, int] = {}
            for value in values:
                wanted: dict[str, Any] = {facet: value}
                total = self.search(query, replace(base, **wanted), limit=0).total
                if total:
                    found[str(value)] = total
            counts[facet] = found
        return counts

    def matching(self, query: str, filters: SearchFilters | None = None) -> set[int]:
        """The ids of every item matching ``query`` and ``filters`` (no paging)."""
        wanted = NO_FILTERS if filters is None else filters
        total = self.search(query, wanted, limit=0).total
        return {hit.item_id for hit in self.search(query, wanted, limit=max(total, 1)).hits}

    @abstractmethod
    def count(self) -> int:
        """How many items are in the index."""

    @abstractmethod
    def entries(self) -> Iterator[tuple[int, int]]:
        """``(item_id, seq)`` of every item in the index, in no particular order."""

    @abstractmethod
    def mark(self) -> IndexMark | None:
        """The mark last set (None: never set, or the index was cleared since)."""

    @abstractmethod
    def set_mark(self, mark: IndexMark, *, expected: IndexMark | None) -> bool:
        """Set ``mark`` if the current mark is still ``expected`` (under the write lock, so two
        processes never overwrite each other's newer mark); return whether it was set."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every item and the mark (used before a full rebuild)."""

    @abstractmethod
    def close(self) -> None:
        """Release files and searchers; the object cannot be used afterwards."""

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
