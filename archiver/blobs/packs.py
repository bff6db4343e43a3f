"""Small blobs in packs, with their index in a local folder.

``<store>/packs/`` holds ``index.sqlite``, which maps each blob's sha256 to its pack and place
(one ``WITHOUT ROWID`` row of about 50 bytes a blob: the raw 32-byte hash is the key, and no
second index; a rewrite finds a pack's rows from the pack's own record headers), and, for a
local store, the packs themselves (:mod:`archiver.blobs.pack_format`). The index lives with the
packs, not in the archive database: the blob store is a layer below the database (it is opened
from the store URL alone, and an S3 or folder store moves or is restored together with its
index), and the index is only a cache of what the packs say about themselves, so
:meth:`PackFolder.recover` can rebuild any part of it from the packs.

Writes: a batch becomes one new pack, sealed whole (a local one is written to a temporary file,
fsynced and renamed), and only then are its index entries committed, so an entry never names
bytes that are not durable. A writer killed after the seal leaves a pack without entries, which
:meth:`PackFolder.recover` indexes. Writers never append to a pack, so concurrent writers
(capture and the webhook daemon) each write their own pack; SQLite's locking serialises their
index commits.

Deletes rewrite (:mod:`archiver.blobs.pack_rewrite`): the packs holding a doomed blob are copied
without it to new packs, the index is switched, and the old packs are removed, so destroyed bytes
are gone, not merely unreferenced. A journal is committed before any pack is touched, and
:meth:`PackFolder.finish_rewrites` completes whatever a killed run left, so a purge is
resumable. Converting a format 1 (WARC) pack to format 2 is the same rewrite with nothing doomed.

Where the packs themselves live is a :class:`PackBackend`: :class:`LocalPacks` (this folder) or
:class:`archiver.blobs.s3_packs.S3Packs` (objects in a bucket, with the index in a local cache).
Every pack is read and written through it, except by the local verify walk
(:mod:`archiver.blobs.pack_walk`), which reads local pack files directly.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path

from archiver.blobs import pack_rewrite
from archiver.blobs.interface import BlobCheck, check_hash, is_hash
from archiver.blobs.pack_backend import TEMP_PREFIX, LocalPacks, PackBackend
from archiver.blobs.pack_format import (
    HEAD,
    PACK_SUFFIX,
    Record,
    build_pack,
    is_v2,
    scan_pack,
)
from archiver.blobs.pack_walk import PackWalk, Row, hash_located
from archiver.errors import BlobLocked, BlobNotFound, StoreError

PACKS = "packs"
INDEX = "index.sqlite"
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

Location = tuple[str, Record]  # (pack name, record)


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

    def db(self) -> sqlite3.Connection:
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
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The index connection inside one write transaction (committed unless it raises)."""
        con = self.db()
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
        con = self.db()
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

    def places(self, sha256: str) -> set[str]:
        """The names of every pack holding the blob."""
        if not self.exists_index():
            return set()
        return {name for _, _, name in self.all_locations([sha256])}

    def pack_hashes(self, name: str) -> set[str]:
        """The hashes of the blobs in pack ``name`` that the index places there, read from the
        pack's own record headers (the index has no by-pack order); empty if it is gone."""
        row = self.db().execute("SELECT id FROM pack WHERE name = ?", (name,)).fetchone() \
            if self.exists_index() else None
        if row is None:
            return set()
        try:
            listed = [rec.sha256 for rec in scan_pack(self.backend.read_all(name), name)]
        except BlobNotFound:
            return set()
        return self.in_pack(row[0], listed)

    def in_pack(self, pack_id: int, hashes: Sequence[str]) -> set[str]:
        """Which of ``hashes`` the index places in pack ``pack_id``."""
        con = self.db()
        found: set[str] = set()
        for at in range(0, len(hashes), _IN):
            part = _keys(hashes[at:at + _IN])
            found.update(sha.hex() for (sha,) in con.execute(_where_in(
                "SELECT sha FROM entry WHERE pack = ? AND sha", len(part)), [pack_id, *part]))
        return found

    def all_locations(self, hashes: Sequence[str]) -> list[tuple[str, int, str]]:
        """Every (sha, pack id, pack name) holding one of ``hashes``: a blob two writers packed
        at once has two places, and both must go."""
        con = self.db()
        out: list[tuple[str, int, str]] = []
        for at in range(0, len(hashes), _IN):
            part = [bytes.fromhex(check_hash(h)) for h in hashes[at:at + _IN]]
            out += [(sha.hex(), pack_id, name) for sha, pack_id, name in con.execute(_where_in(
                "SELECT e.sha, e.pack, p.name FROM entry e JOIN pack p ON p.id = e.pack "
                "WHERE e.sha", len(part)), part)]
        return out

    def iter_hashes(self) -> Iterator[str]:
        """Every packed blob's hash, sorted."""
        if not self.exists_index():
            return
        last = None
        for (sha,) in self.db().execute("SELECT sha FROM entry ORDER BY sha"):
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

    def new_name(self) -> str:
        """A fresh pack name (format 2)."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return f"pack-{stamp}-{uuid.uuid4().hex[:16]}{PACK_SUFFIX}"

    def _write_pack(self, blobs: list[tuple[str, bytes, str | None]], new_blobs: bool) -> None:
        name = self.new_name()
        data, records = build_pack(blobs)
        self.backend.seal(name, data, like=None, new_blobs=new_blobs)
        with self.transaction() as con:
            self.index_records(con, name, records)

    @staticmethod
    def index_records(con: sqlite3.Connection, name: str,
                      records: Iterable[Record]) -> tuple[int, int]:
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
                data = self.backend.read(name, rec.start, rec.length)
            except BlobNotFound:
                continue
            if len(data) != rec.length:
                raise StoreError(f"cannot read blob {sha256} from {self.url}: pack {name} "
                                 "is cut short")
            return data
        raise BlobNotFound(f"blob {sha256} not found in {self.url}")

    def walk(self) -> PackWalk:
        """A walk over the format 2 packs for one ascending verify pass (see
        :mod:`archiver.blobs.pack_walk`): local pack files only, read directly because it is
        the measured hot path of ``verify``; for any other backend it finds nothing and
        :meth:`hash_many` reads through the backend."""
        if not isinstance(self.backend, LocalPacks) or not self.exists_index():
            return PackWalk([])
        return PackWalk([self.backend.folder / name for (name,) in self.db().execute(
            "SELECT name FROM pack ORDER BY id") if is_v2(name)])

    def lookup(self, keys: Sequence[bytes]) -> list[Row]:
        """Index rows ``(raw sha256, pack id, start, length)`` of the packed blobs among the
        raw hashes ``keys``, in pack and offset order (one lookup per 500 hashes)."""
        rows: list[Row] = []
        con = self.db()
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
        return self.db().execute(
            "SELECT sha, pack, start, length FROM entry WHERE sha BETWEEN ? AND ? "
            "ORDER BY pack, start", (first, last)).fetchall()

    def hash_many(self, hashes: list[str], ascending: bool = False) -> list[BlobCheck | None]:
        """A check for each of ``hashes`` (None where it is not packed), in their order, from
        the index: rows in pack and offset order, each pack's share read through the backend
        in one span (one ``pread`` or one ranged GET) and hashed by
        :func:`archiver.blobs.pack_walk.hash_located`. A local ``verify`` comes here only for
        what its walk over the packs (:meth:`walk`) did not find, and for hashes out of
        order."""
        out: list[BlobCheck | None] = [None] * len(hashes)
        if not hashes or not self.exists_index():
            return out
        keys = _keys(hashes)
        if len(keys) != len(hashes):  # a malformed hash among them: none of them is packed
            keys = [bytes.fromhex(h) if is_hash(h) else b"" for h in hashes]
        where = {key: at for at, key in enumerate(keys)}
        rows = self.lookup_range(min(keys), max(keys)) if ascending else self.lookup(keys)
        names = dict(self.db().execute("SELECT id, name FROM pack").fetchall())
        read = self.backend.read
        pack_id, begin = None, 0
        for end, row in enumerate([*rows, None]):
            if row is None or row[1] != pack_id:
                if pack_id is not None:
                    hash_located(read, names.get(pack_id, str(pack_id)), self.url,
                                 rows[begin:end], hashes, where, out)
                if row is not None:
                    pack_id, begin = row[1], end
        if len(where) != len(hashes):  # a hash asked for twice: both get the one check
            for at, key in enumerate(keys):
                if out[at] is None:
                    out[at] = out[where[key]]
        return out

    # -- deleting (see archiver.blobs.pack_rewrite) ----------------------------------------

    def delete(self, hashes: Sequence[str]) -> dict[str, BlobLocked | None]:
        """Destroy packed blobs: journal, then rewrite every pack holding one. Returns, for
        each hash that was packed, None (it is gone) or why its pack could not be removed (a
        running lock: nothing of that blob is touched); other hashes are not in the result."""
        if not hashes or not self.exists_index():
            return {}
        with self.backend.lock():
            return pack_rewrite.delete(self, hashes)

    def finish_rewrites(self) -> int:
        """Complete every journalled rewrite (a killed purge's included); returns how many."""
        if isinstance(self.backend, LocalPacks) and not self.exists_index():
            return 0
        with self.backend.lock():
            return pack_rewrite.finish(self)

    def convert(self) -> int:
        """Rewrite every format 1 (WARC) pack as a format 2 pack; returns how many. It is a
        rewrite with nothing doomed, journalled the same way, so a killed run is finished by the
        next :meth:`recover`, :meth:`finish_rewrites` or ``convert``."""
        if not self.exists_index():
            return 0
        with self.backend.lock():
            converted = pack_rewrite.convert(self)
        if converted:
            self.db().execute("VACUUM")
        return converted

    # -- repair and upgrade ----------------------------------------------------------------

    def index_pack(self, name: str) -> None:
        """Index every record of pack ``name`` from its own headers."""
        records = list(scan_pack(self.backend.read_all(name), name))
        with self.transaction() as w:
            self.index_records(w, name, records)

    def refresh(self) -> int:
        """Index every pack the backend lists that the index lacks (another process or host
        wrote it, or its writer died before the index commit) and forget packs it no longer
        lists; returns how many packs were indexed."""
        con = self.db()
        # Known before listing: a pack indexed meanwhile is then never taken for vanished.
        known = {name for (name,) in con.execute("SELECT name FROM pack")}
        listed = set(self.backend.names())
        busy = {name for (name,) in con.execute("SELECT old_name FROM rewrite")}
        found = 0
        for name in sorted(listed - known):
            try:
                self.index_pack(name)
            except BlobNotFound:
                continue  # removed by a rewrite since the listing
            found += 1
        gone = sorted(known - listed - busy)
        if gone:  # one pass over the index for all of them: it has no by-pack order
            with self.transaction() as w:
                ids = [pack_id for (pack_id,) in w.execute(
                    _where_in("SELECT id FROM pack WHERE name", len(gone)), gone)]
                w.execute(_where_in("DELETE FROM entry WHERE pack", len(ids)), ids)
                w.execute(_where_in("DELETE FROM pack WHERE id", len(ids)), ids)
        return found

    def recover(self) -> int:
        """Finish journalled rewrites, then :meth:`refresh` (packs of either format); returns
        how many packs were indexed."""
        if isinstance(self.backend, LocalPacks) and not self.folder.is_dir():
            return 0
        with self.backend.lock():
            pack_rewrite.finish(self)
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
