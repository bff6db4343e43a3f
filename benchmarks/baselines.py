"""The floors our figures are compared with, measured in the same run on the same data.

* storage: the same rows bulk-inserted with plain ``sqlite3`` ``executemany``;
* search: SQLite FTS5 over the same text, running the same queries;
* hashing: ``hashlib.sha256`` over the same bytes the blob store holds.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from benchmarks.measure import percentile
from benchmarks.queries import BenchQuery


def sqlite_insert_rows_per_s(rows: Sequence[tuple[object, ...]], path: Path) -> float:
    """Rows per second for one executemany into a fresh table with the same shape."""
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE versions (item_id INTEGER, external_id TEXT, kind TEXT, "
                "status TEXT, text TEXT, author TEXT, created_at TEXT, sha256 TEXT)")
    started = time.perf_counter()
    with con:
        con.executemany("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    seconds = time.perf_counter() - started
    con.close()
    return len(rows) / seconds if seconds else 0.0


def sha256_mb_per_s(blobs: Iterable[bytes]) -> float:
    """MB/s of hashlib.sha256 over the given bytes (already in memory: the hashing floor)."""
    data = list(blobs)
    total = sum(len(b) for b in data)
    started = time.perf_counter()
    for blob in data:
        hashlib.sha256(blob).hexdigest()
    seconds = time.perf_counter() - started
    return total / 1e6 / seconds if seconds else 0.0


def disk_bytes(folder: Path) -> int:
    """Allocated bytes (``st_blocks``) of every file under ``folder``: what the disk holds for
    it, small files rounded up to whole blocks."""
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def sha256_files_mb_per_s(folder: Path) -> float:
    """MB/s of reading every blob file from disk and hashing it, one after another: the floor
    for a verify that must read small files (page cache as it is after the run)."""
    files = [p for p in folder.rglob("*") if p.is_file() and len(p.name) == 64]
    total = 0
    started = time.perf_counter()
    for path in files:
        data = path.read_bytes()
        total += len(data)
        hashlib.sha256(data).hexdigest()
    seconds = time.perf_counter() - started
    return total / 1e6 / seconds if seconds else 0.0


class Fts5:
    """The search floor: SQLite FTS5 with the same documents and filter columns."""

    def __init__(self, path: Path, docs: Iterable[tuple[int, str, str, str, str, str]]) -> None:
        path.unlink(missing_ok=True)
        self.con = sqlite3.connect(path)
        self.con.execute("CREATE VIRTUAL TABLE docs USING fts5(text, history, author)")
        self.con.execute("CREATE TABLE meta (rowid INTEGER PRIMARY KEY, status TEXT, kind TEXT, "
                         "created TEXT)")
        with self.con:
            for item_id, text, history, author, status, kind_created in docs:
                kind, created = kind_created.split("|", 1)
                self.con.execute("INSERT INTO docs(rowid, text, history, author) "
                                 "VALUES (?, ?, ?, ?)", (item_id, text, history, author))
                self.con.execute("INSERT INTO meta VALUES (?, ?, ?, ?)",
                                 (item_id, status, kind, created))
            # The indexes a tuned FTS5 deployment would have for these filters and the date order.
            self.con.execute("CREATE INDEX meta_created ON meta(created)")
            self.con.execute("CREATE INDEX meta_status ON meta(status, created)")
            self.con.execute("CREATE INDEX meta_kind ON meta(kind, created)")

    def run(self, q: BenchQuery, limit: int = 20) -> int:
        """Run ``q`` as FTS5 would: a count for the total and the first page by rank."""
        where, args = [], []
        if q.status:
            where.append("meta.status = ?")
            args.append(q.status)
        if q.kind:
            where.append("meta.kind = ?")
            args.append(q.kind)
        if q.since:
            where.append("meta.created >= ?")
            args.append(q.since)
        if q.fts is None:
            clause = " AND ".join(where) or "1"
            count = f"SELECT count(*) FROM meta WHERE {clause}"  # noqa: S608 - fixed clauses
            total = self.con.execute(count, args).fetchone()
            self.con.execute(f"SELECT rowid FROM meta WHERE {clause} ORDER BY created DESC "  # noqa: S608
                             f"LIMIT {limit}", args).fetchall()
            return int(total[0])
        # CROSS JOIN: the full-text match drives and meta is looked up by rowid, as a tuned
        # FTS5 query would be written (left to itself the planner may scan meta first).
        clause = " AND ".join(["docs MATCH ?", *where])
        base = f"FROM docs CROSS JOIN meta ON meta.rowid = docs.rowid WHERE {clause}"  # noqa: S608
        args = [q.fts, *args]
        total = self.con.execute(f"SELECT count(*) {base}", args).fetchone()  # noqa: S608
        self.con.execute(f"SELECT docs.rowid {base} ORDER BY rank LIMIT {limit}",  # noqa: S608
                         args).fetchall()
        return int(total[0])

    def latencies_ms(self, queries: Sequence[BenchQuery], rounds: int = 3) -> list[float]:
        for q in queries:  # warm the page cache as our index is warmed
            self.run(q)
        times = []
        for _ in range(rounds):
            for q in queries:
                started = time.perf_counter()
                self.run(q)
                times.append((time.perf_counter() - started) * 1000)
        return times

    def p95_ms(self, queries: Sequence[BenchQuery]) -> float:
        return percentile(self.latencies_ms(queries), 95)

    def close(self) -> None:
        self.con.close()
