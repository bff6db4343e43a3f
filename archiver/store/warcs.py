"""WARC 1.1 files (ISO 28500:2017) with warcio: writing records, reading them back, digests.

A capture keeps every exchange with the platform as a WARC ``request`` and ``response`` record
(the response's payload byte for byte as received, credentials excepted), one gzip member per
record (WARC 1.1, Annex D), so a record can be read alone from its offset. Payload digests are
SHA-256 in base 32 (``sha256:...``), which ``warcio check`` verifies. See
https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/ .
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from archiver import __version__

WARC_VERSION = "1.1"
WARC_MEDIA_TYPE = "application/warc"
SOFTWARE = f"archiver/{__version__} (warcio)"


class Sha256WarcWriter(WARCWriter):
    """warcio's writer with SHA-256 digests instead of its default SHA-1."""

    def __init__(self, out: IO[bytes]) -> None:
        super().__init__(out, gzip=True, warc_version=WARC_VERSION)

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def payload_digest(data: bytes) -> str:
    """A payload's digest as a WARC header spells it: ``sha256:`` and base 32."""
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode("ascii")


def warc_date(when: datetime) -> str:
    """WARC-Date: UTC, microseconds (WARC 1.1 allows up to nine fraction digits)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_id(name: uuid.UUID | None = None) -> str:
    """A WARC-Record-ID: ``<urn:uuid:...>``."""
    return f"<urn:uuid:{name or uuid.uuid4()}>"


@dataclass(frozen=True)
class WrittenRecord:
    """Where a record went and what it says about itself."""

    record_id: str
    record_type: str
    target_uri: str
    captured_at: datetime
    offset: int
    length: int
    payload_digest: str | None


def http_headers(status_line: str, headers: tuple[tuple[str, str], ...],
                 protocol: str) -> StatusAndHeaders:
    """A response's HTTP head for a record. The payload is stored decoded (httpx hands over
    the body after transfer and content decoding), so those headers and the length are left
    out: they would describe other bytes."""
    return StatusAndHeaders(status_line, _kept(headers), protocol=protocol)


def request_headers(method: str, url: str, headers: tuple[tuple[str, str], ...],
                    protocol: str) -> StatusAndHeaders:
    """A request's HTTP head (``GET /path?query HTTP/1.1``) for a record."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return StatusAndHeaders(f"{method} {target} {protocol}", _kept(headers),
                            is_http_request=True)


def _kept(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers
            if k.lower() not in ("transfer-encoding", "content-encoding", "content-length")]


class WarcOut:
    """Appends records to an open binary file, one gzip member each, and says where they went."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.writer = Sha256WarcWriter(out)

    def write(self, record: ArcWarcRecord) -> WrittenRecord:
        """Write ``record`` and return its place."""
        start = self.out.tell()
        self.writer.write_record(record)
        headers = record.rec_headers
        when = datetime.strptime(headers.get_header("WARC-Date"), "%Y-%m-%dT%H:%M:%S.%fZ")
        return WrittenRecord(
            record_id=headers.get_header("WARC-Record-ID"), record_type=record.rec_type,
            target_uri=headers.get_header("WARC-Target-URI") or "",
            captured_at=when.replace(tzinfo=UTC), offset=start,
            length=self.out.tell() - start,
            payload_digest=headers.get_header("WARC-Payload-Digest"))

    def record(self, uri: str, record_type: str, payload: bytes, *, when: datetime,
               http: StatusAndHeaders | None = None, name: str | None = None,
               extra: dict[str, str] | None = None,
               content_type: str | None = None) -> ArcWarcRecord:
        """A record ready to write (``name``: its WARC-Record-ID, made up when None)."""
        fields = {"WARC-Record-ID": name or record_id(), "WARC-Date": warc_date(when),
                  **(extra or {})}
        if content_type:
            fields["Content-Type"] = content_type
        return self.writer.create_warc_record(
            uri, record_type, payload=io.BytesIO(payload), length=len(payload),
            http_headers=http, warc_headers_dict=fields)

    def warcinfo(self, filename: str, info: dict[str, str], when: datetime) -> WrittenRecord:
        """The file's ``warcinfo`` record: the software, the format, what the file holds."""
        body = "".join(f"{k}: {v}\r\n" for k, v in info.items() if v).encode("utf-8")
        rec = self.record("", "warcinfo", body, when=when,
                          extra={"WARC-Filename": filename},
                          content_type="application/warc-fields")
        return self.write(rec)


@dataclass(frozen=True)
class ReadRecord:
    """A record read back: its headers, its HTTP head (if any) and payload, and its place."""

    offset: int
    length: int
    record_type: str
    headers: list[tuple[str, str]]
    http: StatusAndHeaders | None
    payload: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


def read_records(stream: BinaryIO) -> Iterator[ReadRecord]:
    """Every record of a WARC file, in order, with its offset and compressed length."""
    iterator = ArchiveIterator(stream, no_record_parse=False, check_digests=False)
    for rec in iterator:
        payload = rec.content_stream().read()
        offset = iterator.get_record_offset()
        yield _read(rec, payload, offset, iterator)


def _read(rec: Any, payload: bytes, offset: int, iterator: ArchiveIterator) -> ReadRecord:
    iterator.read_to_end(rec)
    return ReadRecord(offset=offset, length=iterator.get_record_length(),
                      record_type=rec.rec_type, headers=list(rec.rec_headers.headers),
                      http=rec.http_headers, payload=payload)


def read_record_at(data: bytes, offset: int) -> ReadRecord:
    """The one record starting at ``offset`` of a WARC file's bytes."""
    stream = io.BytesIO(data)
    stream.seek(offset)
    return next(read_records(stream))
