"""Verify's pass over format 2 packs: each pack walked once, in hash order, without the index.

A format 2 pack keeps its records sorted by hash (:func:`archiver.blobs.pack_format.build_pack`),
so hashes asked for in ascending order (as ``verify`` asks) are met in every pack in the same
order: a cursor per pack moves forward through it, reading ahead in large reads into one reused
buffer, and each record is hashed and filed by its own header's hash. No index row is fetched
(fetching one costs more than hashing a 400-byte blob), and verify passes the blobs that are whole
from the walk's dicts a chunk at a time.

Per 400-byte record the cost is what CPython's hashlib charges per call (about 1.0 µs of its
1.3 µs; the SHA-256 work itself is 0.3 µs), then a header unpack in a lean loop that only
collects offsets, a payload slice, and a dict entry. ``benchmarks/packs.py`` measures them; the
benchmark results' README has the figures.

Anything the walk does not find (a blob in a format 1 pack or in a single file, a record whose
header was damaged, a pack that could not be read) is left as None for the index-based path
(:func:`hash_located`), which reports it precisely; the walk itself never decides that a blob
is bad unless it found that blob's own record and its payload hashes to something else.

The walk reads local pack files (it is the measured hot path of a local verify); packs kept
elsewhere (S3) have no walk, and :func:`hash_located` reads them through their backend.
"""

from __future__ import annotations

import hashlib
import operator
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from struct import Struct

from archiver.blobs.interface import BlobCheck
from archiver.blobs.pack_format import HEAD, MAGIC, is_v2
from archiver.errors import StoreError

_READ_MIN = 32 * 1024  # smallest read: a syscall per record would cost more than its hash
_UNPACK = Struct(">32sI").unpack_from  # pack_format's record header, less its type
_GAP = 256 * 1024  # records closer than this are read in one pread
Row = tuple[bytes, int, int, int]  # an index row: (raw sha256, pack id, payload start, length)


@dataclass(slots=True)
class Met:
    """The records a walk hashed, by the hex hash their headers name: ``good`` maps each whose
    payload hashes to it to the payload's length; ``wrong`` maps each whose payload does not to
    (its digest, length). A blob with a damaged copy anywhere is in ``wrong``, whatever its other
    copies hold. Hex, as the archive names blobs: a name that is not a well-formed hash is
    simply not found."""

    good: dict[str, int]
    wrong: dict[str, tuple[str, int]]


@dataclass(slots=True)
class _Cursor:
    path: Path
    offset: int  # the next record's start; 0 before the header line was read
    size: int
    done: bool = False


class PackWalk:
    """Cursors over the format 2 ``packs`` (file paths) for one ascending verify pass."""

    def __init__(self, packs: list[Path], read_min: int = _READ_MIN) -> None:
        self._cursors: list[_Cursor] = []
        for path in packs:
            try:
                size = path.stat().st_size
            except OSError:
                continue  # gone or unreadable: its blobs go to the index-based path
            self._cursors.append(_Cursor(path, 0, size))
        self._last = 0
        self._reads = _Reads(read_min)

    def hash_sorted(self, hashes: list[str]) -> list[BlobCheck | None]:
        """A check for each of ``hashes`` (ascending, after any earlier call's) whose record
        the walk meets; None for the others."""
        if not hashes:
            return []
        met = self.walk_to(hashes[-1])
        new = tuple.__new__  # NamedTuple's own __new__ is a Python function: too slow here
        out: list[BlobCheck | None] = []
        for sha in hashes:
            wrong = met.wrong.get(sha)
            length = met.good.get(sha)
            if wrong is not None:
                out.append(new(BlobCheck, (sha, wrong[0], wrong[1], None)))
            elif length is not None:
                out.append(new(BlobCheck, (sha, sha, length, None)))
            else:
                out.append(None)
        return out

    def walk_to(self, last: str) -> Met:
        """Hash every record up to hash ``last`` (ascending, after any earlier call's) in every
        pack: what verify needs to pass the blobs that are whole without naming each one."""
        met = Met({}, {})
        try:
            top = bytes.fromhex(last)
        except ValueError:
            top = b"\xff" * 32
        share = self._share(last)
        for cursor in self._cursors:
            if not cursor.done:
                self._walk(cursor, top, share, met)
        return met

    def _share(self, last: str) -> float:
        """The part of the rest of each pack that hashes up to ``last`` should take (hashes
        are uniform, so it is the part of the remaining key space below ``last``)."""
        try:
            upto = int(last[:12], 16)
        except ValueError:
            return 1.0
        before, self._last = self._last, max(self._last, upto)
        return min(1.0, (upto - before + 1) / ((1 << 48) - before) + 0.01)

    def _walk(self, cursor: _Cursor, top: bytes, share: float, met: Met) -> None:
        reads = self._reads
        try:
            fd = os.open(cursor.path, os.O_RDONLY)
        except OSError:
            cursor.done = True
            return
        try:
            if cursor.offset == 0:
                line = bytes(reads.read(fd, 64 * 1024, 0))
                end = line.find(b"\n")
                if end < 0 or not line.startswith(MAGIC):
                    cursor.done = True
                    return
                cursor.offset = end + 1
            _walk_records(fd, cursor, top, share, met, reads)
        except OSError:
            cursor.done = True  # what it did not reach goes to the index-based path
        finally:
            os.close(fd)


class _Reads:
    """One buffer for every read of a walk. A fresh 256 KiB bytes object per read is mapped
    anew by the allocator and costs its page faults: five times the copy from the page cache."""

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum  # the smallest read a walk asks for
        self._buffer = bytearray()

    def read(self, fd: int, length: int, offset: int) -> memoryview:
        """Up to ``length`` bytes of ``fd`` from ``offset``, valid until the next call (a
        view of the shared buffer; a larger read takes a new buffer, the old one lives on
        while any view of it does)."""
        if len(self._buffer) < length:
            self._buffer = bytearray(length)
        view = memoryview(self._buffer)[:length]
        return view[:os.preadv(fd, [view], offset)]


def _walk_records(fd: int, cursor: _Cursor, top: bytes, share: float, met: Met,
                  reads: _Reads) -> None:
    """Move ``cursor`` over the records up to hash ``top``, hashing each into ``met``."""
    base = cursor.offset
    want = max(reads.minimum, int((cursor.size - base) * share))
    while base < cursor.size:
        buf = reads.read(fd, min(want, cursor.size - base), base)
        if not len(buf):
            cursor.done = True
            return
        heads, starts, ends, need, past = _records(buf, top)
        _hash_into(buf, heads, starts, ends, met)
        used = ends[-1] if ends else 0
        if used == 0 and not past and (not need or need > cursor.size - base):
            cursor.done = True  # a record longer than the rest of the pack: damaged
            return
        base += used
        cursor.offset = base
        if past:
            return
        want = max(want, need)
    cursor.done = True


def _records(buf: memoryview, top: bytes) -> tuple[list[bytes], list[int], list[int], int, bool]:
    """The whole records at the start of ``buf`` up to hash ``top``: their header hashes and
    their payloads' starts and ends; the length of a record cut short at the end of ``buf``
    (0 if none was); and whether a record past ``top`` was met.

    Offsets only: slicing the payloads here, not where they are hashed, would cost half as much
    again as the whole loop."""
    unpack = _UNPACK
    heads: list[bytes] = []
    starts: list[int] = []
    ends: list[int] = []
    add_head = heads.append
    add_start = starts.append
    add_end = ends.append
    last = len(buf) - HEAD
    o = length = 0
    while o <= last:
        raw, length = unpack(buf, o)
        if raw > top:
            return heads, starts, ends, 0, True
        add_head(raw)
        o += HEAD
        add_start(o)
        o += length
        add_end(o)
    if o > len(buf):  # the last record runs past this read: read on from its start
        del heads[-1], starts[-1], ends[-1]
        return heads, starts, ends, HEAD + length, False
    return heads, starts, ends, 0, False


def _hash_into(buf: memoryview, heads: list[bytes], starts: list[int], ends: list[int],
               met: Met) -> None:
    """File each payload of ``buf`` under its header's hash: one comprehension and one list
    comparison for the usual run of records that are all whole, a look at each only when one
    is not."""
    sha256 = hashlib.sha256
    digests = [sha256(buf[start:end]).hexdigest() for start, end in zip(starts, ends, strict=True)]
    names = list(map(bytes.hex, heads))
    lengths = map(operator.sub, ends, starts)
    if digests == names:
        met.good.update(zip(names, lengths, strict=True))
        return
    for name, digest, length in zip(names, digests, lengths, strict=True):
        if digest == name:
            met.good[name] = length
        else:
            met.wrong[name] = (digest, length)


def hash_located(read: Callable[[str, int, int], bytes], name: str, url: str,
                 located: list[Row], hashes: list[str], where: dict[bytes, int],
                 out: list[BlobCheck | None]) -> None:
    """Hash the index rows ``located`` (one pack's, in offset order) into ``out`` at their
    hash's place (``where``): the index-based path, for what a walk did not find and for every
    backend without a walk. ``read(name, start, length)`` reads the pack ``name`` (a backend's
    read: :class:`BlobNotFound` if the pack is gone, :class:`StoreError` if it cannot be read).
    The span holding the rows is read at once (one ``pread`` or one ranged GET); in a format 2
    pack each record header's own hash and length are compared with the index too, so a header
    that no longer describes its payload fails that blob's check."""
    head = HEAD if is_v2(name) else 0
    first = located[0][2] - head
    span = located[-1][2] + located[-1][3] - first
    try:
        whole = b""
        if span <= 4 * sum(row[3] for row in located) + _GAP:
            whole = read(name, first, span)
        for raw, _, start, length in located:
            at = where.get(raw, -1)
            if at < 0:
                continue
            if whole and len(whole) == span:  # the usual case: one read, then slices of it
                data = whole[start - head - first:start + length - first]
            else:  # sparse, or the pack is cut short
                data = read(name, start - head, length + head)
            if len(data) != length + head:
                out[at] = BlobCheck(hashes[at], None, 0, StoreError(
                    f"pack {name} is cut short: blob {hashes[at]} is incomplete"))
                continue
            digest = hashlib.sha256(data[head:]).hexdigest()
            whole_head = not head or data[:36] == raw + length.to_bytes(4, "big")
            out[at] = BlobCheck(hashes[at], digest, length) if whole_head else BlobCheck(
                hashes[at], digest, length, StoreError(
                    f"pack {name} in {url}: the record header of blob {hashes[at]} names "
                    "another hash or length"))
    except StoreError as error:  # BlobNotFound (the pack is gone) included
        for row in located:
            at = where.get(row[0], -1)
            if at >= 0 and out[at] is None:
                out[at] = BlobCheck(hashes[at], None, 0, error)
