"""Damage a blob behind the store's back, wherever the local store keeps it (a pack or a file)."""

from __future__ import annotations

import os
from pathlib import Path

from archiver.blobs.local import LocalBlobStore


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


def unpack_to_file(store: LocalBlobStore, sha256: str) -> Path:
    """Move a packed blob out to a single file (the old layout) and return its path."""
    data = store.get(sha256)
    assert store.delete_many([sha256]) == {sha256: None}
    LocalBlobStore(store.root).put(data)
    return store.path_for(sha256)
