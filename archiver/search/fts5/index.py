"""The search index on SQLite FTS5, behind :mod:`archiver.search.interface` (``index_engine =
fts5``).

One SQLite file, ``<index_dir>/fts5.sqlite3``, separate from the archive's database (which may be
PostgreSQL): an FTS5 table holds the three analysed texts (rowid = item id) and a plain table,
``docs``, the exact-match and date columns with an index per filter. WAL mode lets one writer and
any number of readers (in any process) work at once; a writer that finds another one busy retries
with back-off, sleeping with the injected ``sleep``.

The query language is Whoosh's, parsed by Whoosh's own parser with the Whoosh engine's schema,
so both engines read a query identically; the tree is then compiled to an FTS5 MATCH expression
(the text part) plus SQL conditions on ``docs`` (ids, keywords, dates). Wildcards and ranges over
words are answered from FTS5's own word list (``fts5vocab`` tables on each connection) as Whoosh
answers them; what FTS5 cannot answer exactly (sloppy phrases) is a :class:`QueryError`.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from archiver.errors import QueryError
from archiver.search.fts5.query import (
    PRESENT_BITS,
    CompiledQuery,
    TermScan,
    compile_query,
    parse_query,
    sql_filters,
)
from archiver.search.interface import (
    NO_FILTERS,
    IndexDoc,
    IndexMark,
    SearchFilters,
    SearchHit,
    SearchIndex,
    SearchIndexError,
    SearchResults,
    author_key,
    clean_text,
    date_sort_key,
    epoch_seconds,
    retry_until,
)

FILE_NAME = "fts5.sqlite3"
SCHEMA_VERSION = 2
CHUNK = 500  # ids per IN (...) look-up
ENTRIES_PAGE = 10_000  # rows per read when listing every entry
_WORD = re.compile(r"\w")

# tokenchars '_': Whoosh's tokenizer keeps "foo_bar" one word; FTS5 would split it.
_TOKENIZER = "unicode61 remove_diacritics 2 tokenchars '_'"
# Whoosh boosts text 2, history 1, author 1.5 (whoosh_index.FIELD_BOOSTS): same weights here.
_RANK = "bm25(2.0, 1.0, 1.5)"
# The index's mark (archiver.search.interface.IndexMark): one row per field.
_MARKS = "CREATE TABLE marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
_SCHEMA = [
    """CREATE TABLE docs (
        item_id INTEGER PRIMARY KEY, thread_id INTEGER NOT NULL, account_id INTEGER NOT NULL,
        parent_id INTEGER, platform TEXT NOT NULL, account TEXT NOT NULL,
        external_id TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, author_exact TEXT,
        created_at INTEGER, created_sort INTEGER NOT NULL, first_captured_at INTEGER NOT NULL,
        last_captured_at INTEGER NOT NULL, present INTEGER NOT NULL,
        seq INTEGER NOT NULL DEFAULT 0)""",
    _MARKS,
    f'CREATE VIRTUAL TABLE fts USING fts5(text, history_text, author, tokenize="{_TOKENIZER}")',
    f"INSERT INTO fts(fts, rank) VALUES ('rank', '{_RANK}')",  # noqa: S608 - constants
    # "*" lists newest first: (created_sort DESC, rowid) is exactly that order; date filters
    # are also put on created_sort so these serve them; thread_id makes them cover the counts.
    "CREATE INDEX docs_created_sort ON docs(created_sort DESC, thread_id)",
    "CREATE INDEX docs_status ON docs(status, created_sort DESC, thread_id)",
    "CREATE INDEX docs_kind ON docs(kind, created_sort DESC, thread_id)",
    "CREATE INDEX docs_account_id ON docs(account_id, created_sort DESC, thread_id)",
    "CREATE INDEX docs_platform ON docs(platform)",
    "CREATE INDEX docs_account ON docs(account)",
    "CREATE INDEX docs_thread ON docs(thread_id)",
    "CREATE INDEX docs_parent ON docs(parent_id)",
    "CREATE INDEX docs_external ON docs(external_id)",
    "CREATE INDEX docs_author ON docs(author_exact)",
    "CREATE INDEX docs_created_at ON docs(created_at)",
    "CREATE INDEX docs_first_captured ON docs(first_captured_at)",
    "CREATE INDEX docs_last_captured ON docs(last_captured_at)",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
]
# Layout 1 lacked the version number and the mark: its docs read as version 0, which verify
# and the index catch-up (archiver.search.indexing) see as out of date and index again.
_UPGRADE_FROM_1 = ["ALTER TABLE docs ADD COLUMN seq INTEGER NOT NULL DEFAULT 0", _MARKS,
                   f"PRAGMA user_version = {SCHEMA_VERSION}"]
_DOC_COLUMNS = (
    "item_id, thread_id, account_id, parent_id, platform, account, external_id, kind, status, "
    "author_exact, created_at, created_sort, first_captured_at, last_captured_at, present, seq"
)


def _doc_rows(doc: IndexDoc) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The ``docs`` row and the ``fts`` row of one doc (cleaned: SQLite stores UTF-8)."""
    text = clean_text(doc.text or "")
    history = clean_text(doc.history_text or "")
    author = clean_text(doc.author or "")
    present = sum(bit for name, bit in PRESENT_BITS.items()
                  if _WORD.search({"text": text, "history_text": history, "author": author}[name]))
    row = (
        doc.item_id, doc.thread_id, doc.account_id, doc.parent_id,
        clean_text(doc.platform).lower(), clean_text(doc.account).lower(),
        clean_text(doc.external_id), clean_text(doc.kind).lower(), clean_text(doc.status).lower(),
        author_key(doc.author).lower() if doc.author else None,
        epoch_seconds(doc.created_at) if doc.created_at is not None else None,
        date_sort_key(doc.created_at), epoch_seconds(doc.first_captured_at),
        epoch_seconds(doc.last_captured_at), present, doc.seq,
    )
    return row, (doc.item_id, text, history, author)


def _term_docs(con: sqlite3.Connection, scan: TermScan) -> set[int]:
    """The items holding a word ``scan`` takes in: the words from the word list (within the
    bounds, then ``accept``), then the items from each word's places, a chunk of words at once."""
    cols = ", ".join("?" * len(scan.columns))
    where, args = [f"col IN ({cols})"], list(scan.columns)
    if scan.start is not None:
        where.append("term > ?" if scan.start_excl else "term >= ?")
        args.append(scan.start)
    if scan.end is not None:
        where.append("term < ?" if scan.end_excl else "term <= ?")
        args.append(scan.end)
    sql = f"SELECT DISTINCT term FROM temp.fts_words WHERE {' AND '.join(where)}"  # noqa: S608
    terms = [t for (t,) in con.execute(sql, args) if scan.accept is None or scan.accept(t)]
    found: set[int] = set()
    for start in range(0, len(terms), CHUNK):
        chunk = terms[start:start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        found.update(doc for (doc,) in con.execute(
            f"SELECT DISTINCT doc FROM temp.fts_places WHERE term IN ({marks}) "  # noqa: S608
            f"AND col IN ({cols})", [*chunk, *scan.columns]))
    return found


def _is_lock_error(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


class Fts5SearchIndex(SearchIndex):
    """:class:`SearchIndex` on one SQLite FTS5 file; open it with ``open_index(engine="fts5")``."""

    def __init__(
        self,
        con: sqlite3.Connection,
        path: Path,
        *,
        lock_timeout: float,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
    ) -> None:
        self._con: sqlite3.Connection | None = con
        self._path = path
        self._lock_timeout = lock_timeout
        self._sleep = sleep
        self._monotonic = monotonic
        self._guard = threading.RLock()  # one connection, used by one thread at a time

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        folder: Path,
        *,
        create: bool,
        lock_timeout: float,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
    ) -> Fts5SearchIndex:
        """Open ``<folder>/fts5.sqlite3``, creating it (under the write lock) when allowed."""
        path = Path(folder) / FILE_NAME
        if not path.exists():
            if not create:
                raise SearchIndexError(f"no search index at {folder} (run `archiver init`)")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SearchIndexError(f"cannot create search index at {folder}: {exc}") from None
        try:
            con = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                  timeout=max(lock_timeout, 0.0))
        except sqlite3.Error as exc:
            raise SearchIndexError(f"cannot open search index at {folder}: {exc}") from None
        index = cls(con, path, lock_timeout=lock_timeout, sleep=sleep, monotonic=monotonic)
        try:
            index._prepare(wal=True)
        except BaseException:
            index.close()
            raise
        return index

    @classmethod
    def memory(cls) -> Fts5SearchIndex:
        """A throwaway index in memory (same schema and query language)."""
        con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        index = cls(con, Path("(memory)"), lock_timeout=0.0, sleep=lambda _: None,
                    monotonic=lambda: 0.0)
        index._prepare(wal=False)
        return index

    def _prepare(self, *, wal: bool) -> None:
        con = self._connection()
        try:
            if wal:
                con.execute("PRAGMA journal_mode = WAL")  # persistent; readers never block
                # The index is derived data, rebuilt from the database: NORMAL is durable enough.
                con.execute("PRAGMA synchronous = NORMAL")
                # Bounded: a mapped page and a cached page both count in the process's memory,
                # and capture runs one connection per worker. 256 MB of map and 64 MB of cache
                # grew a 1M-item capture's workers to ~300 MB each, for no search speed we
                # could measure at 100k items.
                con.execute("PRAGMA mmap_size = 67108864")
            con.execute("PRAGMA cache_size = -16384")
            con.execute("PRAGMA temp_store = MEMORY")
            version = con.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise SearchIndexError(f"cannot open search index at {self._path}: {exc}") from None
        if version in (0, 1):
            with self._writing() as con:
                version = con.execute("PRAGMA user_version").fetchone()[0]  # lost a race?
                for statement in {0: _SCHEMA, 1: _UPGRADE_FROM_1}.get(version, []):
                    con.execute(statement)
        elif version != SCHEMA_VERSION:
            raise SearchIndexError(
                f"search index at {self._path} has layout {version}, this version reads "
                f"{SCHEMA_VERSION}: delete the file and run `archiver index rebuild`"
            )
        # The word lists wildcards and ranges scan: per connection, nothing written to the file.
        for name, kind in (("fts_words", "col"), ("fts_places", "instance")):
            con.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{name} "
                        f"USING fts5vocab(main, fts, {kind})")

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE (retried while another writer holds it)."""
        with self._guard:
            con = self._connection()

            def begin() -> bool | None:
                try:
                    con.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if not _is_lock_error(exc):
                        raise self._write_error(exc) from None
                    return None
                return True

            con.execute("PRAGMA busy_timeout = 0")  # we wait ourselves, with injected sleep
            try:
                retry_until(begin, self._path.parent, self._lock_timeout, self._sleep,
                            self._monotonic)
            finally:
                con.execute(f"PRAGMA busy_timeout = {int(self._lock_timeout * 1000)}")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise self._write_error(exc) from None
                raise

    def _write_error(self, exc: sqlite3.Error) -> SearchIndexError:
        return SearchIndexError(f"cannot write search index at {self._path.parent}: {exc}")

    def add(self, docs: Iterable[IndexDoc]) -> int:
        """Insert or replace (by item_id) every doc in one transaction; return how many."""
        latest: dict[int, IndexDoc] = {}
        for doc in docs:
            latest[doc.item_id] = doc  # the last one given for an item wins
        if not latest:
            return 0
        rows = [_doc_rows(doc) for doc in latest.values()]
        with self._writing() as con:
            # FTS5 keeps its own copy of a row's terms: replace means delete, then insert.
            self._remove(con, list(latest))
            marks = ", ".join("?" * 16)
            insert = f"INSERT OR REPLACE INTO docs ({_DOC_COLUMNS}) VALUES ({marks})"  # noqa: S608
            con.executemany(insert, [row for row, _ in rows])
            con.executemany("INSERT INTO fts (rowid, text, history_text, author) "
                            "VALUES (?, ?, ?, ?)", [fts for _, fts in rows])
        return len(rows)

    @staticmethod
    def _remove(con: sqlite3.Connection, ids: list[int]) -> int:
        """Delete these items' rows from both tables, a chunk of ids per statement; return
        how many were there."""
        removed = 0
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            # docs and fts always hold the same ids (written together): count once, on docs.
            removed += con.execute(
                f"DELETE FROM docs WHERE item_id IN ({marks})", chunk).rowcount  # noqa: S608
            con.execute(f"DELETE FROM fts WHERE rowid IN ({marks})", chunk)  # noqa: S608
        return removed

    def delete(self, item_ids: Iterable[int]) -> int:
        """Remove these items in one transaction; return how many were in the index."""
        wanted = sorted(set(item_ids))
        if not wanted:
            return 0
        with self._writing() as con:
            return self._remove(con, wanted)

    def clear(self) -> None:
        """Remove every item and the mark: drop and re-create the tables (instant, unlike row
        deletes)."""
        with self._writing() as con:
            for table in ("fts", "docs", "marks"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA:
                con.execute(statement)

    # -- the mark --------------------------------------------------------------------------

    @staticmethod
    def _read_mark(con: sqlite3.Connection) -> IndexMark | None:
        values = dict(con.execute("SELECT name, value FROM marks").fetchall())
        if "versions" not in values or "tombstones" not in values:
            return None
        return IndexMark(int(values["versions"]), int(values["tombstones"]))

    def mark(self) -> IndexMark | None:
        """The mark last set (None: never, or cleared since)."""
        with self._guard:
            return self._read_mark(self._connection())

    def set_mark(self, mark: IndexMark, *, expected: IndexMark | None) -> bool:
        """Set ``mark`` if the current one is still ``expected``, in one write transaction."""
        with self._writing() as con:
            if self._read_mark(con) != expected:
                return False
            con.executemany("INSERT OR REPLACE INTO marks (name, value) VALUES (?, ?)",
                            [("versions", mark.versions), ("tombstones", mark.tombstones)])
            return True

    # -- reading ---------------------------------------------------------------------------

    def count(self) -> int:
        """How many items are in the index."""
        with self._guard:
            return int(self._connection().execute("SELECT count(*) FROM docs").fetchone()[0])

    def entries(self) -> Iterator[tuple[int, int]]:
        """``(item_id, seq)`` of every item, a page of rows at a time (in item_id order)."""
        after = -(2**63)
        while True:
            with self._guard:
                rows = self._connection().execute(
                    "SELECT item_id, seq FROM docs WHERE item_id > ? ORDER BY item_id LIMIT ?",
                    (after, ENTRIES_PAGE)).fetchall()
            yield from rows
            if len(rows) < ENTRIES_PAGE:
                return
            after = rows[-1][0]

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
        parsed = parse_query(query)
        where, params = sql_filters(filters)
        with self._guard:
            con = self._connection()
            try:
                compiled = (compile_query(parsed.tree, query, partial(_term_docs, con))
                            if parsed.tree is not None else None)
                return self._search(con, parsed, compiled, where, params, limit, offset, query)
            except sqlite3.OperationalError as exc:
                # Only a MATCH expression we built can fail here: report it, do not crash.
                if "fts5" in str(exc) or "MATCH" in str(exc):
                    raise QueryError(f"search query cannot run on the fts5 index: {exc}") from None
                raise SearchIndexError(f"cannot read search index at {self._path.parent}: "
                                       f"{exc}") from None

    def _search(self, con: sqlite3.Connection, parsed: Any, compiled: CompiledQuery | None,
                where: list[str], params: list[Any], limit: int, offset: int,
                query: str) -> SearchResults:
        args: list[Any]
        if compiled is None:  # "*" or empty: everything, newest first
            source, args, order = "docs d", [], "d.created_sort DESC, d.item_id"
        else:
            cond, cond_args = compiled.sql_condition()
            where, params = [*where, cond], [*params, *cond_args]
            if compiled.match is not None:
                # CROSS JOIN: FTS5 drives, docs is looked up by rowid (the planner may not know).
                source = "fts CROSS JOIN docs d ON d.item_id = fts.rowid"
                where, params = ["fts MATCH ?", *where], [compiled.match, *params]
                order = "fts.rank, d.item_id"
            else:
                source, order = "docs d", "d.item_id"
            args = []
        clause = " AND ".join(where) or "1"
        base = f"FROM {source} WHERE {clause}"  # noqa: S608 - fragments are ours, values bound
        total, threads = con.execute(
            f"SELECT count(*), count(DISTINCT d.thread_id) {base}", [*args, *params]).fetchone()
        page: list[tuple[int, int]] = []
        if limit and offset < total:
            page = con.execute(f"SELECT d.item_id, d.thread_id {base} ORDER BY {order} "
                               "LIMIT ? OFFSET ?", [*args, *params, limit, offset]).fetchall()
        in_current = {item_id for item_id, _ in page}
        if page and compiled is not None and parsed.mentions_history:
            in_current = self._current_matches(con, parsed, query, [i for i, _ in page])
        hits = [SearchHit(item_id=i, thread_id=t, matched_history_only=i not in in_current)
                for i, t in page]
        return SearchResults(total=int(total), hits=hits, threads=int(threads))

    @staticmethod
    def _current_matches(con: sqlite3.Connection, parsed: Any, query: str,
                         ids: list[int]) -> set[int]:
        """Which of ``ids`` the query matches with earlier versions' text left out."""
        current = compile_query(parsed.current_only(), query, partial(_term_docs, con))
        cond, args = current.sql_condition(include_match=True)
        marks = ", ".join("?" * len(ids))
        sql = f"SELECT d.item_id FROM docs d WHERE d.item_id IN ({marks}) AND {cond}"  # noqa: S608
        return {i for (i,) in con.execute(sql, [*ids, *args])}

    # -- lifecycle -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            raise SearchIndexError(f"search index at {self._path.parent} is closed")
        return self._con

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._guard:
            if self._con is not None:
                self._con.close()
                self._con = None
