"""The local store's single-file layout: one read-only file per blob at ``root/ab/cd/<sha256>``.

Blobs of at least the pack threshold live this way (small ones go into packs,
:mod:`archiver.blobs.packs`), as did every blob of an archive from before packs. Here are the
file-level jobs :class:`archiver.blobs.local.LocalBlobStore` does with them: writing one without
a sync of its own (the batch syncs once), hashing a batch of them for ``verify``, the fan-out
folders, and the legal-hold markers beside them. Plain strings and ``os`` calls throughout: per
blob these are a handful of syscalls, and ``Path`` objects would cost more than the syscalls.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import threading
from pathlib import Path

from archiver.blobs.interface import CHUNK_SIZE, BlobCheck, check_hash, fan_out
from archiver.blobs.pack_backend import TEMP_PREFIX
from archiver.errors import BlobNotFound, StoreError

_HEX = frozenset("0123456789abcdef")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC


def oneline(exc: OSError) -> str:
    """An OS error's reason, without the path (the caller names the blob and the store)."""
    return exc.strerror or exc.__class__.__name__


def read_error(sha256: str, url: str, exc: OSError) -> StoreError:
    """The one-line error for a blob file that exists but cannot be read."""
    return StoreError(f"cannot read blob {sha256} from {url}: {oneline(exc)}")


def sync_filesystem(path: Path) -> None:
    """Flush every pending write on the file system holding ``path`` (Linux ``syncfs``).

    Where ``syncfs`` is unavailable, ``os.sync`` flushes all file systems: slower, as safe.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = getattr(libc, "syncfs", None)
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def marker_present(marker: str, sha256: str, url: str) -> bool:
    """Whether the legal-hold marker file ``marker`` of blob ``sha256`` exists."""
    # Anything but "no such file" counts as an error, not as "no hold": a purge must never
    # delete a held blob because its marker could not be looked at.
    try:
        os.stat(marker)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreError(f"cannot read legal hold of blob {sha256} in {url}: {oneline(exc)}"
                         ) from None
    return True


def make_fan_out(folder: str) -> None:
    """Make the fan-out ``folder`` (``root/ab/cd``) and, if need be, its parent."""
    # Two mkdir calls at most, without os.makedirs's stat of every parent: most batches make
    # a leaf folder under an existing first level (65,536 leaves, 256 first-level folders).
    try:
        os.mkdir(folder)
    except FileExistsError:
        return  # another writer made it between our open and this mkdir
    except FileNotFoundError:
        try:
            os.mkdir(os.path.dirname(folder))
        except FileExistsError:
            pass
        except FileNotFoundError:  # the store's own folder is new too
            os.makedirs(folder, exist_ok=True)
            return
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder)


def is_fan_dir(path: Path) -> bool:
    """Whether ``path`` is a fan-out folder (two hex digits)."""
    return len(path.name) == 2 and set(path.name) <= _HEX and path.is_dir()


def write_new(root: str, url: str, sha256: str, data: bytes) -> bool:
    """Write one blob under the store folder ``root`` unless present, with no sync (the caller
    syncs the batch); True if written."""
    folder = f"{root}/{sha256[:2]}/{sha256[2:4]}"
    final = f"{folder}/{sha256}"
    if os.path.lexists(final):
        return False
    # A name of our own (never 64 hex digits) instead of mkstemp's random search: process
    # and thread ids keep concurrent writers apart, O_EXCL catches anything else.
    tmp = f"{folder}/{TEMP_PREFIX}{sha256[:16]}.{os.getpid()}.{threading.get_native_id()}"
    try:
        try:
            fd = os.open(tmp, _CREATE, 0o444)
        except FileNotFoundError:
            # A new fan-out folder; the batch's syncfs makes its entry durable too.
            make_fan_out(folder)
            fd = os.open(tmp, _CREATE, 0o444)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StoreError(f"cannot write blob {sha256} to {url}: {oneline(exc)}") from None
    return True


def hash_files(root: str, url: str, hashes: list[str]) -> list[BlobCheck]:
    """A check of each blob file of ``hashes`` under the store folder ``root``, read with one
    reused buffer and raw ``os`` reads: no file objects, no per-read allocation (a 1 MiB
    ``read`` would map and unmap memory every time)."""
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    out: list[BlobCheck] = []
    for sha256 in hashes:
        try:
            fd = os.open(f"{root}/{fan_out(check_hash(sha256))}", os.O_RDONLY | _CLOEXEC)
        except FileNotFoundError:
            out.append(BlobCheck(sha256, None, 0, BlobNotFound(
                f"blob {sha256} not found in {url}")))
            continue
        except OSError as exc:
            out.append(BlobCheck(sha256, None, 0, read_error(sha256, url, exc)))
            continue
        except StoreError as exc:  # an invalid hash never reaches the disk
            out.append(BlobCheck(sha256, None, 0, exc))
            continue
        digest = hashlib.sha256()
        length = 0
        try:
            # Read to end of file (not to the recorded size): bytes appended to a blob
            # must change its hash, not go unread.
            while n := os.readv(fd, (buffer,)):
                digest.update(view[:n])
                length += n
        except OSError as exc:
            out.append(BlobCheck(sha256, None, 0, read_error(sha256, url, exc)))
            continue
        finally:
            os.close(fd)
        out.append(BlobCheck(sha256, digest.hexdigest(), length))
    return out
