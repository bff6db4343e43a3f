"""The blob store in a local folder: ``root/ab/cd/<sha256>``.

Writes go to a temporary file in the destination folder (same file system, so the final rename is
atomic), are flushed and fsynced, renamed with :func:`os.replace`, and the folder is fsynced, so a
crash leaves either the whole blob under its name or a stray temporary file, never half a blob.
Temporary files are named ``.tmp-*`` (never 64 hex digits), so :meth:`iter_hashes` skips them and
:meth:`LocalBlobStore.cleanup_temp` removes them.

A legal hold is a sidecar marker ``<sha256>.hold`` next to the blob; :meth:`delete` refuses while
it exists. Like the 0o444 mode on blob files, this guards against mistakes in this software, not
against someone with shell access: use S3 Object Lock for that.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import heapq
import io
import operator
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from archiver.blobs.interface import (
    CHUNK_SIZE,
    BlobCheck,
    BlobStore,
    BlobTally,
    check_hash,
    fan_out,
    is_hash,
    map_chunks,
)
from archiver.blobs.pack_backend import TEMP_PREFIX
from archiver.blobs.pack_backend import fsync_dir as _fsync_dir
from archiver.blobs.packs import PackFolder
from archiver.blobs.single_files import (
    hash_files,
    is_fan_dir,
    marker_present,
    oneline,
    read_error,
    sync_filesystem,
    write_new,
)
from archiver.errors import BlobLocked, BlobNotFound, StoreError

_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)
_SETTING = "ARCHIVER_STORE_URL"  # named in every error a user can fix by changing it
HOLD_SUFFIX = ".hold"
_STAGING = ".staging"  # put_file writes here before the hash (and so the folder) is known
PACK_HASH_CHUNK = 65536  # blobs looked up and hashed per pass over the packs
DELETE_THREADS = 16  # threads for batch deletes (see delete_many)
_THREADED_FROM = 32  # below this many blobs a batch runs in the caller's thread


class LocalBlobStore(BlobStore):
    """Blobs as read-only files under ``root``, fanned out by the first two hash bytes."""

    # Measured on a 20k-item archive (2 cores, ext4): with the files in the page cache one
    # thread is ~10 % faster than four; with them on disk four threads are ~1.5x faster. A
    # nightly verify mostly reads from disk, so four.
    hash_threads = 4
    hash_chunk = 256

    def __init__(self, root: Path, *, clock: Callable[[], float] = time.time,
                 pack_below: int = 0) -> None:
        """``pack_below``: blobs smaller than this many bytes go into packs
        (:mod:`archiver.blobs.packs`); 0 keeps every blob a single file."""
        self.root = Path(root)
        self._root_str = os.fspath(self.root)
        self.url = self.root.resolve().as_uri()
        self._clock = clock
        self.pack_below = pack_below
        self.packs = PackFolder(self.root, self.url)

    # -- locations -------------------------------------------------------------------------

    def path_for(self, sha256: str) -> Path:
        """Where the blob lives (whether or not it exists); rejects invalid hashes."""
        return self.root / fan_out(check_hash(sha256))

    def _hold_marker(self, sha256: str) -> Path:
        path = self.path_for(sha256)
        return path.with_name(path.name + HOLD_SUFFIX)

    # -- writing ---------------------------------------------------------------------------

    def put(self, data: bytes, *, media_type: str | None = None) -> str:
        """Store ``data``; return its sha256. An existing blob is left untouched."""
        if len(data) < self.pack_below:
            return self.put_many([data], media_type=media_type)[0]
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path_for(sha256)
        if final.exists():
            return sha256
        try:
            self._make_fan_dir(final.parent)
            fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=final.parent)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                self._commit(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StoreError(f"cannot write blob {sha256} to {self.url}: {oneline(exc)}") from None
        return sha256

    def put_many(self, blobs: Sequence[bytes], *, media_type: str | None = None) -> list[str]:
        """Store a batch with one file-system sync instead of three fsyncs per blob.

        Each blob still goes through a temporary file and an atomic rename, so a crash leaves
        whole blobs or stray temporary files; the single ``syncfs`` at the end makes the whole
        batch durable before the caller commits the rows that name it. A blob already stored
        (or twice in the batch) costs one ``stat``, and is never rewritten.
        """
        hashes = [hashlib.sha256(data).hexdigest() for data in blobs]
        unique = dict(zip(hashes, blobs, strict=True))  # repeats dropped
        small = {sha: data for sha, data in unique.items() if len(data) < self.pack_below}
        if small:
            packed = self.packs.locate_many(list(small))
            self.packs.write([(sha, data, media_type) for sha, data in small.items()
                              if sha not in packed and not os.path.lexists(
                                  f"{self._root_str}/{fan_out(sha)}")])
        written = False
        for sha256, data in unique.items():
            if sha256 in small:
                continue
            # In the caller's thread: creating files is serialized in the kernel (measured no
            # faster on 8 or 16 threads on ext4), unlike deleting them.
            written = write_new(self._root_str, self.url, sha256, data) or written
        if written:
            sync_filesystem(self.root)
        return hashes

    def put_file(self, path: Path, *, media_type: str | None = None) -> tuple[str, int]:
        """Copy the file at ``path`` into the store chunk by chunk; return ``(sha256, size)``.

        The hash is computed from the bytes actually written, so a file that changes while being
        copied is stored under the hash of what was stored.
        """
        with contextlib.suppress(OSError):  # a read error is reported by the copy below
            if self.pack_below and os.path.getsize(path) < self.pack_below:
                data = Path(path).read_bytes()
                if len(data) < self.pack_below:
                    return self.put_many([data], media_type=media_type)[0], len(data)
        staging = self.root / _STAGING
        tmp: Path | None = None
        try:
            with Path(path).open("rb") as src:
                staging.mkdir(parents=True, exist_ok=True)
                fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=staging)
                tmp = Path(tmp_name)
                digest = hashlib.sha256()
                size = 0
                with os.fdopen(fd, "wb") as out:
                    while chunk := src.read(CHUNK_SIZE):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            final = self.path_for(sha256)
            if final.exists():
                tmp.unlink()
            else:
                self._make_fan_dir(final.parent)
                self._commit(tmp, final)
            tmp = None
        except OSError as exc:
            raise StoreError(f"cannot store {path} in {self.url}: {oneline(exc)}") from None
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        return sha256, size

    def _make_fan_dir(self, folder: Path) -> None:
        if folder.is_dir():
            return
        folder.mkdir(parents=True, exist_ok=True)
        # A new folder's own entry must be durable too, or a crash could lose the blob's path.
        _fsync_dir(folder.parent)
        _fsync_dir(folder.parent.parent)

    def _commit(self, tmp: Path, final: Path) -> None:
        os.chmod(tmp, 0o444)
        os.replace(tmp, final)
        _fsync_dir(final.parent)

    def cleanup_temp(self, *, older_than: float = 3600.0) -> int:
        """Remove temporary files left by crashed writes; return how many were removed.

        Only files older than ``older_than`` seconds go, so a write in progress in another
        process is not pulled from under it.
        """
        removed = 0
        cutoff = self._clock() - older_than
        if not self.root.is_dir():
            return 0
        removed += self.packs.cleanup_temp(cutoff)
        for tmp in self.root.rglob(TEMP_PREFIX + "*"):
            if tmp.parent == self.packs.folder:
                continue
            try:
                if tmp.is_file() and tmp.stat().st_mtime <= cutoff:
                    tmp.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # another cleaner or the writer itself got there first
            except OSError as exc:
                raise StoreError(f"cannot remove temporary file {tmp}: {oneline(exc)}") from None
        return removed

    # -- reading ---------------------------------------------------------------------------

    def get(self, sha256: str) -> bytes:
        """The stored bytes as they are on disk (not verified: see ``verify_blob``)."""
        path = self.path_for(sha256)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return self.packs.read(sha256)
        except OSError as exc:
            raise read_error(sha256, self.url, exc) from None

    @contextlib.contextmanager
    def open(self, sha256: str) -> Iterator[BinaryIO]:
        """A binary file object on the stored blob (not verified)."""
        path = self.path_for(sha256)
        try:
            fh: BinaryIO = path.open("rb")
        except FileNotFoundError:
            fh = io.BytesIO(self.packs.read(sha256))
        except OSError as exc:
            raise read_error(sha256, self.url, exc) from None
        with fh:
            yield fh

    def _hash_chunk(self, hashes: list[str]) -> list[BlobCheck]:
        return hash_files(self._root_str, self.url, hashes)

    def exists(self, sha256: str) -> bool:
        """True if the blob file is present or the blob is packed."""
        return self.path_for(sha256).is_file() or self.packs.locate(sha256) is not None

    def hash_many(self, hashes: Iterable[str]) -> Iterator[BlobCheck]:
        """As :meth:`BlobStore.hash_many`. While hashes come in ascending order (as verify
        sends them), each format 2 pack is walked once from start to end alongside them
        (:meth:`PackFolder.walk`); whatever the walk does not find is looked up in the index a
        chunk at a time and hashed from its pack (:meth:`PackFolder.hash_many`), and the rest
        are single files."""
        if not self.packs.exists_index():
            return super().hash_many(hashes)
        last = ""
        walk = self.packs.walk()

        def chunk(part: list[str]) -> list[BlobCheck]:
            nonlocal last
            ascending = part[0] > last and all(map(operator.lt, part, islice(part, 1, None)))
            checks: list[BlobCheck | None] = [None] * len(part)
            if ascending:
                last = part[-1]
                checks = walk.hash_sorted(part)
            return self._fill(part, checks, ascending)

        return map_chunks(chunk, hashes, chunk=PACK_HASH_CHUNK, threads=1)

    def _fill(self, part: list[str], checks: list[BlobCheck | None],
              ascending: bool) -> list[BlobCheck]:
        """``checks`` with each None (not met by a walk) filled from the index, else from a
        single file."""
        if None not in checks:  # the usual case: every one found by the walk
            return checks  # type: ignore[return-value]  # no None in it
        missing = [h for h, check in zip(part, checks, strict=True) if check is None]
        found = iter(self.packs.hash_many(missing, ascending and 4 * len(missing) > len(part)))
        checks = [check if check is not None else next(found) for check in checks]
        rest = [h for h, check in zip(part, checks, strict=True) if check is None]
        if rest:
            files = iter(self._hash_chunk(rest))
            checks = [check if check is not None else next(files) for check in checks]
        return checks  # type: ignore[return-value]  # every None was filled above

    def check_many(self, blobs: Iterable[tuple[str, int]],
                   tally: BlobTally) -> Iterator[tuple[BlobCheck, int]]:
        """As :meth:`BlobStore.check_many`. While hashes come in ascending order, a chunk's
        blobs whose records the walk over the packs found whole and of the recorded size pass
        at once (set and dict operations, no object per blob); the rest are checked one by one
        as :meth:`hash_many` does, which names what is wrong with each."""
        if not self.packs.exists_index():
            yield from super().check_many(blobs, tally)
            return
        source = iter(blobs)
        last = ""
        walk = self.packs.walk()
        while part := list(islice(source, PACK_HASH_CHUNK)):
            hashes = list(map(_FIRST, part))
            suspects = part
            if hashes[0] > last and all(map(operator.lt, hashes, islice(hashes, 1, None))):
                last = hashes[-1]
                met = walk.walk_to(last)
                sizes = list(map(_SECOND, part))
                # Whole-chunk comparisons first (C loops): the usual chunk has no suspect.
                if list(map(met.good.get, hashes)) == sizes and not (
                        met.wrong and met.wrong.keys() & hashes):
                    tally.add(len(part), sum(sizes))
                    continue
                good, wrong = met.good, met.wrong
                suspects = [(sha, size) for sha, size in part
                            if good.get(sha) != size or sha in wrong]
                tally.add(len(part) - len(suspects),
                          sum(sizes) - sum(size for _, size in suspects))
            names = [sha for sha, _ in suspects]
            checks = self._fill(names, [None] * len(names), False)
            for check, (_, size) in zip(checks, suspects, strict=True):
                tally.add(1, check.length if check.digest is not None else 0)
                if check.fails(size):
                    yield check, size

    def iter_hashes(self) -> Iterator[str]:
        """Every blob in the store, sorted; temp files, hold markers and strays are skipped."""
        last = None
        for sha256 in heapq.merge(self._iter_files(), self.packs.iter_hashes()):
            if sha256 != last:
                yield sha256
                last = sha256

    def _iter_files(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for first in sorted(p for p in self.root.iterdir() if is_fan_dir(p)):
            for second in sorted(p for p in first.iterdir() if is_fan_dir(p)):
                prefix = first.name + second.name
                for entry in sorted(second.iterdir()):
                    name = entry.name
                    if is_hash(name) and name.startswith(prefix) and entry.is_file():
                        yield name

    # -- deleting and holds -----------------------------------------------------------------

    def delete(self, sha256: str) -> None:
        """Remove the blob; refuses (``BlobLocked``) while a legal hold marker is present."""
        error = self.delete_many([sha256])[sha256]
        if error is not None:
            raise error

    def delete_many(self, hashes: Sequence[str]) -> dict[str, Exception | None]:
        """Delete a batch with one file-system sync at the end instead of one per folder
        entry: the deletions are durable before the caller records them as done.

        Freeing a file's blocks is slow kernel work on ext4 (hundreds of microseconds with
        ``discard``) that releases the GIL, so chunks of the batch run on a few threads.
        """
        unique = list(dict.fromkeys(hashes))
        outcome: dict[str, Exception | None] = {}
        free: list[str] = []
        for sha256 in unique:
            try:
                if marker_present(f"{self._root_str}/{fan_out(check_hash(sha256))}"
                                   f"{HOLD_SUFFIX}", sha256, self.url):
                    raise BlobLocked(
                        f"blob {sha256} is under a legal hold in {self.url}; not deleted")
            except StoreError as exc:
                outcome[sha256] = exc
            else:
                free.append(sha256)
        # Packed blobs first (their packs are rewritten without them), then single files: a
        # blob a migration left in both places goes from both.
        packed = self.packs.delete(free)
        threads = DELETE_THREADS if len(free) >= _THREADED_FROM else 1
        chunk = max(1, -(-len(free) // threads))
        results = map_chunks(self._delete_chunk, free, chunk=chunk, threads=threads)
        for sha256, error in zip(free, results, strict=True):
            outcome[sha256] = packed[sha256] if sha256 in packed and isinstance(
                error, BlobNotFound) else error
        if any(error is None for error in outcome.values()):
            sync_filesystem(self.root)
        return {sha256: outcome[sha256] for sha256 in unique}

    def _delete_chunk(self, hashes: list[str]) -> list[Exception | None]:
        out: list[Exception | None] = []
        for sha256 in hashes:
            try:
                self._unlink(sha256)
            except StoreError as exc:
                out.append(exc)
            else:
                out.append(None)
        return out

    def _unlink(self, sha256: str) -> None:
        """Remove one blob unless held, without syncing (``delete_many`` syncs the batch)."""
        path = f"{self._root_str}/{fan_out(check_hash(sha256))}"
        if marker_present(path + HOLD_SUFFIX, sha256, self.url):
            raise BlobLocked(f"blob {sha256} is under a legal hold in {self.url}; not deleted")
        try:
            os.unlink(path)
        except FileNotFoundError:
            raise BlobNotFound(f"blob {sha256} not found in {self.url}") from None
        except OSError as exc:
            raise StoreError(
                f"cannot delete blob {sha256} from {self.url}: {oneline(exc)}"
            ) from None

    def set_legal_hold(self, sha256: str, on: bool) -> None:
        """Create (on) or remove (off) the blob's hold marker; the blob must exist."""
        marker = self._hold_marker(sha256)
        if not self.exists(sha256):
            raise BlobNotFound(f"blob {sha256} not found in {self.url}")
        try:
            if on:
                marker.parent.mkdir(parents=True, exist_ok=True)  # a packed blob has no folder
                with marker.open("wb") as fh:
                    os.fsync(fh.fileno())
            else:
                marker.unlink(missing_ok=True)
            _fsync_dir(marker.parent)
        except OSError as exc:
            raise StoreError(
                f"cannot change legal hold on blob {sha256} in {self.url}: {oneline(exc)}"
            ) from None

    def is_held(self, sha256: str) -> bool:
        """True if the hold marker is present."""
        return self._hold_marker(sha256).exists()

    # -- health ----------------------------------------------------------------------------

    def check(self) -> None:
        """Create the folder if needed and prove a file can be written and removed there."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StoreError(f"{_SETTING}: {self.url} exists but is not a folder") from None
        except OSError as exc:
            raise StoreError(
                f"cannot create blob store folder {self.url}: {oneline(exc)}"
            ) from None
        if not self.root.is_dir():
            raise StoreError(f"{_SETTING}: {self.url} exists but is not a folder")
        try:
            fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            reason = (
                "not writable"
                if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
                else oneline(exc)
            )
            raise StoreError(f"{_SETTING}: blob folder {self.url} is unusable: {reason}") from None

    def upgrade(self) -> dict[str, int]:
        """Finish interrupted pack rewrites, index packs whose writer died, convert format 1
        (WARC) packs to format 2 and move single blob files below the pack threshold into packs
        (each step resumable: see :meth:`PackFolder.convert` and
        :func:`archiver.blobs.migrate.pack_files`)."""
        from archiver.blobs.migrate import pack_files

        recovered = self.packs.recover()
        converted = self.packs.convert()
        moved = pack_files(self, self._iter_files()) if self.pack_below else 0
        return {"packs_recovered": recovered, "packs_converted": converted,
                "files_packed": moved}

