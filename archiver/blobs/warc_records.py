"""Pack files: small blobs as WARC 1.1 ``resource`` records, one after another.

A pack is an uncompressed WARC file (ISO 28500, WARC 1.1:
https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/). Each blob is
one ``resource`` record whose block is exactly the blob's bytes, named by
``WARC-Target-URI: urn:sha256:<hex>`` and checked by ``WARC-Block-Digest`` and
``WARC-Payload-Digest`` (``sha256:<hex>``; for a resource record without HTTP headers the payload
is the block), so any WARC tool (``warcio check``, ``warcio index``) can read a pack and re-check
every record without this software.

Records are not gzipped: a verify hashes payload slices of a pack read in one pass, and
inflating one gzip member per 300-byte record costs many times the hashing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from archiver.blobs.interface import is_hash
from archiver.errors import StoreError

PACK_SUFFIX = ".warc"
RECORD_END = b"\r\n\r\n"
_TARGET = "WARC-Target-URI: urn:sha256:"
_LENGTH = "Content-Length: "
MAX_HEADER = 4096  # a record header of ours is under 400 bytes; more means it is not a record


@dataclass(frozen=True, slots=True)
class Record:
    """Where one blob's bytes sit in a pack: ``start`` is the payload's offset, ``head`` the
    header's length before it (the record begins at ``start - head``)."""

    sha256: str
    head: int
    start: int
    length: int

    @property
    def record_start(self) -> int:
        return self.start - self.head

    @property
    def record_end(self) -> int:
        return self.start + self.length + len(RECORD_END)


def record_header(sha256: str, length: int, media_type: str | None, when: datetime) -> bytes:
    """The WARC 1.1 header of one ``resource`` record holding a blob (ends with the blank line)."""
    lines = [
        "WARC/1.1",
        "WARC-Type: resource",
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid4()}>",
        f"WARC-Date: {when.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"{_TARGET}{sha256}",
        f"WARC-Block-Digest: sha256:{sha256}",
        f"WARC-Payload-Digest: sha256:{sha256}",
    ]
    if media_type and media_type.isprintable() and "\n" not in media_type:
        lines.append(f"Content-Type: {media_type}")
    lines.append(f"{_LENGTH}{length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def build_pack(blobs: list[tuple[str, bytes, str | None]],
               when: datetime) -> tuple[bytes, list[Record]]:
    """The bytes of a pack holding ``(sha256, data, media_type)`` blobs, and each one's place."""
    parts: list[bytes] = []
    records: list[Record] = []
    offset = 0
    for sha256, data, media_type in blobs:
        head = record_header(sha256, len(data), media_type, when)
        records.append(Record(sha256, len(head), offset + len(head), len(data)))
        parts += (head, data, RECORD_END)
        offset += len(head) + len(data) + len(RECORD_END)
    return b"".join(parts), records


def copy_records(data: bytes | memoryview, keep: list[Record]) -> tuple[bytes, list[Record]]:
    """A pack holding exactly the ``keep`` records of the pack ``data``, byte for byte (record
    ids, dates and digests unchanged); returns it and the records' new places."""
    parts: list[bytes] = []
    moved: list[Record] = []
    offset = 0
    for rec in sorted(keep, key=lambda r: r.start):
        chunk = bytes(data[rec.record_start:rec.record_end])
        if len(chunk) != rec.record_end - rec.record_start or not chunk.endswith(RECORD_END):
            raise StoreError(f"pack record of blob {rec.sha256} is cut short; not rewritten")
        parts.append(chunk)
        moved.append(Record(rec.sha256, rec.head, offset + rec.head, rec.length))
        offset += len(chunk)
    return b"".join(parts), moved


def scan_pack(data: bytes | memoryview, name: str) -> Iterator[Record]:
    """Every record of a pack written by :func:`build_pack`, in order, from its headers alone.

    Used to index a pack whose index entries were never committed (its writer was killed) and to
    migrate; raises :class:`StoreError` on anything that is not such a record, so a damaged pack
    is never indexed with guessed offsets."""
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        window = bytes(view[offset:offset + MAX_HEADER])
        end = window.find(b"\r\n\r\n")
        if not window.startswith(b"WARC/1.1\r\n") or end < 0:
            raise StoreError(f"pack {name}: no WARC record header at offset {offset}")
        sha256: str | None = None
        length: int | None = None
        for line in window[:end].decode("ascii", "replace").split("\r\n"):
            if line.startswith(_TARGET):
                sha256 = line[len(_TARGET):]
            elif line.startswith(_LENGTH) and line[len(_LENGTH):].isdigit():
                length = int(line[len(_LENGTH):])
        head = end + 4
        start = offset + head
        if not is_hash(sha256) or length is None or start + length + 4 > len(view) or \
                bytes(view[start + length:start + length + 4]) != RECORD_END:
            raise StoreError(f"pack {name}: damaged WARC record at offset {offset}")
        yield Record(sha256, head, start, length)
        offset = start + length + 4
