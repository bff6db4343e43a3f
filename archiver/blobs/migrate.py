"""Upgrade a folder store in place: single blob files below the pack threshold move into packs.

Resumable by construction: a batch of files is packed and its index entries committed before
any of its files is removed, and a file is removed only once its blob is packed. A run killed
mid-pack leaves a temporary file (cleaned up later) or a whole pack without index entries
(indexed by :meth:`archiver.blobs.packs.PackFolder.recover`, which runs first); a run killed
after the commit leaves files whose blobs are already packed, which the next run removes without
packing them again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from archiver.blobs.pack_backend import fsync_dir
from archiver.blobs.packs import PACK_BYTES
from archiver.errors import StoreError

if TYPE_CHECKING:
    from archiver.blobs.local import LocalBlobStore

BATCH_FILES = 20_000


def pack_files(store: LocalBlobStore, hashes: Iterable[str]) -> int:
    """Move the files of ``hashes`` smaller than ``store.pack_below`` into packs; returns how
    many files were moved. A file whose bytes no longer hash to its name is left where it is,
    so ``verify`` still reports it."""
    batch: list[tuple[str, bytes]] = []
    size = moved = 0
    for sha256 in hashes:
        path = store.path_for(sha256)
        try:
            if path.stat().st_size >= store.pack_below:
                continue
            data = path.read_bytes()
        except OSError:
            continue  # unreadable: left for verify to report
        if hashlib.sha256(data).hexdigest() != sha256:
            continue
        batch.append((sha256, data))
        size += len(data)
        if size >= PACK_BYTES or len(batch) >= BATCH_FILES:
            moved += _move(store, batch)
            batch, size = [], 0
    if batch:
        moved += _move(store, batch)
    return moved


def _move(store: LocalBlobStore, batch: list[tuple[str, bytes]]) -> int:
    packed = store.packs.locate_many([sha for sha, _ in batch])
    store.packs.write([(sha, data, None) for sha, data in batch if sha not in packed],
                      new_blobs=False)
    folders = set()
    for sha256, _ in batch:
        path = store.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot remove packed blob file {path}: "
                             f"{exc.strerror or exc}") from None
        folders.add(path.parent)
    for folder in folders:
        fsync_dir(folder)
    return len(batch)
