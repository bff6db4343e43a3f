"""Running one job through the library, so that running it again after an interruption
finishes it.

The exports write to a temporary file beside their result and publish it in the transaction
that records the export, so a run cut short leaves no result: it starts over. A result that was
published and recorded before the process died is found by its recorded hash and kept; one that
was published by a transaction that never committed is removed first. A purge resumes its own
disposition (:mod:`archiver.retention.purge`). Each job writes under ``ARCHIVER_HOME/jobs/<id>/``
with names made of the job's id only.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from archiver.errors import ArchiverError
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.package import ExportResult, ProgressCallback
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.redaction import Redactor, load_rules, parse_item_redactions
from archiver.exports.requests import package_scope
from archiver.exports.selection import Scope, resolve_item_ids, thread_roots
from archiver.exports.zipout import file_hashes
from archiver.jobs.queue import JobView
from archiver.jobs.specs import OpenRecordsJob, ProductionJob, PurgeJob
from archiver.retention.purge import purge
from archiver.store.archive import Archive
from archiver.store.models import Disposition, DispositionItem, Export

# Progress is written at most this often (seconds): a thread or a batch can take milliseconds.
REPORT_EVERY = 0.5
Reporter = Callable[[str, int, int | None], None]
Checkpoint = Callable[[str, int], None]


class JobLost(ArchiverError):
    """Another runner took the job (this one was thought dead): stop working on it."""


class Progress:
    """A job's phase and count, written through ``report`` when the phase changes and at most
    every :data:`REPORT_EVERY` seconds otherwise. ``checkpoint(phase, done)`` is called at each
    step (tests stop a job there, the way purge's checkpoint does)."""

    def __init__(self, report: Reporter, checkpoint: Checkpoint | None = None) -> None:
        self._report = report
        self._checkpoint = checkpoint
        self.phase_name = ""
        self.done = 0
        self.total: int | None = None
        self.lost = False
        self._last = 0.0

    def phase(self, name: str, total: int | None = None, done: int = 0) -> None:
        """A new phase begins: reported now."""
        self.phase_name, self.total, self.done = name, total, done
        self._write()

    def advance(self, steps: int = 1) -> None:
        self.set(self.done + steps, self.total)

    def set(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        if time.monotonic() - self._last >= REPORT_EVERY:
            self._write()
        elif self._checkpoint is not None:
            self._checkpoint(self.phase_name, self.done)

    def _write(self) -> None:
        if self.lost:
            raise JobLost("another runner took this job over")
        self._last = time.monotonic()
        self._report(self.phase_name, self.done, self.total)
        if self._checkpoint is not None:
            self._checkpoint(self.phase_name, self.done)


@dataclass(frozen=True)
class Outcome:
    """What a finished job leaves: its file (or none) and what the library reported."""

    path: Path | None
    result: dict[str, Any]


def job_folder(archive: Archive, job_id: int) -> Path:
    """Where job ``job_id`` writes: ``ARCHIVER_HOME/jobs/<id>``."""
    return archive.settings.home / "jobs" / str(int(job_id))


def run_job(archive: Archive, job: JobView, progress: Progress) -> Outcome:
    """Do the job's work (again, after an interruption) and say what it left."""
    spec = job.spec
    if isinstance(spec, OpenRecordsJob):
        return _open_records(archive, job, spec, progress)
    if isinstance(spec, ProductionJob):
        return _production(archive, job, spec, progress)
    return _purge(archive, spec, progress)


def _open_records(archive: Archive, job: JobView, spec: OpenRecordsJob,
                  progress: Progress) -> Outcome:
    def write(scope: Scope, out: Path, step: ProgressCallback) -> ExportResult:
        redactor = Redactor(rules=load_rules() if spec.redact else (),
                            items=parse_item_redactions(spec.redact_items))
        options = OpenRecordsOptions(request_id=spec.request_id, out=out,
                                     actor=job.requested_by, redactor=redactor, pdf=spec.pdf,
                                     organization=archive.settings.agency_name)
        return export_open_records(archive, scope, options, progress=step)

    return _export(archive, job, "open_records", ("finding the threads", "writing threads"),
                   lambda: package_scope(archive, spec.request_id, spec.within), write,
                   progress)


def _production(archive: Archive, job: JobView, spec: ProductionJob,
                progress: Progress) -> Outcome:
    def write(scope: Scope, out: Path, step: ProgressCallback) -> ExportResult:
        options = ProductionOptions(bates_prefix=spec.bates_prefix, out=out,
                                    actor=job.requested_by)
        return export_production(archive, scope, options, progress=step)

    return _export(archive, job, "production", ("finding the families", "writing families"),
                   lambda: Scope(hold=spec.hold, within=spec.within), write, progress)


def _export(archive: Archive, job: JobView, kind: str, phases: tuple[str, str],
            scope_of: Callable[[], Scope],
            write: Callable[[Scope, Path, ProgressCallback], ExportResult],
            progress: Progress) -> Outcome:
    """An export into the job's folder (``<kind>-<job id>.zip``), or the one an earlier run
    published and recorded; progress counts threads (families) written."""
    out = _prepare(archive, job.job_id, f"{kind.replace('_', '-')}-{job.job_id}.zip")
    kept = _published(archive, out, kind)
    if kept is not None:
        return kept
    progress.phase(phases[0])
    scope = scope_of()
    progress.phase(phases[1], _thread_count(archive, scope))
    result = write(scope, out, lambda _n: progress.advance())
    return Outcome(out, _result_json(result))


def _purge(archive: Archive, spec: PurgeJob, progress: Progress) -> Outcome:
    progress.phase("destroying")

    def step(name: str, _count: int) -> None:
        # "checked" comes inside a batch's transaction, with its locks held: nothing is
        # written then (on SQLite the write would wait for the batch, which waits for it).
        if name == "batch":
            progress.set(*_purge_counts(archive))
        elif name == "blobs":
            if progress.phase_name != "deleting blobs":
                progress.phase("deleting blobs")
            progress.advance(_count)

    result = purge(archive, spec.as_of, approved_by=spec.approved_by, checkpoint=step)
    path = Path(result.certificate_path) if result.certificate_path else None
    return Outcome(path, result.as_json())


def _purge_counts(archive: Archive) -> tuple[int, int | None]:
    """Items of the running disposition destroyed or skipped so far, and planned."""
    with archive.sessions() as s:
        running = s.scalar(select(Disposition).where(Disposition.status == "running")
                           .order_by(Disposition.id))
        if running is None:
            return 0, None
        settled = s.scalar(select(func.count()).select_from(DispositionItem).where(
            DispositionItem.disposition_id == running.id,
            DispositionItem.state != "pending")) or 0
        return settled, running.item_count


def _thread_count(archive: Archive, scope: Scope) -> int:
    return len(thread_roots(archive, resolve_item_ids(archive, scope)))


def _prepare(archive: Archive, job_id: int, name: str) -> Path:
    """The job's folder, emptied of what a run cut short left (temporary files and folders);
    returns the result's path in it."""
    folder = job_folder(archive, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.iterdir():
        if leftover.name.startswith("."):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
    return folder / name


def _published(archive: Archive, out: Path, kind: str) -> Outcome | None:
    """The outcome of an earlier run that published ``out`` and recorded it; a file at ``out``
    no export row vouches for (its transaction never committed) is removed."""
    if not out.exists():
        return None
    sha = file_hashes(out)["sha256"]
    with archive.sessions() as s:
        row = s.scalar(select(Export).where(Export.kind == kind, Export.file_name == out.name,
                                            Export.sha256 == sha).order_by(Export.id.desc()))
    if row is None:
        out.unlink()
        return None
    result: dict[str, Any] = {"export_id": row.id, "kind": kind, "sha256": row.sha256,
                              "size": row.size, "items": row.item_count,
                              "redactions": row.redactions, "resumed": True}
    if row.bates_prefix and row.bates_first is not None and row.bates_last is not None:
        from archiver.exports.production import bates, production_name

        result.update(bates_first=bates(row.bates_prefix, row.bates_first),
                      bates_last=bates(row.bates_prefix, row.bates_last),
                      production=production_name(row.bates_prefix, row.production_number or 0))
    return Outcome(out, result)


def _result_json(result: ExportResult) -> dict[str, Any]:
    data = result.as_json()
    data.pop("path", None)
    return data
