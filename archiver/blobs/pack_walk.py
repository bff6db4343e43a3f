"""Verify's pass over format 2 packs: each pack walked once, in hash order, without the index.

A format 2 pack keeps its records sorted by hash (:func:`archiver.blobs.pack_format.build_pack`),
so hashes asked for in ascending order (as ``verify`` asks) are met in every pack in the same
order: a cursor per pack moves forward through it, reading ahead in large ``pread`` calls, and
each record is hashed and filed by its own header's hash. Per blob that is one header unpack, the
sha256 and one dict entry; no index row is fetched (fetching one costs about as much as hashing a
400-byte blob), and verify passes the blobs that are whole from those dicts a chunk at a time.

Anything the walk does not find (a blob in a format 1 pack or in a single file, a record whose
header was damaged, a pack that could not be read) is left as None for the index-based path
(:func:`hash_located`), which reports it precisely; the walk itself never decides that a blob
is bad unless it found that blob's own record and its payload hashes to something else.

The walk reads local pack files (it is the measured hot path of a local verify); packs kept
elsewhere (S3) have no walk, and :func:`hash_located` reads them through their backend.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from struct import Struct

from archiver.blobs.interface import BlobCheck
from archiver.blobs.pack_format import HEAD, MAGIC, is_v2
from archiver.errors import StoreError

_READ_MIN = 256 * 1024  # smallest read-ahead: a syscall per record would cost more than its hash
_UNPACK = Struct(">32sIB").unpack_from  # pack_format's record header
_GAP = 256 * 1024  # records closer than this are read in one pread
Row = tuple[bytes, int, int, int]  # an index row: (raw sha256, pack id, payload start, length)


@dataclass(slots=True)
class Met:
    """The records a walk hashed: ``good`` maps each raw hash whose payload hashes to it to the
    payload's length; ``wrong`` maps a raw hash whose payload does not to (its digest, length).
    A blob with a damaged copy anywhere is in ``wrong``, whatever its other copies hold."""

    good: dict[bytes, int]
    wrong: dict[bytes, tuple[bytes, int]]


@dataclass(slots=True)
class _Cursor:
    path: Path
    offset: int  # the next record's start; 0 before the header line was read
    size: int
    done: bool = False


class PackWalk:
    """Cursors over the format 2 ``packs`` (file paths) for one ascending verify pass."""

    def __init__(self, packs: list[Path]) -> None:
        self._cursors: list[_Cursor] = []
        for path in packs:
            try:
                size = path.stat().st_size
            except OSError:
                continue  # gone or unreadable: its blobs go to the index-based path
            self._cursors.append(_Cursor(path, 0, size))
        self._last = 0

    def hash_sorted(self, hashes: list[str]) -> list[BlobCheck | None]:
        """A check for each of ``hashes`` (ascending, after any earlier call's) whose record
        the walk meets; None for the others."""
        if not hashes:
            return []
        met = self.walk_to(hashes[-1])
        new = tuple.__new__  # NamedTuple's own __new__ is a Python function: too slow here
        out: list[BlobCheck | None] = []
        for sha in hashes:
            try:
                raw = bytes.fromhex(sha)
            except ValueError:
                out.append(None)
                continue
            wrong = met.wrong.get(raw)
            length = met.good.get(raw)
            if wrong is not None:
                out.append(new(BlobCheck, (sha, wrong[0].hex(), wrong[1], None)))
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

    @staticmethod
    def _walk(cursor: _Cursor, top: bytes, share: float, met: Met) -> None:
        try:
            fd = os.open(cursor.path, os.O_RDONLY)
        except OSError:
            cursor.done = True
            return
        try:
            if cursor.offset == 0:
                line = os.pread(fd, 64 * 1024, 0)
                end = line.find(b"\n")
                if end < 0 or not line.startswith(MAGIC):
                    cursor.done = True
                    return
                cursor.offset = end + 1
            _walk_records(fd, cursor, top, share, met)
        finally:
            os.close(fd)


def _walk_records(fd: int, cursor: _Cursor, top: bytes, share: float, met: Met) -> None:
    """Move ``cursor`` over the records up to hash ``top``, hashing each into ``met``."""
    sha256 = hashlib.sha256
    good = met.good
    wrong = met.wrong
    unpack = _UNPACK
    base = cursor.offset
    want = max(_READ_MIN, int((cursor.size - base) * share))
    while base < cursor.size:
        buf = os.pread(fd, min(want, cursor.size - base), base)
        if not buf:
            cursor.done = True
            return
        view = memoryview(buf)
        size = len(buf)
        o = need = 0
        while o + HEAD <= size:
            raw, length, _ = unpack(buf, o)
            if raw > top:
                cursor.offset = base + o
                return
            p = o + HEAD
            q = p + length
            if q > size:
                need = HEAD + length
                break  # the record runs past this read: read on from its start
            digest = sha256(view[p:q]).digest()
            if digest == raw:
                good[raw] = length
            else:
                wrong[raw] = (digest, length)
            o = q
        if o == 0 and (not need or need > cursor.size - base):
            cursor.done = True  # a record longer than the rest of the pack: damaged
            return
        base += o
        want = max(want, need)
        cursor.offset = base
    cursor.done = True


def hash_located(read: Callable[[str, int, int], bytes], name: str, url: str,
                 located: list[Row], hashes: list[str], where: dict[bytes, int],
                 out: list[BlobCheck | None]) -> None:
    """Hash the index rows ``located`` (one pack's, in offset order) into ``out`` at their
    hash's place (``where``): the index-based path, for what a walk did not find and for every
    backend without a walk. ``read(name, start, length)`` reads the pack ``name`` (a backend's
    read: :class:`BlobNotFound` if the pack is gone, :class:`StoreError` if it cannot be read).
    The span holding the rows is read at once (one ``pread`` or one ranged GET); in a format 2
    pack each record header's own hash is compared too, so a header that no longer names its
    payload fails that blob's check."""
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
            out[at] = BlobCheck(hashes[at], digest, length) if not head or data[:32] == raw \
                else BlobCheck(hashes[at], digest, length, StoreError(
                    f"pack {name} in {url}: the record header of blob {hashes[at]} names "
                    "another hash"))
    except StoreError as error:  # BlobNotFound (the pack is gone) included
        for row in located:
            at = where.get(row[0], -1)
            if at >= 0 and out[at] is None:
                out[at] = BlobCheck(hashes[at], None, 0, error)
