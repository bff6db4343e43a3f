"""Small blobs in pack files in a local folder, with their index beside them.

``<store>/packs/`` holds the packs (:mod:`archiver.blobs.pack_format`) and ``index.sqlite``,
which maps each blob's sha256 to its pack and place (one ``WITHOUT ROWID`` row of about 50
bytes a blob: the raw 32-byte hash is the key, and no second index; a rewrite finds a pack's
rows from the pack's own record headers). The index lives with the packs, not in the
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
Converting a format 1 (WARC) pack to format 2 is the same rewrite with nothing doomed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path

from archiver.blobs import warc_records
from archiver.blobs.interface import BlobCheck, check_hash, is_hash
from archiver.blobs.pack_format import (
    HEAD,
    PACK_SUFFIX,
    Record,
    build_pack,
    copy_records,
    is_v2,
    scan_pack,
)
from archiver.blobs.pack_walk import PackWalk, Row, hash_located
from archiver.errors import BlobNotFound, StoreError

PACKS = "packs"
INDEX = "index.sqlite"
TEMP_PREFIX = ".tmp-"
LOCK = ".rewrite.lock"
#: Blobs smaller than this go into packs; larger ones (media, WARC files) stay single files.
PACK_BELOW = 64 * 1024
#: A pack is closed at this many bytes (a migration or a big batch makes several).
PACK_BYTES = 16 * 1024 * 1024
_IN = 500  # hashes per ``IN (...)`` lookup, well under SQLite's parameter limit
_WAL_LIMIT = 1024 * 1024

_ENTRY = """(sha BLOB NOT NULL, pack INTEGER NOT NULL, start INTEGER NOT NULL,
    length INTEGER NOT NULL, PRIMARY KEY (sha, pack)) WITHOUT ROWID"""
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS pack (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS entry {_ENTRY};
CREATE TABLE IF NOT EXISTS rewrite (pack INTEGER PRIMARY KEY, old_name TEXT NOT NULL,
    new_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doomed (sha BLOB NOT NULL, pack INTEGER NOT NULL,
    PRIMARY KEY (sha, pack)) WITHOUT ROWID;
"""

Location = tuple[str, Record]  # (pack file name, record)


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


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (without it a crash can forget it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PackFolder:
    """The packs and their index under ``root/packs``."""

    def __init__(self, root: Path, url: str) -> None:
        self.folder = Path(root) / PACKS
        self.url = url
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
            # After a checkpoint the WAL is cut back to this size instead of keeping its peak
            # on disk: the index is small, and the store's size is a measured figure.
            con.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT}")
            con.executescript(_SCHEMA)
            self._local.con = con
            if "head" in {row[1] for row in con.execute("PRAGMA table_info(entry)")}:
                self._compact_index(con)
        return con

    @staticmethod
    def _compact_index(con: sqlite3.Connection) -> None:
        """Move an index of the former schema (a ``head`` column and a by-pack index) to the
        current one; its rows are otherwise the same."""
        con.execute("BEGIN IMMEDIATE")
        try:
            if "head" in {row[1] for row in con.execute("PRAGMA table_info(entry)")}:
                con.execute(f"CREATE TABLE entry_new {_ENTRY}")
                con.execute("INSERT INTO entry_new SELECT sha, pack, start, length FROM entry")
                con.execute("DROP TABLE entry")
                con.execute("ALTER TABLE entry_new RENAME TO entry")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

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
                "SELECT e.sha, p.name, e.start, e.length FROM entry e "
                "JOIN pack p ON p.id = e.pack WHERE e.sha", len(part)), part)
            for sha, name, start, length in rows:
                hexsha = sha.hex()
                out[hexsha] = (name, Record(hexsha, HEAD if is_v2(name) else 0, start, length))
        return out

    def locate(self, sha256: str) -> Location | None:
        """Where a packed blob is, or None if it is not in a pack."""
        return self.locate_many([sha256]).get(sha256)

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

    def write(self, blobs: Sequence[tuple[str, bytes, str | None]]) -> None:
        """Put ``(sha256, data, media_type)`` blobs into new packs (none already packed)."""
        batch: list[tuple[str, bytes, str | None]] = []
        size = 0
        for blob in blobs:
            batch.append(blob)
            size += len(blob[1])
            if size >= PACK_BYTES:
                self._write_pack(batch)
                batch, size = [], 0
        if batch:
            self._write_pack(batch)

    def _new_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return f"pack-{stamp}-{uuid.uuid4().hex[:16]}{PACK_SUFFIX}"

    def _seal(self, name: str, data: bytes) -> None:
        """Write a pack under ``name``: temporary file, fsync, rename, fsync of the folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f"{TEMP_PREFIX}{name}.{os.getpid()}.{threading.get_native_id()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.folder / name)
            fsync_dir(self.folder)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise StoreError(f"cannot write pack {name} in {self.url}: "
                             f"{exc.strerror or exc}") from None

    def _write_pack(self, blobs: list[tuple[str, bytes, str | None]]) -> None:
        name = self._new_name()
        data, records = build_pack(blobs)
        self._seal(name, data)
        with self._write() as con:
            self._index(con, name, records)

    @staticmethod
    def _index(con: sqlite3.Connection, name: str, records: Iterable[Record]) -> tuple[int, int]:
        """Index a pack's records; returns the pack's id and how many records were new."""
        con.execute("INSERT OR IGNORE INTO pack (name) VALUES (?)", (name,))
        (pack_id,) = con.execute("SELECT id FROM pack WHERE name = ?", (name,)).fetchone()
        added = con.executemany(
            "INSERT OR IGNORE INTO entry (sha, pack, start, length) VALUES (?,?,?,?)",
            [(bytes.fromhex(r.sha256), pack_id, r.start, r.length) for r in records]).rowcount
        return int(pack_id), added

    # -- reading ---------------------------------------------------------------------------

    def read(self, sha256: str) -> bytes:
        """A packed blob's bytes; :class:`BlobNotFound` if it is not packed."""
        for _ in range(2):  # a rewrite may move it between the lookup and the read: look again
            where = self.locate(sha256)
            if where is None:
                break
            name, rec = where
            try:
                fd = os.open(self.folder / name, os.O_RDONLY)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot read blob {sha256} from {self.url}: "
                                 f"{exc.strerror or exc}") from None
            try:
                data = os.pread(fd, rec.length, rec.start)
            finally:
                os.close(fd)
            if len(data) != rec.length:
                raise StoreError(f"cannot read blob {sha256} from {self.url}: pack {name} "
                                 "is cut short")
            return data
        raise BlobNotFound(f"blob {sha256} not found in {self.url}")

    def walk(self) -> PackWalk:
        """A walk over the format 2 packs for one ascending verify pass (see
        :mod:`archiver.blobs.pack_walk`)."""
        if not self.exists_index():
            return PackWalk([])
        return PackWalk([self.folder / name for (name,) in self._db().execute(
            "SELECT name FROM pack ORDER BY id") if is_v2(name)])

    def lookup(self, keys: Sequence[bytes]) -> list[Row]:
        """Index rows ``(raw sha256, pack id, start, length)`` of the packed blobs among the
        raw hashes ``keys``, in pack and offset order (one lookup per 500 hashes)."""
        rows: list[Row] = []
        con = self._db()
        for at in range(0, len(keys), _IN):
            part = keys[at:at + _IN]
            rows += con.execute(_where_in(
                "SELECT sha, pack, start, length FROM entry WHERE sha", len(part)),
                part).fetchall()
        rows.sort(key=itemgetter(1, 2))
        return rows

    def lookup_range(self, first: bytes, last: bytes) -> list[Row]:
        """As :meth:`lookup`, for every row from ``first`` to ``last``: one range scan of the
        index costs a fraction of looking each hash up when most in the range are wanted (a
        verify sends every hash in ascending order)."""
        return self._db().execute(
            "SELECT sha, pack, start, length FROM entry WHERE sha BETWEEN ? AND ? "
            "ORDER BY pack, start", (first, last)).fetchall()

    def hash_many(self, hashes: list[str], ascending: bool = False) -> list[BlobCheck | None]:
        """A check for each of ``hashes`` (None where it is not packed), in their order, from
        the index: rows in pack and offset order, each pack's share hashed by
        :func:`archiver.blobs.pack_walk.hash_located`. ``verify`` comes here only for what
        its walk over the packs (:meth:`walk`) did not find, and for hashes out of order."""
        out: list[BlobCheck | None] = [None] * len(hashes)
        if not hashes or not self.exists_index():
            return out
        keys = _keys(hashes)
        if len(keys) != len(hashes):  # a malformed hash among them: none of them is packed
            keys = [bytes.fromhex(h) if is_hash(h) else b"" for h in hashes]
        where = {key: at for at, key in enumerate(keys)}
        rows = self.lookup_range(min(keys), max(keys)) if ascending else self.lookup(keys)
        names = dict(self._db().execute("SELECT id, name FROM pack").fetchall())
        pack_id, begin = None, 0
        for end, row in enumerate(rows):
            if row[1] != pack_id:
                if pack_id is not None:
                    hash_located(self.folder / names.get(pack_id, str(pack_id)), self.url,
                                 rows[begin:end], hashes, where, out)
                pack_id, begin = row[1], end
        if pack_id is not None:
            hash_located(self.folder / names.get(pack_id, str(pack_id)), self.url, rows[begin:],
                         hashes, where, out)
        if len(where) != len(hashes):  # a hash asked for twice: both get the one check
            for at, key in enumerate(keys):
                if out[at] is None:
                    out[at] = out[where[key]]
        return out

    # -- deleting --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One rewriter or recoverer at a time, across processes (writers need no lock)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / LOCK).open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def delete(self, hashes: Sequence[str]) -> set[str]:
        """Destroy packed blobs: journal, then rewrite every pack holding one. Returns the
        hashes that were packed (and are now gone); the others are not touched."""
        if not hashes or not self.exists_index():
            return set()
        with self._locked():
            self._finish_rewrites()
            located = self._all_locations(hashes)
            if not located:
                return set()
            with self._write() as con:
                con.executemany("INSERT OR IGNORE INTO doomed (sha, pack) VALUES (?, ?)",
                                [(bytes.fromhex(sha), pack_id) for sha, pack_id, _ in located])
                con.executemany(
                    "INSERT OR IGNORE INTO rewrite (pack, old_name, new_name) VALUES (?,?,?)",
                    [(pack_id, name, self._new_name())
                     for pack_id, name in {(p, n) for _, p, n in located}])
            self._finish_rewrites()
        return {sha for sha, _, _ in located}

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
        if not self.exists_index():
            return 0
        with self._locked():
            return self._finish_rewrites()

    def _finish_rewrites(self) -> int:
        con = self._db()
        jobs = con.execute("SELECT pack, old_name, new_name FROM rewrite ORDER BY pack").fetchall()
        for pack_id, old_name, new_name in jobs:
            still = con.execute("SELECT 1 FROM pack WHERE id = ?", (pack_id,)).fetchone()
            if still is not None:
                self._rewrite(pack_id, old_name, new_name)
            # Switched (now or by a killed run): the old pack's bytes go, then its journal row.
            try:
                os.unlink(self.folder / old_name)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StoreError(f"cannot delete pack {old_name} from {self.url}: "
                                 f"{exc.strerror or exc}") from None
            fsync_dir(self.folder)
            with self._write() as w:
                w.execute("DELETE FROM rewrite WHERE pack = ?", (pack_id,))
        return len(jobs)

    def _rewrite(self, pack_id: int, old_name: str, new_name: str) -> None:
        """Copy the pack's surviving records to ``new_name`` (format 2) and switch the index
        to it. The pack's own record headers say which rows it has: the index keeps no
        by-pack order, to stay small."""
        con = self._db()
        doomed = {sha.hex() for (sha,) in con.execute("SELECT sha FROM doomed WHERE pack = ?",
                                                      (pack_id,))}
        try:
            old = (self.folder / old_name).read_bytes()
            records = {rec.sha256: rec for rec in scan_pack(old, old_name)}
        except (OSError, StoreError) as exc:
            # Gone or damaged: its doomed blobs still go if nothing in it is to be kept (a scan
            # of the whole index, on this rare path only).
            listed = {sha.hex() for (sha,) in con.execute(
                "SELECT sha FROM entry WHERE pack = ?", (pack_id,))}
            if listed - doomed:
                reason = exc.strerror if isinstance(exc, OSError) else exc
                raise StoreError(f"cannot rewrite pack {old_name} in {self.url}: "
                                 f"{reason or exc}") from None
            old, records = b"", {}
            doomed |= listed
        indexed = self._in_pack(pack_id, list(records))
        keep = [rec for sha, rec in records.items() if sha in indexed and sha not in doomed]
        moved: list[Record] = []
        if keep:
            data, moved = copy_records(old, keep, old_name)
            self._seal(new_name, data)
        with self._write() as w:
            if moved:
                new_id, _ = self._index(w, new_name, moved)
                copied = len(self._in_pack(new_id, [rec.sha256 for rec in moved]))
                if copied != len(keep):  # never switch to a pack that lost a kept blob
                    raise StoreError(f"rewriting pack {old_name}: {len(keep)} blobs to keep, "
                                     f"{copied} copied; nothing switched")
            w.executemany("DELETE FROM entry WHERE sha = ? AND pack = ?",
                          [(bytes.fromhex(sha), pack_id) for sha in {*records, *doomed}])
            w.execute("DELETE FROM doomed WHERE pack = ?", (pack_id,))
            w.execute("DELETE FROM pack WHERE id = ?", (pack_id,))

    def _in_pack(self, pack_id: int, hashes: Sequence[str]) -> set[str]:
        """Which of ``hashes`` the index places in pack ``pack_id``."""
        con = self._db()
        found: set[str] = set()
        for at in range(0, len(hashes), _IN):
            part = _keys(hashes[at:at + _IN])
            found.update(sha.hex() for (sha,) in con.execute(_where_in(
                "SELECT sha FROM entry WHERE pack = ? AND sha", len(part)), [pack_id, *part]))
        return found

    # -- repair and upgrade ----------------------------------------------------------------

    def recover(self) -> int:
        """Finish journalled rewrites, then index every pack (of either format) whose writer
        died before its index commit; returns how many packs were indexed."""
        if not self.folder.is_dir():
            return 0
        with self._locked():
            self._finish_rewrites()
            con = self._db()
            known = {name for (name,) in con.execute("SELECT name FROM pack")}
            found = 0
            paths = [*self.folder.glob(f"pack-*{PACK_SUFFIX}"),
                     *self.folder.glob(f"pack-*{warc_records.PACK_SUFFIX}")]
            for path in sorted(paths):
                if path.name in known:
                    continue
                records = list(scan_pack(path.read_bytes(), path.name))
                with self._write() as w:
                    self._index(w, path.name, records)
                found += 1
            return found

    def convert(self) -> int:
        """Rewrite every format 1 (WARC) pack as a format 2 pack; returns how many. It is a
        rewrite with nothing doomed, journalled the same way, so a killed run is finished by the
        next :meth:`recover`, :meth:`finish_rewrites` or ``convert``."""
        if not self.exists_index():
            return 0
        with self._locked():
            self._finish_rewrites()
            old = [(pack_id, name) for pack_id, name in self._db().execute(
                "SELECT id, name FROM pack") if not is_v2(name)]
            if not old:
                return 0
            with self._write() as con:
                con.executemany(
                    "INSERT OR IGNORE INTO rewrite (pack, old_name, new_name) VALUES (?,?,?)",
                    [(pack_id, name, self._new_name()) for pack_id, name in old])
            self._finish_rewrites()
            self._db().execute("VACUUM")
        return len(old)

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
