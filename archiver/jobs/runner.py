"""The runner: claims waiting jobs one at a time and runs them in a worker thread.

A running job's lease is renewed by a heartbeat thread; when the process dies the renewals stop.
Every runner, when it starts and whenever it looks for work, marks as interrupted the running
jobs whose lease ran out, or whose runner was a process of this host that no longer exists (a
restarted web process finds its own jobs at once), and runs them again.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta

from archiver.errors import ArchiverError
from archiver.jobs.queue import (
    LEASE,
    MAX_ATTEMPTS,
    JobView,
    claim_next,
    fail_job,
    finish_job,
    recover_interrupted,
    renew_lease,
    report_progress,
)
from archiver.jobs.work import Checkpoint, JobLost, Progress, run_job
from archiver.store.archive import Archive

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerId:
    """Which process (``host``, ``pid``) and which runner in it (``nonce``) claimed a job."""

    host: str
    pid: int
    nonce: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.nonce}"

    @classmethod
    def of_this_process(cls) -> RunnerId:
        return cls(socket.gethostname()[:200], os.getpid(), secrets.token_hex(4))

    @classmethod
    def parse(cls, text: str | None) -> RunnerId | None:
        host, _, rest = (text or "").rpartition(":")
        host, _, pid = host.rpartition(":")
        return cls(host, int(pid), rest) if host and pid.isdigit() else None


def runner_alive(text: str | None) -> bool:
    """False only when the runner is certainly gone: a process of this host that no longer
    exists. Any other runner is judged by its lease."""
    runner = RunnerId.parse(text)
    if runner is None or runner.host != socket.gethostname()[:200]:
        return True
    try:
        os.kill(runner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def one_line(exc: BaseException) -> str:
    """An error as the job page shows it: our own errors as they are, others named."""
    text = str(exc) if isinstance(exc, ArchiverError) else f"{type(exc).__name__}: {exc}"
    return (text.strip().splitlines() or [type(exc).__name__])[0]


class JobRunner:
    """Runs waiting jobs of ``archive`` one after another: in a worker thread (:meth:`start`)
    or until none waits (:meth:`run_pending`). ``poll`` is how often (seconds) the thread looks
    for work nobody woke it for; ``checkpoint`` is handed to each job's progress (tests)."""

    def __init__(self, archive: Archive, *, poll: float = 2.0, lease: timedelta = LEASE,
                 max_attempts: int = MAX_ATTEMPTS, checkpoint: Checkpoint | None = None) -> None:
        self.archive = archive
        self.id = RunnerId.of_this_process()
        self._poll = poll
        self._lease = lease
        self._max_attempts = max_attempts
        self._checkpoint = checkpoint
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> JobRunner:
        """Run jobs in a daemon thread until :meth:`stop` (or the process ends: a job it was
        running is then run again by the next runner)."""
        self._thread = threading.Thread(target=self._loop, name="archiver-jobs", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """A job was submitted: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop after the job running now (waiting at most ``timeout`` seconds for it)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:  # the database went away for a moment: try again later
                log.exception("jobs: looking for work failed")
            self._wake.wait(self._poll)
            self._wake.clear()

    def run_pending(self) -> int:
        """Recover interrupted jobs, then run waiting jobs until none is left (or stopped);
        returns how many were run."""
        recover_interrupted(self.archive, alive=runner_alive, max_attempts=self._max_attempts)
        count = 0
        while not self._stop.is_set():
            job = claim_next(self.archive, str(self.id), lease=self._lease)
            if job is None:
                break
            self.run(job)
            count += 1
        return count

    def run(self, job: JobView) -> None:
        """Run one claimed job to its end (done or failed), renewing its lease meanwhile."""
        me = str(self.id)
        log.info("jobs: %s %s %s (attempt %d)", job.job_id, job.kind, job.subject, job.attempts)
        progress = Progress(
            lambda phase, done, total: self._report(job.job_id, phase, done, total),
            self._checkpoint)
        beating = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(job.job_id, beating, progress),
                                 name=f"archiver-job-{job.job_id}-lease", daemon=True)
        heart.start()
        try:
            outcome = run_job(self.archive, job, progress)
        except Exception as exc:
            if not isinstance(exc, ArchiverError):
                log.exception("jobs: %s failed", job.job_id)
            fail_job(self.archive, job.job_id, me, one_line(exc))
            return
        finally:
            beating.set()
            heart.join()
        finish_job(self.archive, job.job_id, me, result_path=outcome.path, result=outcome.result,
                   progress=(progress.phase_name, progress.done, progress.total))

    def _report(self, job_id: int, phase: str, done: int, total: int | None) -> None:
        if not report_progress(self.archive, job_id, str(self.id), phase=phase, done=done,
                               total=total, lease=self._lease):
            raise JobLost("another runner took this job over")

    def _heartbeat(self, job_id: int, stop: threading.Event, progress: Progress) -> None:
        interval = max(1.0, self._lease.total_seconds() / 4)
        while not stop.wait(interval):
            try:
                if not renew_lease(self.archive, job_id, str(self.id), lease=self._lease):
                    progress.lost = True
                    return
            except Exception:  # a missed renewal is not fatal; the lease has slack
                log.exception("jobs: renewing the lease of job %s failed", job_id)
