"""The jobs table: submitting a job, claiming it, its progress, its end, and finding the jobs
whose runner died.

Every change after the claim names the runner that claimed the job and is made only while that
runner still holds it: a runner that lost its job (its lease ran out and another runner took
it) can no longer write anything to it. Claiming is one compare-and-set UPDATE, so two runners
(threads or processes, on SQLite or PostgreSQL) never run the same job at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from archiver.errors import NotFound
from archiver.jobs.kinds import JobKind, JobState
from archiver.jobs.specs import JobSpec, limit_of, spec_of
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.db import rows_changed
from archiver.store.limits import AccountLimit
from archiver.store.models import Job, UTCDateTime

# How long a runner's claim holds without a sign of life; it renews it far more often.
LEASE = timedelta(minutes=2)
# A job that stopped its runner this many times is not run again: something in it kills
# processes (memory, a crash) and would otherwise loop for ever.
MAX_ATTEMPTS = 3
WAITING = (JobState.QUEUED, JobState.INTERRUPTED)


@dataclass(frozen=True)
class JobView:
    """A job as pages, the API and the runner see it."""

    job_id: int
    kind: JobKind
    state: JobState
    subject: str | None
    params: dict[str, Any]
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    phase: str
    done: int
    total: int | None
    result_path: str | None
    result: dict[str, Any]
    error: str | None

    @property
    def spec(self) -> JobSpec:
        return spec_of(self.kind, self.params)

    @property
    def within(self) -> AccountLimit:
        """The account limit the job's items were chosen within."""
        return limit_of(self.params.get("within"))

    @property
    def percent(self) -> int | None:
        """How far along, 0-100, when the total is known."""
        if self.state is JobState.DONE:
            return 100
        if not self.total:
            return None
        return min(100, self.done * 100 // self.total)

    @property
    def has_file(self) -> bool:
        return (self.state is JobState.DONE and self.result_path is not None
                and Path(self.result_path).is_file())

    def as_json(self) -> dict[str, Any]:
        """The job for ``/api/`` (no server paths)."""
        return {
            "job_id": self.job_id, "kind": str(self.kind), "state": str(self.state),
            "subject": self.subject, "requested_by": self.requested_by,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "attempts": self.attempts, "phase": self.phase, "done": self.done,
            "total": self.total, "percent": self.percent, "error": self.error,
            "result": {k: v for k, v in self.result.items() if k != "path"},
            "has_file": self.has_file,
        }


def _view(row: Job) -> JobView:
    return JobView(
        job_id=row.id, kind=JobKind(row.kind), state=JobState(row.state), subject=row.subject,
        params=json.loads(row.params_json or "{}"), requested_by=row.requested_by,
        created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at,
        attempts=row.attempts, phase=row.phase, done=row.done, total=row.total,
        result_path=row.result_path, result=json.loads(row.result_json or "{}"),
        error=row.error)


def submit_job(archive: Archive, spec: JobSpec, *, requested_by: str) -> JobView:
    """Queue ``spec`` (checked first: what would fail at once is refused now) as the work of
    ``requested_by``; a runner picks it up."""
    spec.check(archive)
    now = archive.clock()
    with archive.transaction() as s:
        row = Job(kind=str(spec.kind), state=str(JobState.QUEUED), subject=spec.subject[:255],
                  params_json=json.dumps(spec.params(), sort_keys=True),
                  requested_by=requested_by, created_at=now, attempts=0, phase="", done=0)
        s.add(row)
        s.flush()
        record_event(s, action="job.submit", occurred_at=now, actor=requested_by,
                     target_type="job", target_id=row.id,
                     details={"kind": str(spec.kind), "subject": spec.subject,
                              "params": spec.params()})
        return _view(row)


def get_job(archive: Archive, job_id: int) -> JobView:
    """One job, or NotFound."""
    with archive.sessions() as s:
        row = s.get(Job, job_id)
        if row is None:
            raise NotFound(f"no job with id {job_id}")
        return _view(row)


def list_jobs(archive: Archive, *, kinds: Iterable[JobKind] | None = None,
              subject: str | None = None, limit: int = 50) -> list[JobView]:
    """The newest jobs first, of ``kinds`` (all kinds: None) and about ``subject``."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if kinds is not None:
        query = query.where(Job.kind.in_([str(k) for k in kinds]))
    if subject is not None:
        query = query.where(Job.subject == subject)
    with archive.sessions() as s:
        return [_view(row) for row in s.scalars(query)]


def _mine(job_id: int, runner: str) -> Any:
    return (Job.id == job_id) & (Job.runner == runner) & (Job.state == str(JobState.RUNNING))


def claim_next(archive: Archive, runner: str, *, lease: timedelta = LEASE) -> JobView | None:
    """Take the oldest waiting job for ``runner`` (None: nothing waits). A job another runner
    took first is skipped: the UPDATE changes it only while it still waits."""
    with archive.sessions() as s:
        candidates = list(s.scalars(select(Job.id).where(Job.state.in_([str(w) for w in WAITING]))
                                    .order_by(Job.id).limit(20)))
    for job_id in candidates:
        now = archive.clock()
        with archive.transaction() as s:
            taken = rows_changed(s, update(Job).where(
                Job.id == job_id, Job.state.in_([str(w) for w in WAITING])).values(
                state=str(JobState.RUNNING), runner=runner, lease_until=now + lease,
                started_at=func.coalesce(Job.started_at, literal(now, UTCDateTime())),
                attempts=Job.attempts + 1, error=None))
            if not taken:
                continue
            row = s.get(Job, job_id)
            assert row is not None
            s.refresh(row)
            record_event(s, action="job.start", occurred_at=now, actor="jobs",
                         target_type="job", target_id=job_id,
                         details={"kind": row.kind, "subject": row.subject, "runner": runner,
                                  "attempt": row.attempts})
            return _view(row)
    return None


def renew_lease(archive: Archive, job_id: int, runner: str, *,
                lease: timedelta = LEASE) -> bool:
    """Say the runner is still at work; False when the job is no longer its own."""
    with archive.transaction() as s:
        return rows_changed(s, update(Job).where(_mine(job_id, runner))
                            .values(lease_until=archive.clock() + lease)) == 1


def report_progress(archive: Archive, job_id: int, runner: str, *, phase: str, done: int,
                    total: int | None, lease: timedelta = LEASE) -> bool:
    """Record how far the job is (and renew the lease); False when it is no longer the
    runner's."""
    with archive.transaction() as s:
        return rows_changed(s, update(Job).where(_mine(job_id, runner)).values(
            phase=phase[:64], done=done, total=total,
            lease_until=archive.clock() + lease)) == 1


def finish_job(archive: Archive, job_id: int, runner: str, *, result_path: Path | None,
               result: dict[str, Any], progress: tuple[str, int, int | None] | None = None
               ) -> bool:
    """Mark the job done with its result file (under ARCHIVER_HOME), what it reported, and its
    last ``(phase, done, total)`` (progress is written only now and then while it runs)."""
    now = archive.clock()
    last = {} if progress is None else dict(zip(("phase", "done", "total"), progress,
                                                strict=True))
    with archive.transaction() as s:
        changed = rows_changed(s, update(Job).where(_mine(job_id, runner)).values(
            **last, state=str(JobState.DONE), finished_at=now, lease_until=None,
            result_path=str(result_path) if result_path else None,
            result_json=json.dumps(result, sort_keys=True, default=str)))
        if changed:
            record_event(s, action="job.done", occurred_at=now, actor="jobs",
                         target_type="job", target_id=job_id, details={"result": result})
        return changed == 1


def fail_job(archive: Archive, job_id: int, runner: str, error: str) -> bool:
    """Mark the job failed with a one-line reason."""
    now = archive.clock()
    line = (error.strip().splitlines() or ["failed"])[0][:500]
    with archive.transaction() as s:
        changed = rows_changed(s, update(Job).where(_mine(job_id, runner)).values(
            state=str(JobState.FAILED), finished_at=now, lease_until=None, error=line))
        if changed:
            record_event(s, action="job.failed", occurred_at=now, actor="jobs",
                         target_type="job", target_id=job_id, details={"error": line})
        return changed == 1


def recover_interrupted(archive: Archive, *, alive: Callable[[str | None], bool],
                        max_attempts: int = MAX_ATTEMPTS) -> list[int]:
    """Find running jobs whose runner died (its lease ran out, or ``alive`` says its process is
    gone) and mark them interrupted, to be run again; one that already stopped its runner
    ``max_attempts`` times fails instead. Returns the ids of the jobs to run again."""
    now = archive.clock()
    again: list[int] = []
    with archive.transaction() as s:
        rows = s.execute(select(Job.id, Job.runner, Job.lease_until, Job.attempts)
                         .where(Job.state == str(JobState.RUNNING)).order_by(Job.id)).all()
        for job_id, runner, lease_until, attempts in rows:
            if lease_until is not None and lease_until > now and alive(runner):
                continue
            if _interrupt(s, job_id, runner, attempts, max_attempts, now):
                again.append(job_id)
    return again


def _interrupt(s: Session, job_id: int, runner: str | None, attempts: int, max_attempts: int,
               now: datetime) -> bool:
    gave_up = attempts >= max_attempts
    reason = (f"stopped {attempts} times while running; not run again" if gave_up
              else "interrupted: the process running it stopped; it runs again")
    changed = rows_changed(s, update(Job).where(
        Job.id == job_id, Job.state == str(JobState.RUNNING),
        Job.runner.is_(None) if runner is None else Job.runner == runner).values(
        state=str(JobState.FAILED if gave_up else JobState.INTERRUPTED), lease_until=None,
        error=reason, finished_at=now if gave_up else None))
    if changed:
        record_event(s, action="job.interrupted", occurred_at=now, actor="jobs",
                     target_type="job", target_id=job_id,
                     details={"runner": runner, "attempts": attempts,
                              "run_again": not gave_up})
    return bool(changed) and not gave_up
