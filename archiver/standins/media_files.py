"""Media files for the sample servers: small, valid, deterministic files made from their name.

The bundled sample data names its attachments by path (``/media/parade_route.png``); the server
that serves the page serves these too, so a demo or test downloads real files over loopback.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

SIZE = 16


def _png(seed: bytes) -> bytes:
    """A 16x16 PNG in one colour taken from ``seed``."""
    r, g, b = seed[0], seed[1], seed[2]
    row = b"\x00" + bytes((r, g, b)) * SIZE
    raw = row * SIZE

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def media_file(name: str) -> tuple[str, bytes] | None:
    """``(content type, bytes)`` for a sample media name, or None for an unknown kind."""
    seed = hashlib.sha256(name.encode()).digest()
    if name.endswith(".png"):
        return "image/png", _png(seed)
    if name.endswith(".mp4"):
        # Not a playable video: the archive stores and hashes bytes, it never plays them.
        return "video/mp4", b"\x00\x00\x00\x18ftypmp42" + seed * 64
    return None
