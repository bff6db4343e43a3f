"""The capture's WARC file: every exchange of a run with the platform, kept as it came.

:class:`WarcRecorder` is the recorder the connector's request loop and the media downloads are
given (:mod:`archiver.connectors.exchanges`). Each exchange becomes a ``response`` record (the
body as received, the account's credentials excepted) and a ``request`` record
(``WARC-Concurrent-To`` the response); an exchange the connector took credentials out of also
gets a ``metadata`` record saying how many. Records go to a spool file under
``ARCHIVER_HOME/warc-spool`` as they arrive; :meth:`WarcRecorder.flush` syncs it and records the
records written so far, in the caller's transaction, so a version committed with a link to its
record never names one that is not on disk. When the run ends the file is stored as one blob.

A run killed before that leaves its spool file: the next run of the account stores what the
database recorded of it (:func:`recover_spools`), the file cut after the last recorded record.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from archiver.connectors.exchanges import Exchange
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.db import insert_ignore, table_of
from archiver.store.models import Account, Blob, WarcFile, WarcRecord
from archiver.store.vocabulary import WarcStatus
from archiver.store.warcs import (
    SOFTWARE,
    WARC_MEDIA_TYPE,
    WarcOut,
    WrittenRecord,
    http_headers,
    record_id,
    request_headers,
)

SPOOL = "warc-spool"


def spool_path(archive: Archive, warc_file_id: int) -> Path:
    """Where run ``warc_file_id``'s WARC file is written before it is stored."""
    return archive.settings.home / SPOOL / f"warc-{warc_file_id}.warc.gz"


class WarcRecorder:
    """Writes one account's run to a WARC file. Give it to the connector (``recorder=``), to
    :class:`~archiver.capture.run.Capture` and to the media downloads; use it as a context
    manager around the run, so the file is stored however the run ends."""

    def __init__(self, archive: Archive, account: Account) -> None:
        self.archive = archive
        self.account_id = account.id
        self.account_label = f"{account.platform}:{account.handle} (account {account.id})"
        self.file_id: int | None = None
        self._fh: BinaryIO | None = None
        self._out: WarcOut | None = None
        self._pending: list[WrittenRecord] = []
        self._rows: dict[str, int] = {}  # WARC-Record-ID -> warc_records.id
        self._lock = threading.Lock()  # the reader thread writes, the capture thread flushes

    # -- the run --------------------------------------------------------------------------
    def begin(self, run_id: int) -> None:
        """Open the run's WARC file (its ``warcinfo`` record first)."""
        now = self.archive.clock()
        with self.archive.transaction() as s:
            row = WarcFile(account_id=self.account_id, capture_run_id=run_id,
                           status=WarcStatus.WRITING, created_at=now)
            s.add(row)
            s.flush()
            self.file_id = row.id
        path = spool_path(self.archive, row.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("wb")
        self._out = WarcOut(self._fh)
        info = {"software": SOFTWARE, "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
                              "warc-format/warc-1.1/",
                "isPartOf": self.account_label, "description": f"capture run {run_id}"}
        with self._lock:
            self._pending.append(self._out.warcinfo(path.name, info, now))

    def __call__(self, exchange: Exchange) -> str | None:
        """Keep one exchange; its name is the response record's WARC-Record-ID."""
        out = self._out
        if out is None:
            return None
        when = self.archive.clock()
        protocol = exchange.http_version
        response = out.record(
            exchange.url, "response", exchange.body, when=when,
            http=http_headers(f"{exchange.status} {exchange.reason}".strip(),
                              exchange.response_headers, protocol))
        answer = response.rec_headers.get_header("WARC-Record-ID")
        request = out.record(
            exchange.url, "request", b"", when=when,
            http=request_headers(exchange.method, exchange.url, exchange.request_headers,
                                 protocol),
            extra={"WARC-Concurrent-To": answer})
        with self._lock:
            self._pending.append(out.write(response))
            self._pending.append(out.write(request))
            if exchange.redacted:
                note = (f"redacted: {exchange.redacted} credential(s) taken out of the request "
                        "and response (headers dropped, values replaced by ***)\r\n")
                self._pending.append(out.write(out.record(
                    exchange.url, "metadata", note.encode("utf-8"), when=when,
                    extra={"WARC-Concurrent-To": answer},
                    content_type="application/warc-fields")))
        return str(answer)

    def flush(self, s: Session) -> None:
        """Make the records written so far durable and record them in ``s``'s transaction."""
        if self._fh is None or self.file_id is None:
            return
        with self._lock:
            pending, self._pending = self._pending, []
            self._fh.flush()
            os.fsync(self._fh.fileno())
        if not pending:
            return
        s.execute(insert(table_of(WarcRecord)), [
            {"warc_file_id": self.file_id, "record_id": r.record_id,
             "record_type": r.record_type, "target_uri": r.target_uri,
             "captured_at": r.captured_at, "file_offset": r.offset, "length": r.length,
             "payload_digest": r.payload_digest} for r in pending])
        names = [r.record_id for r in pending if r.record_type == "response"]
        for chunk in range(0, len(names), 1000):
            part = names[chunk:chunk + 1000]
            for name, row_id in s.execute(select(WarcRecord.record_id, WarcRecord.id).where(
                    WarcRecord.warc_file_id == self.file_id, WarcRecord.record_id.in_(part))):
                self._rows[name] = row_id

    def row_of(self, name: str | None) -> int | None:
        """The ``warc_records`` row of a response record this recorder named (after a flush)."""
        return self._rows.get(name) if name else None

    def finish(self) -> None:
        """Record what is left, then store the file as a blob and forget the spool file."""
        if self._fh is None or self.file_id is None:
            return
        with self.archive.transaction() as s:
            self.flush(s)
        self._fh.close()
        self._fh, self._out = None, None
        _store_spool(self.archive, self.file_id, spool_path(self.archive, self.file_id))

    def __enter__(self) -> WarcRecorder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.finish()


def _store_spool(archive: Archive, file_id: int, path: Path) -> None:
    now = archive.clock()
    sha, size = archive.store.put_file(path, media_type=WARC_MEDIA_TYPE)
    with archive.transaction() as s:
        insert_ignore(s, Blob, [{"sha256": sha, "size": size, "media_type": WARC_MEDIA_TYPE,
                                 "created_at": now}])
        row = s.get(WarcFile, file_id, with_for_update=True)
        assert row is not None
        row.status, row.sha256, row.size, row.stored_at = WarcStatus.STORED, sha, size, now
    path.unlink(missing_ok=True)


def recover_spools(archive: Archive, account_id: int) -> int:
    """Store the WARC files of the account's runs that died before storing them: each cut after
    its last recorded record (what follows was never linked to anything). Returns how many."""
    with archive.sessions() as s:
        stale = list(s.scalars(select(WarcFile.id).where(
            WarcFile.account_id == account_id, WarcFile.status == WarcStatus.WRITING)))
    for file_id in stale:
        path = spool_path(archive, file_id)
        with archive.sessions() as s:
            ends = [o + n for o, n in s.execute(
                select(WarcRecord.file_offset, WarcRecord.length)
                .where(WarcRecord.warc_file_id == file_id)) if o is not None and n]
        if not path.exists() or not ends:
            _lost(archive, file_id, now=archive.clock())
            continue
        with path.open("r+b") as fh:
            fh.truncate(max(ends))
        _store_spool(archive, file_id, path)
    return len(stale)


def _lost(archive: Archive, file_id: int, *, now: datetime) -> None:
    with archive.transaction() as s:
        row = s.get(WarcFile, file_id, with_for_update=True)
        assert row is not None
        row.status = WarcStatus.LOST
        record_event(s, action="capture.warc_lost", occurred_at=now, target_type="warc_file",
                     target_id=file_id, details={"account_id": row.account_id,
                                                 "capture_run_id": row.capture_run_id})


__all__ = ["WarcRecorder", "record_id", "recover_spools", "spool_path"]
