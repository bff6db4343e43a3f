"""The search index on Whoosh (the ``whoosh-reloaded`` fork), behind
:mod:`archiver.search.interface`.

Choices made for speed at scale (target p95 <= 100 ms at 1M items):

* only ``item_id`` and ``thread_id`` are stored; the database holds everything else;
* a batch is written by one writer and one commit; ``procs=1`` leaves the second core of a
  2-core host to searches (and measured faster than 2), ``limitmb`` lets a large batch sort
  its postings in memory;
* a commit's cost is mostly one block per distinct term, so ids are indexed as one term each
  and dates as whole seconds, and the publication-time sort key is a column only;
* one searcher is kept open and only reopened after a writer (any process) has committed;
  filter sets and column arrays are cached with it (:mod:`archiver.search.whoosh.search`);
* a writer that finds the index locked retries with back-off instead of failing, so the
  scheduler, the webhook server and the CLI can all write.

Import name ``whoosh``; only this module, :mod:`archiver.search.whoosh.schema` (the layout),
:mod:`archiver.search.whoosh.search` (running a search: filters, columns, the collection loop) and
:mod:`archiver.search.fts5.query` (which parses with Whoosh's query parser) import it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import query
from whoosh.index import LockError
from whoosh.reading import IndexReader, SegmentReader
from whoosh.writing import CLEAR, MERGE_SMALL, IndexWriter

from archiver.search.interface import (
    NO_FILTERS,
    IndexDoc,
    IndexMark,
    SearchFilters,
    SearchHit,
    SearchIndex,
    SearchIndexError,
    SearchResults,
    retry_until,
)
from archiver.search.query import (
    build_schema,
    current_text_only,
    mentions_history,
    parse_user_query,
)
from archiver.search.whoosh.schema import CODEC, INDEX_NAME, doc_fields
from archiver.search.whoosh.search import SearchView, SegmentColumns, column_array
from archiver.search.whoosh.storage import MappedFileStorage

# Segments at least this large are settled: merged again only once mostly deleted. Whoosh's own
# policy merges every segment once about 26 are open; with 20,000-item commits a 1M capture
# then rewrote half a million items in one commit (Whoosh merges in Python at about 1.3 ms per
# item), so capture cost grew with the archive instead of staying flat.
SETTLED_DOCS = 10_000
# A large batch sorts its postings in memory; procs=2 measured twice as slow for a 10k batch
# (the final merge) and leaves no core to searches on a 2-core host.
LIMIT_MB = 256
WRITER_PROCS = 1
# Named for the layout, but not like Whoosh's own files ("<index name>_..."), which its
# commits clean away.
MARK_FILE = f"{INDEX_NAME}.mark.json"


class WhooshSearchIndex(SearchIndex):
    """:class:`SearchIndex` on a Whoosh index in one folder. Use :func:`open_index`."""

    def __init__(
        self,
        ix: whoosh_index.FileIndex,
        path: Path,
        *,
        lock_timeout: float,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        settled_docs: int = SETTLED_DOCS,
    ) -> None:
        self._ix = ix
        self._settled_docs = settled_docs
        self._path = path
        self._lock_timeout = lock_timeout
        self._sleep = sleep
        self._monotonic = monotonic
        self._view: SearchView | None = None
        # Segments' column arrays, kept across generations while their segment lives.
        self._columns: dict[str, SegmentColumns] = {}
        self._guard = threading.Lock()  # one searcher is shared; swap and use it serially
        self._closed = False

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        create: bool,
        lock_timeout: float,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        settled_docs: int = SETTLED_DOCS,
    ) -> WhooshSearchIndex:
        """Open the index in ``path``, creating it (under the write lock) when allowed.
        ``settled_docs``: the segment size the merge policy leaves alone (see SETTLED_DOCS)."""
        if not whoosh_index.exists_in(str(path), indexname=INDEX_NAME):
            if not create:
                raise SearchIndexError(f"no search index at {path} (run `archiver init`)")
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SearchIndexError(f"cannot create search index at {path}: {exc}") from None
            cls._create(path, lock_timeout, sleep, monotonic)
        try:
            ix = MappedFileStorage(str(path)).open_index(INDEX_NAME)
        except (OSError, whoosh_index.IndexError) as exc:
            raise SearchIndexError(f"cannot open search index at {path}: {exc}") from None
        return cls(ix, path, lock_timeout=lock_timeout, sleep=sleep, monotonic=monotonic,
                   settled_docs=settled_docs)

    @staticmethod
    def _create(
        path: Path,
        lock_timeout: float,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
    ) -> None:
        # create_in() wipes an existing index, so two processes starting at once must not both
        # run it: take the writers' lock and look again.
        from whoosh.filedb.filestore import FileStorage

        storage = FileStorage(str(path))
        lock = storage.lock(f"{INDEX_NAME}_WRITELOCK")
        # FileLock.acquire() answers False when another process holds the lock.
        retry_until(lambda: lock.acquire() or None, path, lock_timeout, sleep, monotonic)
        try:
            if not whoosh_index.exists_in(str(path), indexname=INDEX_NAME):
                storage.create_index(build_schema(), indexname=INDEX_NAME)
        finally:
            lock.release()

    # -- writing ---------------------------------------------------------------------------

    def add(self, docs: Iterable[IndexDoc]) -> int:
        """Insert or replace (by item_id) every doc in one commit; return how many were written."""
        latest: dict[int, IndexDoc] = {}
        for doc in docs:
            latest[doc.item_id] = doc  # the last one given for an item wins
        if not latest:
            return 0
        prepared = [doc_fields(doc) for doc in latest.values()]
        writer = self._writer()
        try:
            # Replace by deleting every older copy found in one column pass, then adding:
            # update_document would open a searcher over all segments for each document.
            if writer.segments:
                with writer.reader() as reader:
                    older = _docnums_of(reader, self._ix.schema["item_id"], set(latest))
                for docnum in older:
                    writer.delete_document(docnum)
            for fields in prepared:
                writer.add_document(**fields)
        except BaseException:
            writer.cancel()
            raise
        self._commit(writer, mergetype=partial(_merge_small_and_sparse,
                                               settled=self._settled_docs))
        return len(prepared)

    def delete(self, item_ids: Iterable[int]) -> int:
        """Remove these items in one commit; return how many were in the index."""
        wanted = set(item_ids)
        if not wanted:
            return 0
        writer = self._writer()
        try:
            with writer.reader() as reader:
                doomed = _docnums_of(reader, self._ix.schema["item_id"], wanted)
            for docnum in doomed:
                writer.delete_document(docnum)
        except BaseException:
            writer.cancel()
            raise
        if doomed:
            self._commit(writer, mergetype=_drop_emptied)
        else:
            writer.cancel()
        return len(doomed)

    def clear(self) -> None:
        """Remove every item and the mark; the CLEAR merge policy drops all segments in one
        commit. The mark goes first, under the same lock: no reader may trust it meanwhile."""
        writer = self._writer()
        try:
            self._mark_path.unlink(missing_ok=True)
        except OSError as exc:
            writer.cancel()
            raise SearchIndexError(f"cannot write search index at {self._path}: {exc}") from None
        self._commit(writer, mergetype=CLEAR)

    # -- the mark --------------------------------------------------------------------------
    # Whoosh keeps no data of ours beside its segments, so the mark is a small file next to
    # them, written whole (temporary file, then rename) under the writers' lock. It names the
    # index generation it was written at: a folder whose index is older than its mark file
    # (the index restored from a backup, the mark file not) has no mark.

    @property
    def _mark_path(self) -> Path:
        return self._path / MARK_FILE

    def mark(self) -> IndexMark | None:
        """The mark last set, if it belongs to this index (see above)."""
        self._check_open()
        try:
            data = json.loads(self._mark_path.read_text(encoding="utf-8"))
            mark = IndexMark(int(data["versions"]), int(data["tombstones"]))
            generation = int(data["generation"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or not ours: the index is compared with the database anew
        return mark if self._ix.latest_generation() >= generation else None

    def set_mark(self, mark: IndexMark, *, expected: IndexMark | None) -> bool:
        """Write ``mark`` if the current one is still ``expected`` (under the writers' lock)."""
        self._check_open()
        lock = self._ix.storage.lock(f"{INDEX_NAME}_WRITELOCK")
        retry_until(lambda: lock.acquire() or None, self._path, self._lock_timeout,
                    self._sleep, self._monotonic)
        try:
            if self.mark() != expected:
                return False
            data = {"versions": mark.versions, "tombstones": mark.tombstones,
                    "generation": self._ix.latest_generation()}
            temporary = self._mark_path.with_suffix(".tmp")
            try:
                temporary.write_text(json.dumps(data), encoding="utf-8")
                os.replace(temporary, self._mark_path)
            except OSError as exc:
                raise SearchIndexError(f"cannot write search index at {self._path}: "
                                       f"{exc}") from None
            return True
        finally:
            lock.release()

    def _commit(self, writer: IndexWriter, **options: Any) -> None:
        try:
            writer.commit(**options)
        except BaseException as exc:
            # A failed commit keeps the write lock; give it back or every later writer waits.
            if not writer.is_closed:
                with contextlib.suppress(Exception):
                    writer.cancel()
            if isinstance(exc, OSError):
                message = f"cannot write search index at {self._path}: {exc}"
                raise SearchIndexError(message) from None
            raise

    def _writer(self) -> IndexWriter:
        self._check_open()

        def attempt() -> IndexWriter | None:
            try:
                return self._ix.writer(procs=WRITER_PROCS, limitmb=LIMIT_MB, codec=CODEC)
            except LockError:
                return None

        return retry_until(
            attempt,
            self._path,
            self._lock_timeout,
            self._sleep,
            self._monotonic,
        )

    # -- reading ---------------------------------------------------------------------------

    def count(self) -> int:
        """How many items are in the index."""
        with self._guard:
            return self._current_view().searcher.doc_count()

    def entries(self) -> Iterator[tuple[int, int]]:
        """``(item_id, seq)`` of every item, read from two columns of each segment by a reader
        of its own (the shared searcher stays free for searches)."""
        self._check_open()
        field = self._ix.schema["item_id"]
        with self._ix.reader() as reader:
            for leaf, _base in reader.leaf_readers():
                if leaf.doc_count() == 0:
                    continue
                ids = column_array(leaf.column_reader("item_id", translate=False))
                seqs = column_array(leaf.column_reader("seq", translate=False))
                deleted = leaf.has_deletions()
                for docnum, (raw, seq) in enumerate(zip(ids, seqs, strict=True)):
                    if not (deleted and leaf.is_deleted(docnum)):
                        yield field.from_column_value(raw), seq

    def search(
        self,
        query: str,
        filters: SearchFilters = NO_FILTERS,
        *,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResults:
        """Items matching ``query`` and ``filters``; see :class:`SearchIndex.search`."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        parsed, match_all = self._parse(query)
        want = offset + limit
        with self._guard:
            view = self._current_view()
            plan = view.plan(filters)
            found = view.everything(plan, want) if match_all else view.matching(parsed, plan, want)
            view.remember((query, filters), found.docs)
            searcher = view.searcher
            page = []
            for docnum in found.page[offset:]:
                stored = searcher.stored_fields(docnum)
                page.append((docnum, stored["item_id"], stored["thread_id"]))
            in_current = {docnum for docnum, _, _ in page}
            if page and not match_all and mentions_history(parsed):
                in_current = view.among(current_text_only(parsed), in_current)
        hits = [
            SearchHit(item_id=item_id, thread_id=thread, matched_history_only=d not in in_current)
            for d, item_id, thread in page
        ]
        return SearchResults(total=found.total, hits=hits, threads=found.threads)

    def facet_counts(self, query: str, filters: SearchFilters,
                     facets: Mapping[str, Sequence[object]]) -> dict[str, dict[str, int]]:
        """As :meth:`SearchIndex.facet_counts`, in one pass over the matches per distinct set
        of filters, then a set intersection per value."""
        parsed, match_all = self._parse(query)
        counts: dict[str, dict[str, int]] = {}
        with self._guard:
            view = self._current_view()
            matched: dict[SearchFilters, AbstractSet[int]] = {}
            for facet, values in facets.items():
                cleared: dict[str, Any] = {facet: None}
                base = replace(filters, **cleared)
                if base not in matched:
                    known = view.recall((query, base))
                    if known is None:
                        known = frozenset(view.matched_docs(parsed, view.plan(base), match_all))
                        view.remember((query, base), known)
                    matched[base] = known
                docs = matched[base]
                found: dict[str, int] = {}
                for value in values:
                    count = len(docs & view.positive_docs(facet, value))
                    if count:
                        found[str(value)] = count
                counts[facet] = found
        return counts

    @staticmethod
    def _parse(text: str) -> tuple[query.Query, bool]:
        parsed = parse_user_query(text)
        return (query.Every(), True) if parsed is None else (parsed.accept(_and_not), False)

    def _current_view(self) -> SearchView:
        self._check_open()
        # Reopen only when some writer has committed since. Not Searcher.refresh(): it reuses
        # segment readers by segment id, so it keeps serving documents deleted since then.
        if self._view is not None and (
            self._view.searcher.reader().generation() != self._ix.latest_generation()
        ):
            self._view.searcher.close()
            self._view = None
        if self._view is None:
            self._view = SearchView(self._ix.searcher(), self._columns)
        return self._view

    def _check_open(self) -> None:
        if self._closed:
            raise SearchIndexError(f"search index at {self._path} is closed")

    def close(self) -> None:
        """Close the shared searcher and the index; safe to call twice."""
        with self._guard:
            if self._closed:
                return
            self._closed = True
            if self._view is not None:
                self._view.searcher.close()
                self._view = None
            self._ix.close()


def _and_not(node: query.Query) -> query.Query:
    """``a ANDNOT b`` run as ``a AND NOT b`` (the same items and order). Whoosh's
    AndNotMatcher compares only the first items of both sides before it starts: when ``b``'s
    first item comes before ``a``'s and ``b`` also matches ``a``'s first, that item is
    returned."""
    if type(node) is query.AndNot:
        return query.And([node.a, query.Not(node.b)], boost=node.boost)
    return node


def _docnums_of(reader: IndexReader, field: Any, item_ids: set[int]) -> list[int]:
    """The live document numbers (in ``reader``) of these item ids.

    One pass over each segment's ``item_id`` column: a term look-up per id and segment costs
    far more once a purge deletes thousands of items from an index of many segments.
    """
    keys = {field.to_column_value(i) for i in item_ids}  # compare in the column's own encoding
    found: list[int] = []
    for leaf, base in reader.leaf_readers():
        if leaf.doc_count() == 0:
            continue  # every document in it is deleted already
        if not leaf.has_column("item_id"):  # every segment we write has one; be safe anyway
            for item_id in item_ids:
                if ("item_id", item_id) in leaf:
                    found.extend(base + d for d in leaf.postings("item_id", item_id).all_ids()
                                 if not leaf.is_deleted(d))
            continue
        column = column_array(leaf.column_reader("item_id", translate=False))
        found.extend(base + d for d, key in enumerate(column)
                     if key in keys and not leaf.is_deleted(d))
    return found


def _merge_small_and_sparse(
    writer: IndexWriter, segments: list[Any], *, settled: int
) -> list[Any]:
    """Merge policy for a commit that adds documents: small segments (frequent small captures
    leave many) merge as Whoosh merges them; a settled segment is rewritten alone once more
    than half its documents are deleted, which gives a purge's space back; empty ones go."""
    small, kept = [], []
    for segment in segments:
        total = segment.doc_count_all()
        if segment.doc_count() == 0:
            continue
        if total < settled:
            small.append(segment)
        elif segment.deleted_count() * 2 > total:
            with SegmentReader(writer.storage, writer.schema, segment) as reader:
                writer.add_reader(reader)  # copies the live documents into the new segment
        else:
            kept.append(segment)
    return kept + MERGE_SMALL(writer, small)


def _drop_emptied(writer: IndexWriter, segments: list[Any]) -> list[Any]:
    """Merge policy for a commit that only deletes: no rewriting (the next commit that adds
    documents merges small segments), but segments whose every document is now deleted go."""
    return [segment for segment in segments if segment.doc_count() > 0]
