"""The search index on Whoosh (the ``whoosh-reloaded`` fork), behind :mod:`archiver.search_index`.

Choices made for speed at scale (target p95 <= 100 ms at 1M items):

* only ``item_id`` and ``thread_id`` are stored; the database holds everything else;
* a batch is written by one writer and one commit; ``procs=1`` leaves the second core of a
  2-core host to searches (and measured faster than 2), ``limitmb`` lets a large batch sort
  its postings in memory;
* a commit's cost is mostly one block per distinct term, so ids are indexed as one term each
  and dates as whole seconds, and the publication-time sort key is a column only;
* one searcher is kept open and only reopened after a writer (any process) has committed;
* a writer that finds the index locked retries with back-off instead of failing, so the
  scheduler, the webhook server and the CLI can all write.

Import name ``whoosh``; nothing else in the archiver imports it.
"""

from __future__ import annotations

import contextlib
import copy
import secrets
import string
import sys
import threading
from array import array
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import qparser, query, sorting
from whoosh.analysis import (
    CharsetFilter,
    IDTokenizer,
    LowercaseFilter,
    RegexTokenizer,
    StopFilter,
)
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3Segment
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, ID, NUMERIC, TEXT, Schema
from whoosh.index import LockError
from whoosh.reading import IndexReader
from whoosh.searching import Searcher
from whoosh.support.charset import accent_map
from whoosh.writing import CLEAR, IndexWriter

from archiver.errors import QueryError
from archiver.search_index import (
    NO_FILTERS,
    IndexDoc,
    SearchFilters,
    SearchHit,
    SearchIndex,
    SearchIndexError,
    SearchResults,
    author_key,
    check_balanced,
    clean_text,
    echo_query,
    retry_until,
)

# A new layout gets a new name: an old index is then simply absent and gets rebuilt.
INDEX_NAME = "archiver_v1"
LIMIT_MB = 256
# Tiers of 8 bits keep a date range to a few hundred terms; wider tiers made ranges 3x slower.
DATE_SHIFT_STEP = 8
_SECOND = timedelta(seconds=1)
WRITER_PROCS = 1  # measured: procs=2 doubles the time of a 10k batch (the final merge)
# Terms longer than this are noise (base64 blobs, keyboard mashing) and only bloat the index.
MAX_TERM_CHARS = 200
# Sort key for items with no publication time: below every real date, so they come last.
NO_DATE_SORT_KEY = -(2**62)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
DEFAULT_FIELDS = ("text", "history_text", "author")
FIELD_BOOSTS = {"text": 2.0, "history_text": 1.0, "author": 1.5}

# No stop words: an investigator searching "to be or not to be" means exactly that.
_TEXT_ANALYZER = (
    RegexTokenizer()
    | LowercaseFilter()
    | CharsetFilter(accent_map)
    | StopFilter(stoplist=frozenset(), minsize=1, maxsize=MAX_TERM_CHARS)
)
_KEY_ANALYZER = IDTokenizer() | LowercaseFilter()


class _ColumnCachingReader(W3PerDocReader):
    """Remembers which columns exist. Whoosh asks for every posting of every unscored field
    while flushing a segment, and answers with a file-system stat each time."""

    def __init__(self, storage: Any, segment: Any) -> None:
        super().__init__(storage, segment)
        self._known: dict[str, bool] = {}

    def has_column(self, fieldname: str) -> bool:
        if fieldname not in self._known:
            self._known[fieldname] = super().has_column(fieldname)
        return self._known[fieldname]


class _WriterCodec(W3Codec):
    """Whoosh's default codec for our writers, with two fixes.

    New segment ids come from :mod:`secrets`: Whoosh draws them from the global :mod:`random`,
    which a seeded program repeats (Hypothesis reseeds it for every example), and a repeated id
    makes the commit fail. The flush reads column existence once per field, not per posting.
    Readers never see this class: segments carry a plain W3Codec.
    """

    def per_document_reader(self, storage: Any, segment: Any) -> W3PerDocReader:
        return _ColumnCachingReader(storage, segment)

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        # A plain W3Codec in the segment: the table of contents then pickles no class of ours.
        segment = W3Segment(W3Codec(), indexname)
        alphabet = string.ascii_lowercase + string.digits
        segment.segid = "".join(secrets.choice(alphabet) for _ in range(16))
        return segment


_CODEC = _WriterCodec()


def _id_field(*, stored: bool = False, unique: bool = False, sortable: bool = False) -> NUMERIC:
    # Ids are looked up exactly, never by range: one term per value (shift_step=0) instead of
    # Whoosh's tiers, which would add three unique terms per document per id.
    return NUMERIC(
        bits=64, signed=True, shift_step=0, stored=stored, unique=unique, sortable=sortable
    )


def _date_field() -> NUMERIC:
    # Whole seconds since the epoch: Whoosh's DATETIME keeps microseconds, which makes most of
    # its tiered terms unique per document and triples the cost of a commit.
    return NUMERIC(bits=64, signed=True, shift_step=DATE_SHIFT_STEP)


def build_schema() -> Schema:
    """The index layout: two stored ids, exact keyword fields, analyzed text, dates."""
    return Schema(
        item_id=_id_field(stored=True, unique=True, sortable=True),
        thread_id=_id_field(stored=True, sortable=True),
        account_id=_id_field(),
        parent_id=_id_field(),
        platform=ID(analyzer=_KEY_ANALYZER),
        account=ID(analyzer=_KEY_ANALYZER),
        external_id=ID(),
        kind=ID(analyzer=_KEY_ANALYZER),
        status=ID(analyzer=_KEY_ANALYZER),
        author=TEXT(analyzer=_TEXT_ANALYZER),
        author_exact=ID(analyzer=_KEY_ANALYZER),
        text=TEXT(analyzer=_TEXT_ANALYZER),
        history_text=TEXT(analyzer=_TEXT_ANALYZER),
        created_at=_date_field(),
        created_sort=COLUMN(NumericColumn("q", default=NO_DATE_SORT_KEY)),
        first_captured_at=_date_field(),
        last_captured_at=_date_field(),
    )


def _seconds(value: datetime) -> int:
    # Floor, also for bounds: a range then covers its end second whole and never misses an item.
    return (value.astimezone(UTC) - _EPOCH) // _SECOND


def _sort_key(value: datetime | None) -> int:
    if value is None:
        return NO_DATE_SORT_KEY
    delta = value.astimezone(UTC) - _EPOCH
    return delta // _MICROSECOND


def doc_fields(doc: IndexDoc) -> dict[str, Any]:
    """The Whoosh field values for one doc; absent values are left out rather than indexed."""
    fields: dict[str, Any] = {
        "item_id": doc.item_id,
        "thread_id": doc.thread_id,
        "account_id": doc.account_id,
        "platform": clean_text(doc.platform),
        "account": clean_text(doc.account),
        "external_id": clean_text(doc.external_id),
        "kind": clean_text(doc.kind),
        "status": clean_text(doc.status),
        "history_text": clean_text(doc.history_text or ""),
        "created_sort": _sort_key(doc.created_at),
        "first_captured_at": _seconds(doc.first_captured_at),
        "last_captured_at": _seconds(doc.last_captured_at),
    }
    if doc.parent_id is not None:
        fields["parent_id"] = doc.parent_id
    if doc.author:
        fields["author"] = clean_text(doc.author)
        fields["author_exact"] = author_key(doc.author)
    if doc.text:
        fields["text"] = clean_text(doc.text)
    if doc.created_at is not None:
        fields["created_at"] = _seconds(doc.created_at)
    return fields


def filter_query(filters: SearchFilters) -> query.Query | None:
    """The Whoosh filter for ``filters`` (exact terms, inclusive date ranges), or None."""
    parts: list[query.Query] = []
    if filters.account_id is not None:
        parts.append(query.Term("account_id", filters.account_id))
    for name in ("platform", "kind", "status"):
        value = getattr(filters, name)
        if value is not None:
            parts.append(query.Term(name, clean_text(value).lower()))
    if filters.author is not None:
        parts.append(query.Term("author_exact", author_key(filters.author).lower()))
    if filters.since is not None or filters.until is not None:
        parts.append(_date_range("created_at", filters.since, filters.until))
    if filters.captured_until is not None:
        parts.append(_date_range("first_captured_at", None, filters.captured_until))
    if filters.captured_since is not None:
        parts.append(_date_range("last_captured_at", filters.captured_since, None))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else query.And(parts)


def _date_range(name: str, start: datetime | None, end: datetime | None) -> query.Query:
    return query.NumericRange(
        name,
        _seconds(start) if start is not None else None,
        _seconds(end) if end is not None else None,
    )


def _errors(node: query.Query) -> list[str]:
    found = []
    error = getattr(node, "error", None)
    if error:
        found.append(str(error).replace("\n", " "))
    for child in node.children():
        found.extend(_errors(child))
    return found


def _current_text_only(node: query.Query) -> query.Query:
    """The same query with history_text leaves pointed at the current text (same analyzer)."""

    def retarget(leaf: query.Query) -> query.Query:
        if getattr(leaf, "fieldname", None) == "history_text":
            leaf = copy.copy(leaf)
            leaf.fieldname = "text"  # type: ignore[attr-defined]
        return leaf

    return node.accept(retarget)


def _mentions_history(node: query.Query) -> bool:
    if getattr(node, "fieldname", None) == "history_text":
        return True
    return any(_mentions_history(child) for child in node.children())


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
    ) -> None:
        self._ix = ix
        self._path = path
        self._lock_timeout = lock_timeout
        self._sleep = sleep
        self._monotonic = monotonic
        self._searcher: Searcher | None = None
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
    ) -> WhooshSearchIndex:
        """Open the index in ``path``, creating it (under the write lock) when allowed."""
        if not whoosh_index.exists_in(str(path), indexname=INDEX_NAME):
            if not create:
                raise SearchIndexError(f"no search index at {path} (run `archiver init`)")
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SearchIndexError(f"cannot create search index at {path}: {exc}") from None
            cls._create(path, lock_timeout, sleep, monotonic)
        try:
            ix = whoosh_index.open_dir(str(path), indexname=INDEX_NAME)
        except (OSError, whoosh_index.IndexError) as exc:
            raise SearchIndexError(f"cannot open search index at {path}: {exc}") from None
        return cls(ix, path, lock_timeout=lock_timeout, sleep=sleep, monotonic=monotonic)

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
            # With no segments yet there is nothing to replace: skip update_document's look-ups.
            write = writer.update_document if writer.segments else writer.add_document
            for fields in prepared:
                write(**fields)
        except BaseException:
            writer.cancel()
            raise
        self._commit(writer)
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
        """Remove every item; the CLEAR merge policy drops all segments in one commit."""
        self._commit(self._writer(), mergetype=CLEAR)

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
                return self._ix.writer(procs=WRITER_PROCS, limitmb=LIMIT_MB, codec=_CODEC)
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
            return self._current_searcher().doc_count()

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
        allowed = filter_query(filters)
        if match_all:
            order = sorting.MultiFacet(
                [sorting.FieldFacet("created_sort", reverse=True), sorting.FieldFacet("item_id")]
            )
        else:
            order = sorting.MultiFacet([sorting.ScoreFacet(), sorting.FieldFacet("item_id")])
        threads = sorting.FieldFacet("thread_id", maptype=sorting.Count)
        with self._guard:
            searcher = self._current_searcher()
            results = searcher.search(
                parsed,
                filter=allowed,
                limit=max(offset + limit, 1),
                sortedby=order,
                groupedby={"threads": threads},
            )
            total = len(results)
            thread_count = len(results.groups("threads"))
            page = [
                (hit.docnum, hit["item_id"], hit["thread_id"])
                for hit in results[offset : offset + limit]
            ]
            in_current: set[int] = set()
            if page and not match_all and _mentions_history(parsed):
                docnums = {docnum for docnum, _, _ in page}
                current = searcher.search(
                    _current_text_only(parsed), filter=docnums, limit=None
                )
                in_current = set(current.docs())
            else:
                in_current = {docnum for docnum, _, _ in page}
        hits = [
            SearchHit(item_id=item_id, thread_id=thread, matched_history_only=d not in in_current)
            for d, item_id, thread in page
        ]
        return SearchResults(total=total, hits=hits, threads=thread_count)

    def _parse(self, text: str) -> tuple[query.Query, bool]:
        text = clean_text(text).strip()
        if text in ("", "*"):
            return query.Every(), True
        check_balanced(text)
        parser = qparser.MultifieldParser(
            list(DEFAULT_FIELDS), self._ix.schema, fieldboosts=FIELD_BOOSTS
        )
        parser.add_plugin(qparser.GtLtPlugin())
        try:
            parsed = parser.parse(text)
        except Exception as exc:  # any parser failure comes from the user's query
            raise QueryError(f"cannot parse search query {echo_query(text)}: {exc}") from None
        errors = _errors(parsed)
        if errors:
            raise QueryError(f"cannot parse search query {echo_query(text)}: {errors[0]}")
        return parsed, False

    def _current_searcher(self) -> Searcher:
        self._check_open()
        # Reopen only when some writer has committed since. Not Searcher.refresh(): it reuses
        # segment readers by segment id, so it keeps serving documents deleted since then.
        if self._searcher is not None and (
            self._searcher.reader().generation() != self._ix.latest_generation()
        ):
            self._searcher.close()
            self._searcher = None
        if self._searcher is None:
            self._searcher = self._ix.searcher()
        return self._searcher

    def _check_open(self) -> None:
        if self._closed:
            raise SearchIndexError(f"search index at {self._path} is closed")

    def close(self) -> None:
        """Close the shared searcher and the index; safe to call twice."""
        with self._guard:
            if self._closed:
                return
            self._closed = True
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            self._ix.close()


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
        column = column_values(leaf.column_reader("item_id", translate=False))
        found.extend(base + d for d, key in enumerate(column)
                     if key in keys and not leaf.is_deleted(d))
    return found


def column_values(column: Any) -> list[Any]:
    """Every document's raw value in a segment's column, as ``list(column)`` gives them.

    Whoosh reads a numeric column one document at a time (a file read and an unpack each),
    which made a purge's index deletes slow; a 64-bit column is read here as one array.
    """
    if isinstance(column, NumericColumn.Reader) and column._typecode in ("q", "Q"):
        data = column._dbfile.get(column._basepos, column._count * column._fixedlen)
        values = array(column._typecode, data)
        if sys.byteorder == "little":
            values.byteswap()  # stored big-endian ("!" in Whoosh's struct formats)
        return values.tolist() + [column._default] * (column._doccount - column._count)
    return list(column)


def _drop_emptied(writer: IndexWriter, segments: list[Any]) -> list[Any]:
    """Merge policy for a commit that only deletes: no rewriting (the next commit that adds
    documents merges small segments), but segments whose every document is now deleted go."""
    return [segment for segment in segments if segment.doc_count() > 0]
