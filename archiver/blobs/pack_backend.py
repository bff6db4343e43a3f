"""Where sealed packs are kept, behind the seam :class:`PackBackend` that
:class:`archiver.blobs.packs.PackFolder` writes through: :class:`LocalPacks` (files in the
store's folder) here, :class:`archiver.blobs.s3_packs.S3Packs` for a bucket."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from archiver.blobs import warc_records
from archiver.blobs.pack_format import PACK_SUFFIX
from archiver.errors import BlobNotFound, StoreError

TEMP_PREFIX = ".tmp-"
LOCK = ".rewrite.lock"


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (without it a crash can forget it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock across the processes of this host, on a file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK).open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Journal:
    """One journalled rewrite as a backend keeps it: the pack, its replacement's name, and the
    blobs to leave out."""

    old_name: str
    new_name: str
    doomed: tuple[str, ...]


class PackBackend(Protocol):
    """Where sealed packs are kept: read a byte range, store a whole pack once, remove a pack
    with every version of it, list them, and (for backends whose index is only a cache) keep the
    rewrite journal beside them."""

    url: str

    def read(self, name: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``start`` (fewer if the pack is cut short);
        :class:`BlobNotFound` if the pack is gone."""

    def read_all(self, name: str) -> bytes:
        """The whole pack; :class:`BlobNotFound` if it is gone."""

    def seal(self, name: str, data: bytes, *, like: str | None, new_blobs: bool) -> None:
        """Store a complete pack under ``name``. ``like``: the pack whose surviving blobs it
        carries (its legal hold and any retention still running are carried too);
        ``new_blobs``: its blobs were just captured (an Object Lock store locks them)."""

    def remove(self, name: str) -> None:
        """Remove the pack and every version of it; :class:`BlobLocked` if a lock forbids it."""

    def refusal(self, name: str) -> str | None:
        """Why the pack cannot be removed now (a running retention), or None."""

    def names(self) -> list[str]:
        """Every sealed pack's name."""

    def lock(self) -> AbstractContextManager[None]:
        """One rewriter or recoverer at a time."""

    def journal_put(self, jobs: Sequence[Journal]) -> None:
        """Keep rewrite journal entries durably beside the packs (before any pack is touched)."""

    def journal_list(self) -> list[Journal]:
        """Journal entries kept beside the packs."""

    def journal_drop(self, old_name: str) -> None:
        """Forget a finished rewrite's entry."""


class LocalPacks:
    """Packs as files in a folder; the index there is durable, so it holds the journal too."""

    def __init__(self, folder: Path, url: str) -> None:
        self.folder = folder
        self.url = url

    def _open(self, name: str) -> int:
        try:
            return os.open(self.folder / name, os.O_RDONLY)
        except FileNotFoundError:
            raise BlobNotFound(f"pack {name} cannot be read from {self.url}: "
                               "no such file") from None
        except OSError as exc:
            raise StoreError(f"pack {name} cannot be read from {self.url}: "
                             f"{exc.strerror or exc}") from None

    def read(self, name: str, start: int, length: int) -> bytes:
        fd = self._open(name)
        try:
            return os.pread(fd, length, start)
        except OSError as exc:
            raise StoreError(f"pack {name} cannot be read from {self.url}: "
                             f"{exc.strerror or exc}") from None
        finally:
            os.close(fd)

    def read_all(self, name: str) -> bytes:
        fd = self._open(name)
        try:
            return os.pread(fd, os.fstat(fd).st_size, 0)
        finally:
            os.close(fd)

    def seal(self, name: str, data: bytes, *, like: str | None, new_blobs: bool) -> None:
        """Temporary file, fsync, rename, fsync of the folder."""
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

    def remove(self, name: str) -> None:
        try:
            os.unlink(self.folder / name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot delete pack {name} from {self.url}: "
                             f"{exc.strerror or exc}") from None
        fsync_dir(self.folder)

    def refusal(self, name: str) -> str | None:
        return None

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for suffix in (PACK_SUFFIX, warc_records.PACK_SUFFIX)
                      for p in self.folder.glob(f"pack-*{suffix}"))  # format 2 or 1

    def lock(self) -> AbstractContextManager[None]:
        """Across processes on this host (writers need no lock)."""
        return folder_lock(self.folder)

    def journal_put(self, jobs: Sequence[Journal]) -> None:
        pass  # the index beside the packs is durable and holds the journal

    def journal_list(self) -> list[Journal]:
        return []

    def journal_drop(self, old_name: str) -> None:
        pass
