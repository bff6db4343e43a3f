"""Running one search on a Whoosh searcher: filters as cached document sets, one loop.

Whoosh's own ``Searcher.search`` stacks a filter, a facet and a sorting collector, each paying
Python calls for every matching document, and turns every filter into a fresh set of document
numbers, so a filter on a common value (``status:active``) or a date range cost more than the
query itself. Here:

* a filter on one of the few-valued fields is a set of document numbers made once per index
  generation; when the value covers most of the archive, the (small) set of documents to leave
  out is kept instead;
* the publication date, item id and thread id of every document come from column arrays read
  once per segment, and kept for as long as the segment lives;
* each match costs one step of one loop: filter check, score, thread, sort key.

The order is the one the index promises: by score (then item id) for words, by publication
time, newest first (then item id) for ``*``.
"""

from __future__ import annotations

import heapq
import sys
from array import array
from bisect import bisect_left
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from whoosh import query
from whoosh.columns import NumericColumn
from whoosh.searching import Searcher

from archiver.search.interface import (
    NO_DATE_SORT_KEY,
    SearchFilters,
    author_key,
    clean_text,
    epoch_seconds,
)
from archiver.search.query import date_range
from archiver.search.whoosh.postings import SegmentPostings, leaf_scores

# Fields every document has exactly one term in: "everything but these few" is then exact.
_COMPLETE_FIELDS = frozenset({"account_id", "platform", "kind", "status"})
_SECOND_US = 1_000_000
# Cached filter sets, bounded by their total size: about 60 MB of Python ints and set slots
# per million document numbers.
_FILTER_CACHE_DOCS = 1_000_000
# How many searches' matched documents a view keeps (see SearchView.remember).
_MATCHED_KEPT = 4


@dataclass(frozen=True)
class SegmentColumns:
    """One segment's per-document values, in document-number order."""

    item_id: array[int]  # raw column values: order-preserving, shifted by 2**63
    thread_id: array[int]
    created: array[int]  # microseconds since the epoch; NO_DATE_SORT_KEY when unknown
    postings: SegmentPostings = field(default_factory=SegmentPostings)  # filled by scoring


def column_array(column: Any) -> array[int]:
    """Every document's raw value in a 64-bit numeric column, read as one array.

    Whoosh reads a numeric column one document at a time (a file read and an unpack each).
    """
    if isinstance(column, NumericColumn.Reader) and column._typecode in ("q", "Q"):
        data = column._dbfile.get(column._basepos, column._count * column._fixedlen)
        values = array(column._typecode, data)
        if sys.byteorder == "little":
            values.byteswap()  # stored big-endian ("!" in Whoosh's struct formats)
        values.extend([column._default] * (column._doccount - column._count))
        return values
    return array("q", list(column))


def segment_columns(reader: Any) -> SegmentColumns:
    """Read the three columns a search needs from one segment's reader."""

    def read(name: str) -> array[int]:
        return column_array(reader.column_reader(name, translate=False))

    return SegmentColumns(read("item_id"), read("thread_id"), read("created_sort"))


@dataclass
class _Plan:
    """What a document must pass: in ``allow`` (None: any), not in ``deny``, and published in
    [``created_from``, ``created_before``) microseconds (None: no bound)."""

    allow: set[int] | frozenset[int] | None = None
    deny: set[int] | frozenset[int] = frozenset()
    created_from: int | None = None
    created_before: int | None = None


@dataclass(frozen=True)
class Collected:
    """A search's outcome: the count, distinct threads and the requested page (doc numbers),
    and every matching document (what the facet counts of the same search start from)."""

    total: int
    threads: int
    page: list[int]
    docs: frozenset[int] = frozenset()


@dataclass
class _Leaf:
    searcher: Searcher
    offset: int
    columns: SegmentColumns


@dataclass
class SearchView:
    """One index generation seen by one searcher, with the caches that live as long as it.

    ``columns`` is shared with the next view: segments outlive generations, and a segment's
    columns never change (deletions are checked on the reader).
    """

    searcher: Searcher
    columns: dict[str, SegmentColumns]
    _filters: dict[tuple[str, Any], tuple[bool, frozenset[int]]] = field(default_factory=dict)
    _leaves: list[_Leaf] | None = None
    # The documents the last few searches matched: a search page asks for its results and then
    # for the facet counts of the same query, which start from the same documents.
    _matched: dict[Hashable, frozenset[int]] = field(default_factory=dict)

    def remember(self, key: Hashable, docs: frozenset[int]) -> None:
        """Keep ``docs`` as what the search ``key`` matched (only the last few are kept)."""
        self._matched.pop(key, None)
        self._matched[key] = docs
        while len(self._matched) > _MATCHED_KEPT:
            del self._matched[next(iter(self._matched))]

    def recall(self, key: Hashable) -> frozenset[int] | None:
        """What the search ``key`` matched, if it ran lately on this view."""
        return self._matched.get(key)

    def leaves(self) -> list[_Leaf]:
        if self._leaves is None:
            leaves, live = [], set()
            for sub, offset in self.searcher.leaf_searchers():
                reader = sub.reader()
                segment = reader.segment()
                if segment is None:  # an empty index has a reader but no segment
                    continue
                segid = segment.segment_id()
                live.add(segid)
                if segid not in self.columns:
                    self.columns[segid] = segment_columns(reader)
                leaves.append(_Leaf(sub, offset, self.columns[segid]))
            for gone in set(self.columns) - live:
                del self.columns[gone]
            self._leaves = leaves
        return self._leaves

    # -- filters -----------------------------------------------------------------------------

    def plan(self, filters: SearchFilters) -> _Plan:
        """Turn ``filters`` into document sets and a publication-time window."""
        plan = _Plan()
        allows: list[frozenset[int]] = []
        denies: list[frozenset[int]] = []
        terms: list[tuple[str, Any]] = []
        if filters.account_id is not None:
            terms.append(("account_id", filters.account_id))
        for name in ("platform", "kind", "status"):
            value = getattr(filters, name)
            if value is not None:
                terms.append((name, clean_text(value).lower()))
        if filters.author is not None:
            terms.append(("author_exact", author_key(filters.author).lower()))
        for term in terms:
            is_deny, docs = self._term_docs(*term)
            (denies if is_deny else allows).append(docs)
        for kind in sorted(filters.without_kinds or ()):
            denies.append(self.positive_docs("kind", kind))
        if filters.account_ids is not None:
            allows.append(self._accounts_docs(filters.account_ids))
        if filters.captured_until is not None:
            allows.append(self._range_docs("first_captured_at", None, filters.captured_until))
        if filters.captured_since is not None:
            allows.append(self._range_docs("last_captured_at", filters.captured_since, None))
        if filters.since is not None or filters.until is not None:
            _window(plan, filters.since, filters.until)
        if allows:
            allows.sort(key=len)
            allowed = set(allows[0])
            for other in allows[1:]:
                allowed.intersection_update(other)
            for deny in denies:
                allowed.difference_update(deny)
            plan.allow = allowed
        elif denies:
            plan.deny = denies[0] if len(denies) == 1 else frozenset().union(*denies)
        return plan

    def _term_docs(self, name: str, value: Any) -> tuple[bool, frozenset[int]]:
        """(deny?, docs): the documents with this value, or, when that is most of the archive
        and every document has one value of the field, the documents with another value."""
        key = (name, value)
        cached = self._filters.get(key)
        if cached is not None:
            return cached
        searcher = self.searcher
        frequent = searcher.doc_frequency(name, value) * 2 > searcher.doc_count_all()
        if frequent and name in _COMPLETE_FIELDS:
            others = [t for t in searcher.reader().field_terms(name) if t != value]
            found = (True, frozenset(self._docs(query.Or([query.Term(name, t) for t in others]))))
        else:
            found = (False, frozenset(self._docs(query.Term(name, value))))
        held = sum(len(docs) for _, docs in self._filters.values())
        while self._filters and held + len(found[1]) > _FILTER_CACHE_DOCS:
            held -= len(self._filters.pop(next(iter(self._filters)))[1])  # oldest first
        if len(found[1]) <= _FILTER_CACHE_DOCS:
            self._filters[key] = found
        return found

    def positive_docs(self, name: str, value: Any) -> frozenset[int]:
        """The documents whose field ``name`` holds ``value`` (as a filter compares it)."""
        if name != "account_id":
            value = clean_text(str(value)).lower()
        key = ("+" + name, value)
        cached = self._filters.get(key)
        if cached is not None:
            return cached[1]
        docs = frozenset(self._docs(query.Term(name, value)))
        if len(docs) <= _FILTER_CACHE_DOCS:
            self._filters[key] = (False, docs)
        return docs

    def among(self, q: query.Query, docs: Iterable[int]) -> set[int]:
        """Which of ``docs`` (global numbers) match ``q``: a skip to each of them, not a pass
        over everything ``q`` matches."""
        wanted = sorted(docs)
        out: set[int] = set()
        for leaf in self.leaves():
            base = leaf.offset
            end = base + leaf.searcher.reader().doc_count_all()
            mine = wanted[bisect_left(wanted, base):bisect_left(wanted, end)]
            if not mine:
                continue
            scored = leaf_scores(q, leaf.searcher, self.searcher, leaf.columns.postings)
            if scored is not None:
                out.update(glob for glob in mine if glob - base in scored)
                continue
            matcher = q.matcher(leaf.searcher)
            for glob in mine:
                if not matcher.is_active():
                    break
                if matcher.id() < glob - base:
                    matcher.skip_to(glob - base)
                    if not matcher.is_active():
                        break
                if matcher.id() == glob - base:
                    out.add(glob)
        return out

    def matched_docs(self, q: query.Query, plan: _Plan, match_all: bool) -> set[int]:
        """Every document (global number) matching ``q`` (``match_all``: every one) that the
        plan lets through: what facet counts intersect with each value's documents."""
        out: set[int] = set()
        allowed = sorted(plan.allow) if plan.allow is not None else None
        windowed = plan.created_from is not None or plan.created_before is not None
        for leaf in self.leaves():
            created = leaf.columns.created
            base = leaf.offset
            if match_all:
                out.update(base + docnum for docnum in _candidates(leaf, plan, allowed))
                continue
            allow, deny = plan.allow, plan.deny
            for docnum, _ in self._leaf_matches(q, leaf, None):
                glob = base + docnum
                if ((allow is None or glob in allow) and glob not in deny
                        and (not windowed or _in_window(plan, created[docnum]))):
                    out.add(glob)
        return out

    def _accounts_docs(self, account_ids: frozenset[int]) -> frozenset[int]:
        """The documents of any of these accounts (cached like a term's)."""
        key = ("account_ids", account_ids)
        cached = self._filters.get(key)
        if cached is None:
            docs = frozenset(self._docs(query.Or([query.Term("account_id", a)
                                                  for a in sorted(account_ids)]))
                             ) if account_ids else frozenset()
            if len(docs) <= _FILTER_CACHE_DOCS:
                self._filters[key] = (False, docs)
            return docs
        return cached[1]

    def _range_docs(
        self, name: str, start: datetime | None, end: datetime | None
    ) -> frozenset[int]:
        return frozenset(self._docs(date_range(name, start, end)))

    def _docs(self, q: query.Query) -> Iterator[int]:
        for leaf in self.leaves():
            base = leaf.offset
            for docnum in q.docs(leaf.searcher):
                yield base + docnum

    # -- running -----------------------------------------------------------------------------

    def everything(self, plan: _Plan, want: int) -> Collected:
        """``*``: every document the plan lets through, newest publication first."""
        threads: set[int] = set()
        keyed: list[tuple[int, int, int]] = []
        allowed = sorted(plan.allow) if plan.allow is not None else None
        for leaf in self.leaves():
            cols = leaf.columns
            created, item_ids, thread_ids = cols.created, cols.item_id, cols.thread_id
            base = leaf.offset
            mine = _candidates(leaf, plan, allowed)
            threads.update([thread_ids[docnum] for docnum in mine])
            keyed += [(-created[docnum], item_ids[docnum], base + docnum) for docnum in mine]
        page = [glob for _, _, glob in heapq.nsmallest(want, keyed)]
        return Collected(len(keyed), len(threads), page,
                         frozenset(glob for _, _, glob in keyed))

    def matching(self, q: query.Query, plan: _Plan, want: int) -> Collected:
        """Documents matching ``q`` that the plan lets through, best score first."""
        context = self.searcher.context(needs_current=True)
        total = 0
        threads: set[int] = set()
        keyed: list[tuple[float, int, int]] = []
        allow, deny = plan.allow, plan.deny
        windowed = plan.created_from is not None or plan.created_before is not None
        for leaf in self.leaves():
            cols = leaf.columns
            created, item_ids, thread_ids = cols.created, cols.item_id, cols.thread_id
            base = leaf.offset
            for docnum, score in self._leaf_matches(q, leaf, context):
                glob = base + docnum
                if ((allow is None or glob in allow) and glob not in deny
                        and (not windowed or _in_window(plan, created[docnum]))):
                    total += 1
                    threads.add(thread_ids[docnum])
                    keyed.append((-score, item_ids[docnum], glob))
        page = [glob for _, _, glob in heapq.nsmallest(want, keyed)]
        return Collected(total, len(threads), page, frozenset(glob for _, _, glob in keyed))

    def _leaf_matches(self, q: query.Query, leaf: _Leaf,
                      context: Any) -> Iterable[tuple[int, float]]:
        """(segment docnum, score) of every live document of ``leaf`` matching ``q``: whole
        posting blocks where the query's shape allows (see ``postings``), else Whoosh's
        matcher, one document at a time."""
        scored = leaf_scores(q, leaf.searcher, self.searcher, leaf.columns.postings)
        if scored is not None:
            return scored.items()
        return _stepped(q.matcher(leaf.searcher, context), scoring=context is not None)


def _stepped(matcher: Any, *, scoring: bool) -> Iterator[tuple[int, float]]:
    while matcher.is_active():
        yield matcher.id(), matcher.score() if scoring else 0.0
        matcher.next()


def _candidates(leaf: _Leaf, plan: _Plan, allowed: list[int] | None) -> list[int]:
    """Segment numbers of the live documents the plan lets through (its sets and its date
    window); ``allowed`` is the plan's allow set in order, so each segment takes only its own
    slice. Built in comprehensions: this is a pass over most of the archive for ``*``."""
    base = leaf.offset
    reader = leaf.searcher.reader()
    count = reader.doc_count_all()
    deleted = reader.deleted_docs_set if reader.has_deletions() else frozenset()
    docnums: Iterable[int]
    if allowed is not None:
        docnums = [glob - base for glob in
                   allowed[bisect_left(allowed, base):bisect_left(allowed, base + count)]]
    elif plan.deny:
        deny = plan.deny
        docnums = [docnum for docnum in range(count) if base + docnum not in deny]
    else:
        docnums = range(count)
    low, high = plan.created_from, plan.created_before
    if low is None and high is None:
        return [docnum for docnum in docnums if docnum not in deleted]
    created = leaf.columns.created
    low = -(1 << 63) if low is None else low
    high = 1 << 63 if high is None else high
    return [docnum for docnum in docnums
            if low <= created[docnum] < high and docnum not in deleted]


def _window(plan: _Plan, since: datetime | None, until: datetime | None) -> None:
    # The same whole-second bounds as the created_at field's range: [since's second,
    # until's second] inclusive, in the sort column's microseconds.
    if since is not None:
        plan.created_from = epoch_seconds(since) * _SECOND_US
    if until is not None:
        plan.created_before = (epoch_seconds(until) + 1) * _SECOND_US
    if plan.created_from is None:
        plan.created_from = NO_DATE_SORT_KEY + 1  # an unknown date is never inside a window


def _in_window(plan: _Plan, when: int) -> bool:
    low, high = plan.created_from, plan.created_before
    return (low is None or when >= low) and (high is None or when < high)

