"""An S3 store that keeps blobs below a threshold in pack objects (:mod:`archiver.blobs.s3_packs`)
and larger ones as one object each (:class:`archiver.blobs.s3.S3BlobStore`).

The pack index is :class:`archiver.blobs.packs.PackFolder`'s SQLite file in a local cache folder
(see :func:`pack_cache`). It is only a cache: packs describe themselves, so a lookup that misses
lists the bucket's packs and indexes the ones it lacks (written by another process or host, or
by a writer killed before its index commit), and a lost cache is rebuilt the same way. Writers
upload a pack whole before committing its index entries. Deletes and ``upgrade`` first finish
any rewrite journalled in the bucket.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

from archiver.blobs.interface import BlobCheck, check_hash, fan_out, is_hash, map_chunks
from archiver.blobs.packs import PackFolder
from archiver.blobs.s3 import S3_THREADS, S3BlobStore
from archiver.blobs.s3_packs import S3Packs
from archiver.errors import BlobLocked, BlobNotFound, StoreError

PACK_HASH_CHUNK = 65536  # blobs looked up and hashed per pass over the packs
MIGRATE_BATCH = 2000  # single objects read per step of ``upgrade``


def pack_cache(home: Path, endpoint: str, bucket: str, prefix: str) -> Path:
    """The folder of an S3 store's pack index: ``<ARCHIVER_HOME>/cache/s3-packs/<key>``.

    Under ARCHIVER_HOME because every process of one archive (capture, the webhook daemon, the
    CLI) shares that folder and so shares one cache, and an archive moved or restored brings it
    along; keyed by endpoint, bucket and prefix so that a home pointed at another bucket never
    trusts an index of the wrong packs. Losing it costs one listing and one read per pack.
    """
    key = hashlib.sha256(f"{endpoint}\n{bucket}\n{prefix}".encode()).hexdigest()[:24]
    return Path(home) / "cache" / "s3-packs" / key


class PackedS3BlobStore(S3BlobStore):
    """Small blobs in pack objects, large ones as single objects; see the module docstring."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any, cache: Path,
                 pack_below: int, **options: Any) -> None:
        super().__init__(bucket, prefix, client=client, **options)
        self.pack_below = pack_below
        self.backend = S3Packs(self, Path(cache))
        self.packs = PackFolder(Path(cache), self.url, backend=self.backend)

    # -- writing ---------------------------------------------------------------------------

    def put(self, data: bytes, *, media_type: str | None = None) -> str:
        """As :meth:`S3BlobStore.put`; a small blob goes into a new pack."""
        if len(data) < self.pack_below:
            return self.put_many([data], media_type=media_type)[0]
        return super().put(data, media_type=media_type)

    def put_many(self, blobs: Sequence[bytes], *, media_type: str | None = None) -> list[str]:
        """The batch's small blobs go into one new pack (a blob this cache knows is packed is
        not packed again), the large ones one object each."""
        hashes = [hashlib.sha256(data).hexdigest() for data in blobs]
        unique = dict(zip(hashes, blobs, strict=True))
        small = {sha: data for sha, data in unique.items() if len(data) < self.pack_below}
        if small:
            packed = self.packs.locate_many(list(small))
            self.packs.write([(sha, data, media_type) for sha, data in small.items()
                              if sha not in packed])
        for sha, data in unique.items():
            if sha not in small:
                super().put(data, media_type=media_type)
        return hashes

    def put_file(self, path: Path, *, media_type: str | None = None) -> tuple[str, int]:
        """As :meth:`S3BlobStore.put_file`; a small file goes into a pack."""
        with contextlib.suppress(OSError):  # a read error is reported by the upload below
            if Path(path).stat().st_size < self.pack_below:
                data = Path(path).read_bytes()
                if len(data) < self.pack_below:
                    return self.put_many([data], media_type=media_type)[0], len(data)
        return super().put_file(path, media_type=media_type)

    # -- reading ---------------------------------------------------------------------------

    def _read_packed(self, sha256: str) -> bytes | None:
        """The packed blob's bytes, or None if no pack holds it (after one refresh)."""
        check_hash(sha256)
        for attempt in range(2):
            if attempt or self.packs.locate(sha256) is not None:
                with contextlib.suppress(BlobNotFound):
                    return self.packs.read(sha256)
            if attempt == 0:
                self.packs.refresh()
        return None

    def get(self, sha256: str) -> bytes:
        """The stored bytes: from the pack holding the blob, else its own object."""
        tried = self.packs.locate(check_hash(sha256)) is None
        if tried:
            with contextlib.suppress(BlobNotFound):
                return super().get(sha256)
        data = self._read_packed(sha256)
        if data is None:
            if tried:
                raise BlobNotFound(f"blob {sha256} not found in {self.url}")
            return super().get(sha256)
        return data

    @contextlib.contextmanager
    def open(self, sha256: str) -> Iterator[BinaryIO]:
        """A reader on the blob (a packed blob is small: it is read whole)."""
        response = None
        if self.packs.locate(check_hash(sha256)) is None:
            with contextlib.suppress(BlobNotFound):
                response = self._get_object(sha256)
        if response is not None:
            with self._stream(sha256, response) as stream:
                yield stream
            return
        with io.BytesIO(self.get(sha256)) as fh:
            yield fh

    def exists(self, sha256: str) -> bool:
        """True if a pack or an object holds the blob."""
        if self.packs.locate(check_hash(sha256)) is not None or super().exists(sha256):
            return True
        self.packs.refresh()
        return self.packs.locate(sha256) is not None

    def _single_hashes(self) -> Iterator[str]:
        return super().iter_hashes()

    def iter_hashes(self) -> Iterator[str]:
        """Every blob, packed or single, sorted (the pack index is refreshed first)."""
        self.packs.refresh()
        last = None
        for sha256 in heapq.merge(self._single_hashes(), self.packs.iter_hashes()):
            if sha256 != last:
                yield sha256
                last = sha256

    def hash_many(self, hashes: Iterable[str]) -> Iterator[BlobCheck]:
        """As :meth:`S3BlobStore.hash_many`, with packed blobs read one span per pack (one
        ranged GET for the blobs of a pack in a chunk, see :meth:`PackFolder.hash_many`)
        instead of a request per blob; single objects as before."""
        self.packs.refresh()

        def chunk(part: list[str]) -> list[BlobCheck]:
            checks = self.packs.hash_many(part)
            rest = [h for h, check in zip(part, checks, strict=True) if check is None]
            if rest:
                singles = iter(map_chunks(self._hash_chunk, rest, chunk=4, threads=S3_THREADS))
                checks = [check if check is not None else next(singles) for check in checks]
            return checks  # type: ignore[return-value]  # every None was filled above

        return map_chunks(chunk, hashes, chunk=PACK_HASH_CHUNK, threads=1)

    # -- deleting and holds ----------------------------------------------------------------

    def delete(self, sha256: str) -> None:
        """Destroy the blob wherever it is (see :meth:`delete_many`)."""
        error = self.delete_many([sha256])[sha256]
        if error is not None:
            raise error

    def delete_many(self, hashes: Sequence[str]) -> dict[str, Exception | None]:
        """Packed blobs: every pack holding one is rewritten without it and every version of
        the old pack object deleted; held blobs are refused, and so are blobs in a pack under
        a running retention. Single objects as :meth:`S3BlobStore.delete_many`."""
        unique = list(dict.fromkeys(hashes))
        outcome: dict[str, Exception | None] = {}
        valid = []
        for sha in unique:
            try:
                valid.append(check_hash(sha))
            except StoreError as exc:
                outcome[sha] = exc
        self.packs.refresh()  # another host may have packed a copy: every copy must go
        held = self.backend.held()
        for sha in valid:
            if sha in held:
                outcome[sha] = BlobLocked(
                    f"blob {sha} is under a legal hold in {self.url}; not deleted")
        free = [sha for sha in valid if sha not in outcome]
        packed = self.packs.delete(free)
        singles = super().delete_many(free) if free else {}
        for sha in free:
            error = singles[sha]
            outcome[sha] = packed[sha] if sha in packed and isinstance(error, BlobNotFound) \
                else error
        return {sha: outcome[sha] for sha in unique}

    def _hold_key(self, sha256: str) -> str:
        return self.backend.holds + sha256

    def set_legal_hold(self, sha256: str, on: bool) -> None:
        """A packed blob's hold is the object ``pack-holds/<sha256>``, and on an Object Lock
        bucket S3's legal hold on its pack while any blob of the pack is held; a single
        object's hold as :meth:`S3BlobStore.set_legal_hold`."""
        check_hash(sha256)
        if self.packs.locate(sha256) is None:
            self.packs.refresh()
        names = self.packs.places(sha256)
        if not names:
            super().set_legal_hold(sha256, on)
            return
        with contextlib.suppress(BlobNotFound):  # also a single object (a migration's leftover)
            super().set_legal_hold(sha256, on)
        doing = f"setting legal hold {'ON' if on else 'OFF'} on blob {sha256}"
        with self.packs.backend.lock():
            if on:
                self.backend.put_object(self._hold_key(sha256), b"", doing)
                for name in names:
                    self.backend.set_pack_hold(name, True)
                return
            self.backend.delete_every_version(self._hold_key(sha256), doing)
            held = self.backend.held()
            for name in names:
                if not held.intersection(self.packs.pack_hashes(name)):
                    self.backend.set_pack_hold(name, False)

    def is_held(self, sha256: str) -> bool:
        """True if the blob's hold object exists, or its single object is held."""
        if check_hash(sha256) in self.backend.held():
            return True
        try:
            return super().is_held(sha256)
        except BlobNotFound:
            if self.exists(sha256):
                return False
            raise

    # -- upgrade ---------------------------------------------------------------------------

    def upgrade(self) -> dict[str, int]:
        """Finish journalled rewrites, index packs the cache lacks, then move single objects
        below the pack threshold into packs: each batch is packed and indexed before its
        objects (every version) are deleted, so a killed run loses nothing and the next run
        finishes it. Objects under a running retention or a hold stay as they are."""
        recovered = self.packs.recover()
        moved = 0
        small = [sha for sha, size in self._list_sizes() if size < self.pack_below]
        for at in range(0, len(small), MIGRATE_BATCH):
            batch = [got for got in map_chunks(self._read_movable, small[at:at + MIGRATE_BATCH],
                                               chunk=4, threads=S3_THREADS) if got is not None]
            packed = self.packs.locate_many([sha for sha, _ in batch])
            self.packs.write([(sha, data, None) for sha, data in batch if sha not in packed],
                             new_blobs=False)
            gone = super().delete_many([sha for sha, _ in batch])
            moved += sum(error is None for error in gone.values())
        return {"packs_recovered": recovered, "objects_packed": moved}

    def _list_sizes(self) -> Iterator[tuple[str, int]]:
        root = f"{self.prefix}/" if self.prefix else ""
        with self._errors("listing blobs"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=root)
            for page in pages:
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(root):]
                    name = rel.rsplit("/", 1)[-1]
                    if is_hash(name) and rel == fan_out(name):
                        yield name, int(obj.get("Size", 0))

    def _read_movable(self, hashes: list[str]) -> list[tuple[str, bytes] | None]:
        """Each object's bytes if it may move into a pack: intact, not held, not locked."""
        out: list[tuple[str, bytes] | None] = []
        for sha in hashes:
            try:
                reply = self._get_object(sha)
                with contextlib.closing(reply["Body"]) as body:
                    data = cast(bytes, body.read())
                until = reply.get("ObjectLockRetainUntilDate")
                locked = isinstance(until, datetime) and until > self._clock()
                held = reply.get("ObjectLockLegalHoldStatus") == "ON" or (
                    reply.get("TagCount") and super().is_held(sha))
            except StoreError:
                out.append(None)  # unreadable: left for verify to report
                continue
            intact = hashlib.sha256(data).hexdigest() == sha
            out.append((sha, data) if intact and not locked and not held else None)
        return out
