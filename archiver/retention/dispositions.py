"""Approved purges after the fact: each disposition, how far it has got (read from its own item
list, so it is right whichever process runs it and after any restart), and its certificate of
destruction as stored in the blob store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver.errors import NotFound
from archiver.store.archive import Archive
from archiver.store.models import DisposedBlob, Disposition, DispositionItem


class CertificateFormat(StrEnum):
    JSON = "json"  # the signed-off record: every destroyed item, hashed
    PDF = "pdf"  # the same for a signature, the items listed up to a limit


_MEDIA_TYPES = {CertificateFormat.JSON: "application/json",
                CertificateFormat.PDF: "application/pdf"}


@dataclass(frozen=True)
class DispositionView:
    disposition_id: int
    as_of: date
    approved_by: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | completed
    planned: int  # items on the frozen list
    destroyed: int
    skipped: int  # held or requested since the list was made
    pending: int
    files_pending: int  # blobs not yet deleted from the store
    certificate_sha256: str | None
    certificate_pdf_sha256: str | None

    @property
    def stage(self) -> str:
        """Where the purge is, in words."""
        if self.status == "completed":
            return "completed"
        if self.pending:
            return "destroying items"
        if self.files_pending:
            return "deleting files"
        return "writing the certificate"

    @property
    def percent(self) -> int:
        if self.status == "completed" or not self.planned:
            return 100 if self.status == "completed" else 0
        return min(99, (self.planned - self.pending) * 100 // self.planned)

    def as_json(self) -> dict[str, Any]:
        return {"disposition_id": self.disposition_id, "as_of": self.as_of.isoformat(),
                "approved_by": self.approved_by, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "status": self.status, "stage": self.stage, "percent": self.percent,
                "planned": self.planned, "destroyed": self.destroyed, "skipped": self.skipped,
                "pending": self.pending, "files_pending": self.files_pending,
                "certificate_sha256": self.certificate_sha256,
                "certificate_pdf_sha256": self.certificate_pdf_sha256}


def _view(s: Session, d: Disposition) -> DispositionView:
    states = dict(s.execute(select(DispositionItem.state, func.count())
                            .where(DispositionItem.disposition_id == d.id)
                            .group_by(DispositionItem.state)).all())
    files = s.scalar(select(func.count()).select_from(DisposedBlob).where(
        DisposedBlob.disposition_id == d.id, DisposedBlob.status == "pending")) or 0
    return DispositionView(
        disposition_id=d.id, as_of=d.as_of, approved_by=d.approved_by, started_at=d.started_at,
        finished_at=d.finished_at, status=d.status, planned=d.item_count,
        destroyed=states.get("destroyed", 0), skipped=states.get("skipped", 0),
        pending=states.get("pending", 0), files_pending=files,
        certificate_sha256=d.certificate_sha256, certificate_pdf_sha256=d.certificate_pdf_sha256)


def list_dispositions(archive: Archive, *, limit: int = 50) -> list[DispositionView]:
    """The newest ``limit`` dispositions, newest first."""
    with archive.sessions() as s:
        return [_view(s, d) for d in s.scalars(select(Disposition)
                                               .order_by(Disposition.id.desc()).limit(limit))]


def disposition_view(archive: Archive, disposition_id: int) -> DispositionView:
    with archive.sessions() as s:
        d = s.get(Disposition, disposition_id)
        if d is None:
            raise NotFound(f"no disposition with id {disposition_id}")
        return _view(s, d)


def running_disposition(archive: Archive) -> DispositionView | None:
    """The purge still running or cut short (a new approval resumes it), if any."""
    with archive.sessions() as s:
        d = s.scalar(select(Disposition).where(Disposition.status == "running")
                     .order_by(Disposition.id).limit(1))
        return _view(s, d) if d is not None else None


@dataclass(frozen=True)
class CertificateFile:
    data: bytes
    file_name: str  # made of the disposition's id only
    media_type: str
    sha256: str


def certificate_file(archive: Archive, disposition_id: int,
                     form: CertificateFormat) -> CertificateFile:
    """A completed disposition's certificate from the blob store (the copy the purge stored,
    whatever became of the files it wrote)."""
    with archive.sessions() as s:
        d = s.get(Disposition, disposition_id)
        sha = None if d is None else (d.certificate_sha256 if form is CertificateFormat.JSON
                                      else d.certificate_pdf_sha256)
    if sha is None:
        raise NotFound(f"disposition {disposition_id} has no {form.value} certificate")
    return CertificateFile(data=archive.store.get(sha),
                           file_name=f"disposition-{disposition_id}-certificate.{form.value}",
                           media_type=_MEDIA_TYPES[form], sha256=sha)
