"""Pack files of format 1, read and converted only: one WARC 1.1 ``resource`` record per blob.

A format 1 pack (``.warc``) is an uncompressed WARC file (ISO 28500, WARC 1.1:
https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/). Each blob is
one ``resource`` record whose block is exactly the blob's bytes, named by
``WARC-Target-URI: urn:sha256:<hex>``. New packs are written in format 2
(:mod:`archiver.blobs.pack_format`); ``archiver init`` converts these, and until then they are
read through :func:`scan_pack`. :func:`build_pack` is the former writer, kept so that tests
can make a store as an older release left it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from archiver.blobs.interface import is_hash
from archiver.errors import StoreError

PACK_SUFFIX = ".warc"
MAGIC = b"WARC/1.1\r\n"
RECORD_END = b"\r\n\r\n"
_TARGET = "WARC-Target-URI: urn:sha256:"
_LENGTH = "Content-Length: "
_TYPE = "Content-Type: "
MAX_HEADER = 4096  # a record header of ours is under 400 bytes; more means it is not a record

#: One record as scanned: (sha256, header length, payload offset, payload length, media type).
Scanned = tuple[str, int, int, int, str | None]


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
        lines.append(f"{_TYPE}{media_type}")
    lines.append(f"{_LENGTH}{length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def build_pack(blobs: list[tuple[str, bytes, str | None]], when: datetime) -> bytes:
    """The bytes of a format 1 pack holding ``(sha256, data, media_type)`` blobs."""
    return b"".join(part for sha256, data, media_type in blobs
                    for part in (record_header(sha256, len(data), media_type, when), data,
                                 RECORD_END))


def scan_pack(data: bytes | memoryview, name: str) -> Iterator[Scanned]:
    """Every record of a format 1 pack, in order, from its headers alone; raises
    :class:`StoreError` on anything that is not such a record."""
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        window = bytes(view[offset:offset + MAX_HEADER])
        end = window.find(b"\r\n\r\n")
        if not window.startswith(MAGIC) or end < 0:
            raise StoreError(f"pack {name}: no WARC record header at offset {offset}")
        sha256: str | None = None
        length: int | None = None
        media_type: str | None = None
        for line in window[:end].decode("ascii", "replace").split("\r\n"):
            if line.startswith(_TARGET):
                sha256 = line[len(_TARGET):]
            elif line.startswith(_LENGTH) and line[len(_LENGTH):].isdigit():
                length = int(line[len(_LENGTH):])
            elif line.startswith(_TYPE):
                media_type = line[len(_TYPE):]
        head = end + 4
        start = offset + head
        if not is_hash(sha256) or length is None or start + length + 4 > len(view) or \
                bytes(view[start + length:start + length + 4]) != RECORD_END:
            raise StoreError(f"pack {name}: damaged WARC record at offset {offset}")
        yield sha256, head, start, length, media_type
        offset = start + length + 4
