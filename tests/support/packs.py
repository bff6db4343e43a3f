"""Damage a blob behind the store's back, wherever the local store keeps it (a pack or a file)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import struct
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from archiver.blobs import warc_records
from archiver.blobs.local import LocalBlobStore
from archiver.blobs.pack_format import scan_pack
from archiver.store.archive import Archive
from archiver.store.models import Blob


def flip_stored_byte(store: LocalBlobStore, sha256: str) -> Path:
    """Flip one bit in the middle of the blob's stored bytes; returns the file changed."""
    where = store.packs.locate(sha256)
    if where is None:
        path, offset, length = store.path_for(sha256), 0, store.path_for(sha256).stat().st_size
    else:
        name, record = where
        path, offset, length = store.packs.folder / name, record.start, record.length
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path


def damage_record_length(store: LocalBlobStore, sha256: str, change: int) -> Path:
    """Add ``change`` to the length field of the blob's pack record header; returns the pack."""
    where = store.packs.locate(sha256)
    assert where is not None, "the blob is not packed"
    name, record = where
    path = store.packs.folder / name
    os.chmod(path, 0o644)
    with open(path, "r+b") as pack:
        pack.seek(record.start - record.head + 32)
        pack.write(struct.pack(">I", record.length + change))
    return path


def unpack_to_file(store: LocalBlobStore, sha256: str) -> Path:
    """Move a packed blob out to a single file (the old layout) and return its path."""
    data = store.get(sha256)
    assert store.delete_many([sha256]) == {sha256: None}
    LocalBlobStore(store.root).put(data)
    return store.path_for(sha256)


def read_pack(path: Path) -> dict[str, tuple[bytes, str | None]]:
    """Every blob of a format 2 pack as ``sha256: (payload, media type)``, read from the byte
    layout the README documents with nothing but ``struct`` and ``hashlib``, each record's
    payload checked against the hash its header names."""
    data = path.read_bytes()
    line = data.index(b"\n")
    magic, *types = data[:line].split(b"\t")
    assert magic == b"ARCHIVER-PACK/2"
    out: dict[str, tuple[bytes, str | None]] = {}
    at = line + 1
    while at < len(data):
        digest, length, code = struct.unpack(">32sIB", data[at:at + 37])
        payload = data[at + 37:at + 37 + length]
        assert len(payload) == length and hashlib.sha256(payload).digest() == digest
        out[digest.hex()] = (payload, types[code - 1].decode() if code else None)
        at += 37 + length
    return out


def to_format_1(store: LocalBlobStore, old_index: bool = False) -> int:
    """Rewrite every pack of ``store`` as a format 1 (WARC) pack with the former writer, and
    index them afresh (in the former index schema with ``old_index``), as a store an older
    release left; returns how many packs there are."""
    store.packs.close()
    folder = store.packs.folder
    for path in folder.glob("index.sqlite*"):
        path.unlink()
    packs = sorted(folder.glob("pack-*.pack"))
    for path in packs:
        blobs = [(rec.sha256, path.read_bytes()[rec.start:rec.record_end], rec.media_type)
                 for rec in scan_pack(path.read_bytes(), path.name)]
        old = path.with_suffix(warc_records.PACK_SUFFIX)
        old.write_bytes(warc_records.build_pack(blobs, datetime.now(UTC)))
        path.unlink()
    if old_index:
        _former_index(folder)
    else:
        assert store.packs.recover() == len(packs)
    return len(packs)


def _former_index(folder: Path) -> None:
    """Index format 1 packs in the index schema an older release wrote (a ``head`` column and
    a by-pack index), as ``recover`` of that release did."""
    with sqlite3.connect(folder / "index.sqlite") as con:
        con.executescript("""
            CREATE TABLE pack (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE entry (sha BLOB NOT NULL, pack INTEGER NOT NULL, head INTEGER NOT NULL,
                start INTEGER NOT NULL, length INTEGER NOT NULL, PRIMARY KEY (sha, pack))
                WITHOUT ROWID;
            CREATE INDEX entry_by_pack ON entry (pack, start);
            CREATE TABLE rewrite (pack INTEGER PRIMARY KEY, old_name TEXT NOT NULL,
                new_name TEXT NOT NULL);
            CREATE TABLE doomed (sha BLOB NOT NULL, pack INTEGER NOT NULL,
                PRIMARY KEY (sha, pack)) WITHOUT ROWID;""")
        for path in sorted(folder.glob("pack-*.warc")):
            pack_id = con.execute("INSERT INTO pack (name) VALUES (?)", (path.name,)).lastrowid
            con.executemany("INSERT INTO entry VALUES (?, ?, ?, ?, ?)", [
                (bytes.fromhex(sha), pack_id, head, start, length)
                for sha, head, start, length, _ in warc_records.scan_pack(path.read_bytes(),
                                                                          path.name)])
    con.close()


def store_and_hashes(archive: Archive) -> tuple[LocalBlobStore, list[str]]:
    """The archive's local blob store and the hash of every blob the database records."""
    assert isinstance(archive.store, LocalBlobStore)
    with archive.sessions() as s:
        return archive.store, list(s.scalars(select(Blob.sha256)))
