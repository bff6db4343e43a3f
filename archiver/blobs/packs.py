"""Small blobs in pack files in a local folder, with their index beside them.

``<store>/packs/`` holds the packs (:mod:`archiver.blobs.warc_records`) and ``index.sqlite``,
which maps each blob's sha256 to its pack and place. The index lives with the packs, not in the
archive database: the blob store is a layer below the database (it is opened from the store URL
alone, and an S3 or folder store moves or is restored together with its index), and the index is
only a cache of what the packs say about themselves, so :meth:`PackFolder.recover` can rebuild
any part of it from the packs.

Writes: a batch becomes one new pack, written to a temporary file, fsynced and renamed, and only
then are its index entries committed, so an entry never names bytes that are not durable. A
writer killed after the rename leaves a pack without entries, which :meth:`recover` indexes (it
is whole: the rename came after the fsync). Writers never append to a pack, so concurrent writers
(capture and the webhook daemon) each write their own file; SQLite's locking serialises their
index commits.

Deletes rewrite: the packs holding a doomed blob are copied without it to new packs, the index is
switched, and the old packs are unlinked, so destroyed bytes are gone from the folder, not merely
unreferenced. A journal (``rewrite`` and ``doomed`` rows) is committed before any pack is touched,
and :meth:`finish_rewrites` completes whatever a killed run left, so a purge is resumable.

Where the packs themselves live is a :class:`PackBackend`: :class:`LocalPacks` (this folder) or
:class:`archiver.blobs.s3_packs.S3Packs` (objects in a bucket, with the index in a local cache).
A backend whose index is only a cache also keeps each rewrite's journal entry beside its packs
(:meth:`PackBackend.journal_put`), so a rewrite killed mid-way is finished even by a process that
has never seen the cache it was journalled in.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path

from archiver.blobs.interface import BlobCheck, check_hash, is_hash
from archiver.blobs.pack_backend import TEMP_PREFIX, Journal, LocalPacks, PackBackend
from archiver.blobs.warc_records import (
    PACK_SUFFIX,
    Record,
    build_pack,
    copy_records,
    scan_pack,
)
from archiver.errors import BlobLocked, BlobNotFound, StoreError

PACKS = "packs"
INDEX = "index.sqlite"
#: Blobs smaller than this go into packs; larger ones (media, WARC files) stay single files.
PACK_BELOW = 64 * 1024
#: A pack is closed at this many bytes (a migration or a big batch makes several).
PACK_BYTES = 16 * 1024 * 1024
_IN = 500  # hashes per ``IN (...)`` lookup, well under SQLite's parameter limit
_GAP = 256 * 1024  # records closer than this are read in one pread

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pack (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS entry (
    sha BLOB NOT NULL, pack INTEGER NOT NULL, head INTEGER NOT NULL, start INTEGER NOT NULL,
    length INTEGER NOT NULL, PRIMARY KEY (sha, pack)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entry_by_pack ON entry (pack, start);
CREATE TABLE IF NOT EXISTS rewrite (pack INTEGER PRIMARY KEY, old_name TEXT NOT NULL,
    new_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doomed (sha BLOB NOT NULL, pack INTEGER NOT NULL,
    PRIMARY KEY (sha, pack)) WITHOUT ROWID;
"""

Location = tuple[str, Record]  # (pack file name, record)
Row = tuple[str, int, int, int]  # (sha256, pack id, payload start, length)


def _where_in(sql: str, count: int) -> str:
    """``sql`` followed by ``IN (?, ...)`` with ``count`` placeholders: the values are bound
    parameters, only their number is spliced in."""
    return f"{sql} IN ({','.join('?' * count)})"


def _keys(hashes: Sequence[str]) -> list[bytes]:
    """Index keys for the well-formed hashes among ``hashes`` (the others cannot be packed)."""
    try:
        return [bytes.fromhex(h) for h in hashes]
    except (ValueError, TypeError):
        return [bytes.fromhex(h) for h in hashes if is_hash(h)]


class PackFolder:
    """The packs and their index: by default both under ``root/packs``; with a ``backend``,
    the packs are wherever it keeps them and ``root/packs`` holds only the index."""

    def __init__(self, root: Path, url: str, backend: PackBackend | None = None) -> None:
        self.folder = Path(root) / PACKS
        self.url = url
        self.backend: PackBackend = backend or LocalPacks(self.folder, url)
        self._local = threading.local()

    # -- the index -------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        """This thread's index connection (sqlite3 connections are not shared across threads)."""
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.folder / INDEX, timeout=60, isolation_level=None,
                                  check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.executescript(_SCHEMA)
            self._local.con = con
        return con

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        con = self._db()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def close(self) -> None:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    def exists_index(self) -> bool:
        return (self.folder / INDEX).is_file()

    def locate_many(self, hashes: Sequence[str]) -> dict[str, Location]:
        """One place (pack name, record) for each of ``hashes`` that is packed."""
        if not hashes or not self.exists_index():
            return {}
        con = self._db()
        out: dict[str, Location] = {}
        for at in range(0, len(hashes), _IN):
            part = _keys(hashes[at:at + _IN])
            rows = con.execute(_where_in(
                "SELECT e.sha, p.name, e.head, e.start, e.length FROM entry e "
                "JOIN pack p ON p.id = e.pack WHERE e.sha", len(part)), part)
            for sha, name, head, start, length in rows:
                hexsha = sha.hex()
                out[hexsha] = (name, Record(hexsha, head, start, length))
        return out

    def locate(self, sha256: str) -> Location | None:
        """Where a packed blob is, or None if it is not in a pack."""
        return self.locate_many([sha256]).get(sha256)

    def places(self, sha256: str) -> set[str]:
        """The names of every pack holding the blob."""
        if not self.exists_index():
            return set()
        return {name for _, _, name in self._all_locations([sha256])}

    def pack_hashes(self, name: str) -> set[str]:
        """The hashes of the blobs the index has in pack ``name``."""
        if not self.exists_index():
            return set()
        return {sha.hex() for (sha,) in self._db().execute(
            "SELECT e.sha FROM entry e JOIN pack p ON p.id = e.pack WHERE p.name = ?", (name,))}

    def iter_hashes(self) -> Iterator[str]:
        """Every packed blob's hash, sorted."""
        if not self.exists_index():
            return
        last = None
        for (sha,) in self._db().execute("SELECT sha FROM entry ORDER BY sha"):
            if sha != last:
                yield sha.hex()
                last = sha

    # -- writing ---------------------------------------------------------------------------

    def write(self, blobs: Sequence[tuple[str, bytes, str | None]], *,
              new_blobs: bool = True) -> None:
        """Put ``(sha256, data, media_type)`` blobs into new packs (none already packed);
        ``new_blobs`` False for blobs moved from elsewhere (see :meth:`PackBackend.seal`)."""
        batch: list[tuple[str, bytes, str | None]] = []
        size = 0
        for blob in blobs:
            batch.append(blob)
            size += len(blob[1])
            if size >= PACK_BYTES:
                self._write_pack(batch, new_blobs)
                batch, size = [], 0
        if batch:
            self._write_pack(batch, new_blobs)

    def _new_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return f"pack-{stamp}-{uuid.uuid4().hex[:16]}{PACK_SUFFIX}"

    def _write_pack(self, blobs: list[tuple[str, bytes, str | None]], new_blobs: bool) -> None:
        name = self._new_name()
        data, records = build_pack(blobs, datetime.now(UTC))
        self.backend.seal(name, data, like=None, new_blobs=new_blobs)
        with self._write() as con:
            self._index(con, name, records)

    @staticmethod
    def _index(con: sqlite3.Connection, name: str, records: Iterable[Record]) -> int:
        con.execute("INSERT OR IGNORE INTO pack (name) VALUES (?)", (name,))
        (pack_id,) = con.execute("SELECT id FROM pack WHERE name = ?", (name,)).fetchone()
        con.executemany(
            "INSERT OR IGNORE INTO entry (sha, pack, head, start, length) VALUES (?,?,?,?,?)",
            [(bytes.fromhex(r.sha256), pack_id, r.head, r.start, r.length) for r in records])
        return int(pack_id)

    # -- reading ---------------------------------------------------------------------------

    def read(self, sha256: str) -> bytes:
        """A packed blob's bytes; :class:`BlobNotFound` if it is not packed."""
        for _ in range(2):  # a rewrite may move it between the lookup and the read: look again
            where = self.locate(sha256)
            if where is None:
                break
            name, rec = where
            try:
                data = self.backend.read(name, rec.start, rec.length)
            except BlobNotFound:
                continue
            if len(data) != rec.length:
                raise StoreError(f"cannot read blob {sha256} from {self.url}: pack {name} "
                                 "is cut short")
            return data
        raise BlobNotFound(f"blob {sha256} not found in {self.url}")

    def lookup(self, hashes: Sequence[str]) -> list[Row]:
        """Index rows ``(sha256, pack name, start, length)`` of the packed blobs among
        ``hashes`` (any order; one lookup per 500 hashes)."""
        rows: list[Row] = []
        if not hashes or not self.exists_index():
            return rows
        con = self._db()
        for at in range(0, len(hashes), _IN):
            part = _keys(hashes[at:at + _IN])
            rows += con.execute(_where_in(
                "SELECT lower(hex(sha)), pack, start, length FROM entry WHERE sha", len(part)),
                part).fetchall()
        return rows

    def lookup_range(self, hashes: Sequence[str]) -> list[Row]:
        """As :meth:`lookup`, for ascending ``hashes`` (as verify sends them): one range scan
        of the index in its own key order, filtered by set membership, costs a fraction of
        looking each hash up."""
        if not hashes or not self.exists_index():
            return []
        wanted = set(hashes)
        rows = self._db().execute(
            "SELECT lower(hex(sha)), pack, start, length FROM entry WHERE sha BETWEEN ? AND ?",
            (bytes.fromhex(hashes[0]), bytes.fromhex(hashes[-1]))).fetchall()
        return [row for row in rows if row[0] in wanted]

    def hash_rows(self, rows: list[Row]) -> dict[str, BlobCheck]:
        """Hash the blobs of index ``rows``.

        The hot path of ``verify``: each pack's blobs are read with one read of the span
        holding them (one ``pread``, or one ranged GET) and hashed from slices of that buffer,
        with plain tuples throughout (per blob this is a handful of C calls)."""
        by_pack: dict[int, list[Row]] = {}
        for row in rows:
            by_pack.setdefault(row[1], []).append(row)
        names = dict(self._db().execute("SELECT id, name FROM pack").fetchall())
        out: dict[str, BlobCheck] = {}
        sha256 = hashlib.sha256
        new = tuple.__new__  # NamedTuple's own __new__ is a Python function: too slow here
        read = self.backend.read
        for pack_id, located in by_pack.items():
            name = names.get(pack_id, str(pack_id))
            try:
                first = min(map(itemgetter(2), located))
                span = max(start + length for _, _, start, length in located) - first
                whole = b""
                if span <= 4 * sum(map(itemgetter(3), located)) + _GAP:
                    whole = read(name, first, span)
                if whole and len(whole) == span:  # the usual case: one read, then slices of it
                    view = memoryview(whole)
                    for sha, _, start, length in located:
                        at = start - first
                        out[sha] = new(BlobCheck, (
                            sha, sha256(view[at:at + length]).hexdigest(), length, None))
                    continue
                for sha, _, start, length in located:  # sparse, or the pack is cut short
                    data = read(name, start, length)
                    out[sha] = BlobCheck(sha, sha256(data).hexdigest(), length) \
                        if len(data) == length else BlobCheck(sha, None, 0, StoreError(
                            f"pack {name} is cut short: blob {sha} is incomplete"))
            except StoreError as error:  # BlobNotFound (the pack is gone) included
                for sha, *_ in located:
                    out.setdefault(sha, BlobCheck(sha, None, 0, error))
        return out

    # -- deleting --------------------------------------------------------------------------

    def delete(self, hashes: Sequence[str]) -> dict[str, BlobLocked | None]:
        """Destroy packed blobs: journal, then rewrite every pack holding one. Returns, for
        each hash that was packed, None (it is gone) or why its pack could not be removed (a
        running lock: nothing of that blob is touched); other hashes are not in the result."""
        if not hashes or not self.exists_index():
            return {}
        with self.backend.lock():
            self._finish_rewrites()
            located = self._all_locations(hashes)
            if not located:
                return {}
            refused: dict[str, BlobLocked | None] = {}
            for name in sorted({n for _, _, n in located}):
                reason = self.backend.refusal(name)
                if reason is not None:
                    refused.update({sha: BlobLocked(f"{reason}; blob {sha} not deleted")
                                    for sha, _, n in located if n == name})
            located = [loc for loc in located if loc[0] not in refused]
            packs = {(p, n) for _, p, n in located}
            jobs = {pack_id: Journal(name, self._new_name(), tuple(
                sorted(sha for sha, p, _ in located if p == pack_id))) for pack_id, name in packs}
            self.backend.journal_put(list(jobs.values()))
            with self._write() as con:
                con.executemany("INSERT OR IGNORE INTO doomed (sha, pack) VALUES (?, ?)",
                                [(bytes.fromhex(sha), pack_id) for sha, pack_id, _ in located])
                con.executemany(
                    "INSERT OR IGNORE INTO rewrite (pack, old_name, new_name) VALUES (?,?,?)",
                    [(pack_id, job.old_name, job.new_name) for pack_id, job in jobs.items()])
            self._finish_rewrites()
        return {**{sha: None for sha, _, _ in located}, **refused}

    def _all_locations(self, hashes: Sequence[str]) -> list[tuple[str, int, str]]:
        """Every (sha, pack id, pack name) holding one of ``hashes``: a blob two writers packed
        at once has two places, and both must go."""
        con = self._db()
        out: list[tuple[str, int, str]] = []
        for at in range(0, len(hashes), _IN):
            part = [bytes.fromhex(check_hash(h)) for h in hashes[at:at + _IN]]
            out += [(sha.hex(), pack_id, name) for sha, pack_id, name in con.execute(_where_in(
                "SELECT e.sha, e.pack, p.name FROM entry e JOIN pack p ON p.id = e.pack "
                "WHERE e.sha", len(part)), part)]
        return out

    def finish_rewrites(self) -> int:
        """Complete every journalled rewrite (a killed purge's included); returns how many."""
        if isinstance(self.backend, LocalPacks) and not self.exists_index():
            return 0
        with self.backend.lock():
            return self._finish_rewrites()

    def _import_journal(self) -> None:
        """Take into the index the journal entries kept beside the packs that it lacks (the
        cache was lost, or another process journalled them)."""
        for job in self.backend.journal_list():
            con = self._db()
            if con.execute("SELECT 1 FROM rewrite WHERE old_name = ?",
                           (job.old_name,)).fetchone():
                continue
            row = con.execute("SELECT id FROM pack WHERE name = ?", (job.old_name,)).fetchone()
            if row is None and job.old_name in self.backend.names():
                self._index_pack(job.old_name)
                row = con.execute("SELECT id FROM pack WHERE name = ?",
                                  (job.old_name,)).fetchone()
            with self._write() as w:
                if row is None:  # the old pack is gone already: only the entry is left
                    w.execute("INSERT INTO pack (name) VALUES (?)", (job.old_name,))
                    (pack_id,) = w.execute("SELECT id FROM pack WHERE name = ?",
                                           (job.old_name,)).fetchone()
                    w.execute("INSERT INTO rewrite (pack, old_name, new_name) VALUES (?,?,?)",
                              (pack_id, job.old_name, job.new_name))
                    continue
                w.executemany("INSERT OR IGNORE INTO doomed (sha, pack) VALUES (?, ?)",
                              [(bytes.fromhex(sha), row[0]) for sha in job.doomed])
                w.execute("INSERT OR IGNORE INTO rewrite (pack, old_name, new_name) "
                          "VALUES (?,?,?)", (row[0], job.old_name, job.new_name))

    def _finish_rewrites(self) -> int:
        self._import_journal()
        if not self.exists_index():
            return 0
        con = self._db()
        jobs = con.execute("SELECT pack, old_name, new_name FROM rewrite ORDER BY pack").fetchall()
        for pack_id, old_name, new_name in jobs:
            still = con.execute("SELECT 1 FROM entry WHERE pack = ? LIMIT 1",
                                (pack_id,)).fetchone()
            if still is not None:
                self._rewrite(pack_id, old_name, new_name)
            else:
                with self._write() as w:
                    w.execute("DELETE FROM doomed WHERE pack = ?", (pack_id,))
                    w.execute("DELETE FROM pack WHERE id = ?", (pack_id,))
            # Switched (now or by a killed run): the old pack's bytes go, then its journal.
            self.backend.remove(old_name)
            with self._write() as w:
                w.execute("DELETE FROM rewrite WHERE pack = ?", (pack_id,))
            self.backend.journal_drop(old_name)
        return len(jobs)

    def _rewrite(self, pack_id: int, old_name: str, new_name: str) -> None:
        """Copy the pack's surviving records to ``new_name`` and switch the index to it."""
        con = self._db()
        rows = con.execute(
            "SELECT e.sha, e.head, e.start, e.length, d.sha IS NOT NULL FROM entry e "
            "LEFT JOIN doomed d ON d.sha = e.sha AND d.pack = e.pack WHERE e.pack = ?",
            (pack_id,)).fetchall()
        keep = [Record(sha.hex(), head, start, length)
                for sha, head, start, length, gone in rows if not gone]
        moved: list[Record] = []
        if keep:
            old = self.backend.read_all(old_name)
            data, moved = copy_records(old, keep)
            self.backend.seal(new_name, data, like=old_name, new_blobs=False)
        with self._write() as w:
            if moved:
                new_id = self._index(w, new_name, moved)
                copied = w.execute("SELECT count(*) FROM entry WHERE pack = ?",
                                   (new_id,)).fetchone()[0]
                if copied != len(keep):  # never switch to a pack that lost a kept blob
                    raise StoreError(f"rewriting pack {old_name}: {len(keep)} blobs to keep, "
                                     f"{copied} copied; nothing switched")
            w.execute("DELETE FROM entry WHERE pack = ?", (pack_id,))
            w.execute("DELETE FROM doomed WHERE pack = ?", (pack_id,))
            w.execute("DELETE FROM pack WHERE id = ?", (pack_id,))

    # -- repair and upgrade ----------------------------------------------------------------

    def _index_pack(self, name: str) -> None:
        records = list(scan_pack(self.backend.read_all(name), name))
        with self._write() as w:
            self._index(w, name, records)

    def refresh(self) -> int:
        """Index every pack the backend lists that the index lacks (another process or host
        wrote it, or its writer died before the index commit) and forget packs it no longer
        lists; returns how many packs were indexed."""
        con = self._db()
        # Known before listing: a pack indexed meanwhile is then never taken for vanished.
        known = {name for (name,) in con.execute("SELECT name FROM pack")}
        listed = set(self.backend.names())
        busy = {name for (name,) in con.execute("SELECT old_name FROM rewrite")}
        found = 0
        for name in sorted(listed - known):
            try:
                self._index_pack(name)
            except BlobNotFound:
                continue  # removed by a rewrite since the listing
            found += 1
        for name in sorted(known - listed - busy):
            with self._write() as w:
                w.execute("DELETE FROM entry WHERE pack IN (SELECT id FROM pack WHERE name = ?)",
                          (name,))
                w.execute("DELETE FROM pack WHERE name = ?", (name,))
        return found

    def recover(self) -> int:
        """Finish journalled rewrites, then :meth:`refresh`; returns how many packs were
        indexed."""
        if isinstance(self.backend, LocalPacks) and not self.folder.is_dir():
            return 0
        with self.backend.lock():
            self._finish_rewrites()
            return self.refresh()

    def cleanup_temp(self, cutoff: float) -> int:
        """Remove temporary packs older than ``cutoff`` (a killed writer's)."""
        removed = 0
        if not self.folder.is_dir():
            return 0
        for tmp in self.folder.glob(TEMP_PREFIX + "*"):
            with contextlib.suppress(FileNotFoundError):
                if tmp.stat().st_mtime <= cutoff:
                    tmp.unlink()
                    removed += 1
        return removed

    def stored_bytes(self) -> int:
        """Bytes on disk of the packs and the index (the size figure of the benchmarks)."""
        if not self.folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())
