"""Pack files, format 2: small blobs one after another behind fixed binary record headers.

Byte layout of a pack (``pack-<UTC stamp>-<random>.pack``)::

    header line   b"ARCHIVER-PACK/2" [ b"\\t" media-type ]* b"\\n"     (ASCII)
    record*       sha256     32 bytes   raw digest of the payload
                  length      4 bytes   payload length, unsigned, big-endian
                  type        1 byte    0: none; n: the header line's n-th media type
                  payload     ``length`` bytes, stored as given (no compression)

Records are in ascending order of sha256. The header line names the format and version and holds
the pack's table of media types (at most 255, printable ASCII without tab). Records carry their
own full sha256, so a pack describes itself: its index can be rebuilt from the packs alone, and
anyone can check one with nothing but sha256 (read 37 bytes, hash ``length`` bytes, compare,
repeat until the end of the file).

Records are not compressed and their headers are fixed-size: a verify hashes payload slices of a
pack read in one pass, and inflating or parsing a header per 400-byte record costs more than the
hashing. Packs of format 1 (one uncompressed WARC 1.1 ``resource`` record per blob, ``.warc``,
:mod:`archiver.blobs.warc_records`) are still read, and :func:`copy_records` converts them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter

from archiver.blobs import warc_records
from archiver.errors import StoreError

PACK_SUFFIX = ".pack"
MAGIC = b"ARCHIVER-PACK/2"
_HEAD = struct.Struct(">32sIB")
HEAD = _HEAD.size  # 37 bytes before each payload
MAX_TYPES = 255
_MAX_LINE = 64 * 1024  # a header line longer than this is not ours


@dataclass(frozen=True, slots=True)
class Record:
    """Where one blob's bytes sit in a pack: ``start`` is the payload's offset, ``head`` the
    record header's length before it (the record begins at ``start - head``)."""

    sha256: str
    head: int
    start: int
    length: int
    media_type: str | None = None

    @property
    def record_start(self) -> int:
        return self.start - self.head

    @property
    def record_end(self) -> int:
        return self.start + self.length


def is_v2(name: str) -> bool:
    """True if the pack file ``name`` is of this format (else it is a format 1 WARC pack)."""
    return name.endswith(PACK_SUFFIX)


def _type_ok(media_type: str) -> bool:
    return media_type.isascii() and media_type.isprintable() and "\t" not in media_type


def header_line(types: list[str]) -> bytes:
    """The pack's first line: magic and version, then its media types."""
    return b"\t".join([MAGIC, *(t.encode("ascii") for t in types)]) + b"\n"


def build_pack(blobs: list[tuple[str, bytes, str | None]]) -> tuple[bytes, list[Record]]:
    """The bytes of a pack holding ``(sha256, data, media_type)`` blobs, and each one's place.

    Records are written in hash order, so a pass over hashes in ascending order meets them in
    file order in every pack (:mod:`archiver.blobs.pack_walk`). The result is scanned back
    (:func:`scan_pack`) and compared before it is returned, so a pack that would not describe
    itself correctly is never written."""
    types: dict[str, int] = {}
    for _, _, media_type in blobs:
        if media_type and media_type not in types and len(types) < MAX_TYPES \
                and _type_ok(media_type):
            types[media_type] = len(types) + 1
    blobs = sorted(blobs, key=itemgetter(0))
    head = header_line(list(types))
    parts: list[bytes] = [head]
    records: list[Record] = []
    offset = len(head)
    for sha256, data, media_type in blobs:
        code = types.get(media_type, 0) if media_type else 0
        parts += (_HEAD.pack(bytes.fromhex(sha256), len(data), code), data)
        records.append(Record(sha256, HEAD, offset + HEAD, len(data),
                              media_type if code else None))
        offset += HEAD + len(data)
    pack = b"".join(parts)
    if list(scan_pack(pack, "new pack")) != records:
        raise StoreError("a new pack does not read back as written; not written")
    return pack, records


def _types(view: memoryview, name: str) -> tuple[int, list[str | None]]:
    """The header line's length and the media types table (index = code)."""
    end = bytes(view[:_MAX_LINE]).find(b"\n")
    if end < 0:
        raise StoreError(f"pack {name}: no pack header line")
    fields = bytes(view[:end]).split(b"\t")
    if fields[0] != MAGIC:
        raise StoreError(f"pack {name}: not an {MAGIC.decode()} pack")
    try:
        return end + 1, [None, *(f.decode("ascii") for f in fields[1:])]
    except UnicodeDecodeError:
        raise StoreError(f"pack {name}: media type table is not ASCII") from None


def scan_pack(data: bytes | memoryview, name: str) -> Iterator[Record]:
    """Every record of a pack (format 2, or format 1 WARC), in order, from its headers alone.

    Used to index a pack whose index entries were never committed (its writer was killed), to
    rewrite and to convert; raises :class:`StoreError` on anything that is not such a record, so
    a damaged pack is never indexed with guessed offsets."""
    view = memoryview(data)
    if bytes(view[:len(warc_records.MAGIC)]) == warc_records.MAGIC:
        for sha256, head, start, length, media_type in warc_records.scan_pack(view, name):
            yield Record(sha256, head, start, length, media_type)
        return
    offset, types = _types(view, name)
    size = len(view)
    while offset < size:
        if offset + HEAD > size:
            raise StoreError(f"pack {name}: record header cut short at offset {offset}")
        raw, length, code = _HEAD.unpack_from(view, offset)
        start = offset + HEAD
        if start + length > size or code >= len(types):
            raise StoreError(f"pack {name}: damaged record at offset {offset}")
        yield Record(raw.hex(), HEAD, start, length, types[code])
        offset = start + length


def copy_records(data: bytes | memoryview, keep: list[Record],
                 name: str = "pack") -> tuple[bytes, list[Record]]:
    """A pack holding exactly the ``keep`` records of the pack ``data`` and each one's new place.

    A format 2 pack's records are copied byte for byte behind its header line (same media type
    table); a format 1 pack's blobs are written as a new format 2 pack. Either way the copy is
    scanned back before it is returned, so a rewrite never switches to a pack that does not
    describe itself."""
    view = memoryview(data)
    wanted = {rec.sha256 for rec in keep}
    found = [rec for rec in scan_pack(view, name) if rec.sha256 in wanted]
    if {rec.sha256 for rec in found} != wanted:
        raise StoreError(f"pack {name}: records to keep are missing; not rewritten")
    if bytes(view[:len(warc_records.MAGIC)]) == warc_records.MAGIC:
        return build_pack([(rec.sha256, bytes(view[rec.start:rec.record_end]), rec.media_type)
                           for rec in found])
    line, _ = _types(view, name)
    parts: list[bytes] = [bytes(view[:line])]
    moved: list[Record] = []
    offset = line
    for rec in sorted(found, key=lambda r: r.start):
        parts.append(bytes(view[rec.record_start:rec.record_end]))
        moved.append(Record(rec.sha256, rec.head, offset + rec.head, rec.length, rec.media_type))
        offset += rec.head + rec.length
    out = b"".join(parts)
    if list(scan_pack(out, name)) != moved:
        raise StoreError(f"pack {name}: the copy does not read back; not rewritten")
    return out, moved
