"""Content-addressed blob store: the common interface and hash checks.

A blob is stored under the lowercase hex sha256 of its bytes, so the same content is stored once
and any later change to it is detectable. Two implementations:

- :class:`archiver.blobs.local.LocalBlobStore`: a folder (the default, ``file://``).
- :class:`archiver.blobs.s3.S3BlobStore`: an S3 bucket, with Object Lock in production.

Reads never re-hash: :meth:`BlobStore.get` returns the bytes exactly as stored, damaged or not, so
that ``archiver verify`` sees (and reports) damage instead of the store hiding or "fixing" it.
:func:`verify_blob` is the check.

Bulk paths (``put_many``, ``delete_many``, ``hash_many``) exist because the archive holds one
small file or object per item record: per-blob overhead (a future, a Path, a round trip) costs more
than the bytes, so each store works through a batch in chunks on a few threads.

The implementations live in :mod:`archiver.blobs.local` and :mod:`archiver.blobs.s3`;
:func:`archiver.blobs.factory.open_blob_store` picks one from the settings.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, TypeGuard, TypeVar

from archiver.errors import StoreError

if TYPE_CHECKING:
    from archiver.blobs.local import LocalBlobStore
    from archiver.blobs.s3 import S3BlobStore

__all__ = [
    "CHUNK_SIZE",
    "BlobCheck",
    "BlobStore",
    "LocalBlobStore",
    "S3BlobStore",
    "check_hash",
    "map_chunks",
    "verify_blob",
]

CHUNK_SIZE = 1024 * 1024
_HASH_RE = re.compile(r"[0-9a-f]{64}")

_T = TypeVar("_T")
_R = TypeVar("_R")


class BlobCheck(NamedTuple):
    """What re-reading one stored blob found: its actual digest and length, or why it could
    not be read (``error`` is a :class:`BlobNotFound` for a missing blob).

    A named tuple, not a dataclass: a verify makes one per blob, and at a few hundred bytes
    per blob building a frozen dataclass costs as much as the hashing."""

    sha256: str
    digest: str | None
    length: int
    error: StoreError | None = None

    def fails(self, size: int) -> bool:
        """True if the blob is not whole at the recorded ``size``: unreadable, hashing to
        something else, or of another length."""
        return self.error is not None or self.digest != self.sha256 or self.length != size


@dataclass
class BlobTally:
    """What a :meth:`BlobStore.check_many` pass has checked so far; ``progress`` (if given)
    hears each batch's count of blobs."""

    blobs: int = 0
    bytes: int = 0
    progress: Callable[[int], None] | None = None

    def add(self, blobs: int, hashed: int) -> None:
        """Count ``blobs`` more blobs and ``hashed`` more bytes."""
        self.blobs += blobs
        self.bytes += hashed
        if self.progress is not None and blobs:
            self.progress(blobs)


def map_chunks(
    work: Callable[[list[_T]], list[_R]],
    items: Iterable[_T],
    *,
    chunk: int,
    threads: int,
) -> Iterator[_R]:
    """``work`` over consecutive chunks of ``items`` on ``threads`` threads; results in order.

    One future per chunk, not per item: a future costs more than reading a 300-byte file. At
    most two chunks per thread are in flight, so memory stays flat however long ``items`` is,
    and ``items`` is only ever iterated in the caller's thread (it may be a database cursor).
    An exception from ``work`` is raised here, after the chunks in flight have finished.
    """
    source = iter(items)
    if threads <= 1:
        while part := list(islice(source, chunk)):
            yield from work(part)
        return
    pending: deque[Future[list[_R]]] = deque()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < 2 * threads:
                    part = list(islice(source, chunk))
                    if part:
                        pending.append(pool.submit(work, part))
                    else:
                        exhausted = True
                if not pending:
                    return
                yield from pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def is_hash(text: object) -> TypeGuard[str]:
    """True if ``text`` is a sha256 in the store's spelling: 64 lowercase hex digits."""
    return isinstance(text, str) and _HASH_RE.fullmatch(text) is not None


def check_hash(text: object) -> str:
    """Return ``text`` if it is a valid blob hash, else raise :class:`StoreError`.

    Every public store method calls this before building a path or key from a hash, so a
    hostile or corrupt value (``../../etc/passwd``, upper case, a newline) never reaches the disk.
    """
    if not is_hash(text):
        shown = repr(text)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise StoreError(f"invalid blob hash {shown}: expected 64 lowercase hex digits (sha256)")
    return text


def fan_out(sha256: str) -> str:
    """The relative location ``ab/cd/<sha256>`` shared by both stores (keeps folders small)."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


class BlobStore(ABC):
    """A place that keeps immutable blobs addressed by their sha256."""

    url: str

    @abstractmethod
    def put(self, data: bytes, *, media_type: str | None = None) -> str:
        """Store ``data`` and return its sha256; an existing blob is not rewritten."""

    def put_many(self, blobs: Sequence[bytes], *, media_type: str | None = None) -> list[str]:
        """Store several blobs; return their hashes in order. Stores override this to make the
        batch durable at once (capture writes hundreds of small payloads per transaction)."""
        return [self.put(data, media_type=media_type) for data in blobs]

    def delete_many(self, hashes: Sequence[str]) -> dict[str, Exception | None]:
        """Delete several blobs; for each, None or the error :meth:`delete` raised for it
        (:class:`BlobNotFound`, :class:`BlobLocked`, :class:`StoreError`). Deletes are round
        trips, so they overlap on a few threads; stores override this to batch them."""
        from concurrent.futures import ThreadPoolExecutor

        def one(sha: str) -> Exception | None:
            try:
                self.delete(sha)
            except StoreError as exc:
                return exc
            return None

        with ThreadPoolExecutor(max_workers=16) as pool:
            return dict(zip(hashes, pool.map(one, hashes), strict=True))

    #: How many threads and blobs per chunk :meth:`hash_many` uses (stores tune these).
    hash_threads: int = 4
    hash_chunk: int = 64

    def hash_many(self, hashes: Iterable[str]) -> Iterator[BlobCheck]:
        """Re-read and hash each blob, yielding one :class:`BlobCheck` per hash, in order.

        Never raises for one bad blob (missing, unreadable, invalid hash): that blob's check
        carries the error, so a verifier sees every damaged blob in one pass.
        """
        return map_chunks(
            self._hash_chunk, hashes, chunk=self.hash_chunk, threads=self.hash_threads
        )

    def check_many(self, blobs: Iterable[tuple[str, int]],
                   tally: BlobTally) -> Iterator[tuple[BlobCheck, int]]:
        """Re-hash each ``(sha256, recorded size)`` blob and yield ``(check, recorded size)``
        for those that fail: missing, unreadable, hashing to something else or of another
        size. Every blob and every hashed byte is counted in ``tally``. What ``verify`` calls:
        a store may pass whole blobs wholesale instead of naming each one."""
        sizes: deque[int] = deque()

        def hashes() -> Iterator[str]:
            for sha, size in blobs:
                sizes.append(size)
                yield sha

        for check in self.hash_many(hashes()):
            size = sizes.popleft()
            hashed = check.length if check.digest is not None else 0
            tally.add(1, hashed)
            if check.fails(size):
                yield check, size

    def _hash_chunk(self, hashes: list[str]) -> list[BlobCheck]:
        return [self._hash_one(sha) for sha in hashes]

    def _hash_one(self, sha256: str) -> BlobCheck:
        try:
            check_hash(sha256)
            with self.open(sha256) as stream:
                digest, length = hash_stream(stream)
        except StoreError as exc:  # BlobNotFound included
            return BlobCheck(sha256, None, 0, exc)
        return BlobCheck(sha256, digest, length)

    @abstractmethod
    def put_file(self, path: Path, *, media_type: str | None = None) -> tuple[str, int]:
        """Stream the file at ``path`` into the store; return ``(sha256, size)``."""

    @abstractmethod
    def get(self, sha256: str) -> bytes:
        """The stored bytes, unverified. Raises :class:`BlobNotFound`."""

    @abstractmethod
    def open(self, sha256: str) -> AbstractContextManager[BinaryIO]:
        """A streaming, unverified reader for the blob. Raises :class:`BlobNotFound`."""

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """True if a blob with this hash is stored."""

    @abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove the blob for good.

        Raises :class:`BlobNotFound` if absent and :class:`BlobLocked` if a legal hold or an
        S3 Object Lock retention forbids it.
        """

    @abstractmethod
    def iter_hashes(self) -> Iterator[str]:
        """Every stored blob's hash, in sorted order; temporary files are never listed."""

    @abstractmethod
    def set_legal_hold(self, sha256: str, on: bool) -> None:
        """Turn the blob's legal hold on or off; a held blob is never deleted."""

    @abstractmethod
    def is_held(self, sha256: str) -> bool:
        """True if the blob is under a legal hold."""

    def upgrade(self) -> dict[str, int]:
        """Bring the store's layout up to date (``archiver init``); counts of what was done."""
        return {}

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`StoreError` with a one-line reason if the store cannot be used."""

    def verify(self, sha256: str) -> bool:
        """Re-hash the stored blob; see :func:`verify_blob`."""
        return verify_blob(self, sha256)


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    """sha256 hex and size of everything left in ``stream``, read chunk by chunk."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def verify_blob(store: BlobStore, sha256: str) -> bool:
    """True if the stored bytes still hash to ``sha256``; False if the blob is damaged.

    Streams the blob, so big media never sit in memory. A missing blob is not "damaged": it
    raises :class:`BlobNotFound`, so a verifier can report the two cases apart.
    """
    check_hash(sha256)
    with store.open(sha256) as stream:
        actual, _ = hash_stream(stream)
    return actual == sha256
