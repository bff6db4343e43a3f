"""WARC test helpers: a Graph stand-in that keeps every answer it sent, and readers of the WARC
files an archive stored."""

from __future__ import annotations

import gzip
import io
import threading
from typing import Any

from sqlalchemy import select

from archiver.standins.graph_server import GraphServer
from archiver.standins.loopback import Answer
from archiver.store.archive import Archive
from archiver.store.models import WarcFile
from archiver.store.warcs import ReadRecord, read_records


class RecordingGraphServer(GraphServer):
    """The Graph stand-in, keeping (request path and query, body) of every answer, in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[str, bytes]] = []
        self._sent_lock = threading.Lock()

    def answer(self, raw_path: str, headers: dict[str, str], method: str = "GET",
               body: bytes = b"") -> Answer:
        status, hdrs, sent = super().answer(raw_path, headers, method, body)
        with self._sent_lock:
            self.sent.append((raw_path, sent))
        return status, hdrs, sent


def stored_warcs(archive: Archive) -> list[WarcFile]:
    """Every WARC file row, oldest first."""
    with archive.sessions() as s:
        return list(s.scalars(select(WarcFile).order_by(WarcFile.id)))


def warc_bytes(archive: Archive, row: WarcFile) -> bytes:
    """A stored WARC file's bytes as kept (gzip members)."""
    assert row.sha256 is not None
    return archive.store.get(row.sha256)


def warc_records(data: bytes) -> list[ReadRecord]:
    """Every record of a WARC file's bytes."""
    return list(read_records(io.BytesIO(data)))


def inflated(data: bytes) -> bytes:
    """A WARC file's bytes with every gzip member inflated: what a grep of the records sees."""
    return gzip.decompress(data)
