"""The desk's background jobs: the runner living in the web process, and submitting a job as
the signed-in user (pages and the API alike)."""

from __future__ import annotations

from flask import Flask, current_app

from archiver.jobs.queue import JobView, submit_job
from archiver.jobs.runner import JobRunner
from archiver.jobs.specs import JobSpec
from archiver.web.desk import archive, signed_in

_RUNNER = "archiver.jobs"


def attach_runner(app: Flask, runner: JobRunner) -> None:
    """Let ``app``'s pages wake ``runner`` when they submit a job."""
    app.extensions[_RUNNER] = runner


def stop_runner(app: Flask, timeout: float | None = 10.0) -> None:
    """Stop the runner attached to ``app`` (a job cut short runs again at the next start)."""
    runner: JobRunner | None = app.extensions.pop(_RUNNER, None)
    if runner is not None:
        runner.stop(timeout)


def submit(spec: JobSpec) -> JobView:
    """Queue ``spec`` as the signed-in user's work (audited as ``job.submit`` under their
    name) and wake this process's runner, if it has one."""
    job = submit_job(archive(), spec, requested_by=signed_in().name)
    runner: JobRunner | None = current_app.extensions.get(_RUNNER)
    if runner is not None:
        runner.wake()
    return job
