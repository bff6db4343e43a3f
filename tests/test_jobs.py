"""Background jobs: claimed once, run through the library, and finished after the process
running them dies (SQLite and PostgreSQL, the sample page captured from the loopback server)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from archiver.cli import cli
from archiver.errors import ArchiverError, NotFound
from archiver.exports.bagzip import validate_with_bagit
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.requests import add_request
from archiver.jobs.kinds import JobKind, JobState
from archiver.jobs.queue import LEASE, claim_next, get_job, list_jobs, submit_job
from archiver.jobs.runner import JobRunner, RunnerId, runner_alive
from archiver.jobs.specs import OpenRecordsJob, ProductionJob, PurgeJob
from archiver.jobs.work import job_folder
from archiver.retention.holds import HoldSpec, create_hold
from archiver.retention.scope import ProtectionScope
from archiver.store.archive import Archive
from archiver.store.limits import AccountLimit
from archiver.store.models import AuditEvent, Export, Job, Tombstone
from tests.support.retention import Captured, captured, set_today  # noqa: F401

REQUEST = "KORA-2024-31"
NOON = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)


class ProcessDied(BaseException):
    """What a killed process does to the job it was running: nothing more is written."""


def freeze(archive: Archive, moment: datetime) -> None:
    archive.clock = lambda: moment


def register(archive: Archive, query: str = "*") -> None:
    add_request(archive, REQUEST, received_on=date(2024, 6, 3), calendar=HolidayCalendar(),
                actor="clerk", requester="A. Reporter",
                scope=ProtectionScope(query=query) if query != "*" else
                ProtectionScope(everything=True))


def package_job(archive: Archive) -> int:
    return submit_job(archive, OpenRecordsJob(REQUEST, redact=True), requested_by="custodian-a"
                      ).job_id


def check_package(archive: Archive, job_id: int) -> Path:
    job = get_job(archive, job_id)
    assert job.state is JobState.DONE, job.error
    assert job.result_path is not None
    path = Path(job.result_path)
    assert path.parent == job_folder(archive, job_id)
    assert path.is_relative_to(archive.settings.home)
    validate_with_bagit(path, f"open-records-{REQUEST}")
    return path


def dead_pid() -> int:
    """The id of a process of this host that has ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_racing_runners_claim_each_job_once(archive: Archive) -> None:
    ids = {submit_job(archive, PurgeJob(date(2024, 1, day), "R. Manager"),
                      requested_by="rm").job_id for day in range(1, 9)}
    claimed: list[int] = []
    guard = threading.Lock()

    def claim(name: str) -> None:
        while (job := claim_next(archive, f"test:{name}")) is not None:
            with guard:
                claimed.append(job.job_id)

    threads = [threading.Thread(target=claim, args=(f"r{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)
    with archive.sessions() as s:
        assert set(s.scalars(select(Job.state))) == {"running"}
        assert set(s.scalars(select(Job.attempts))) == {1}


def test_a_package_job_runs_as_its_requester_with_progress(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    register(archive)
    job_id = package_job(archive)
    assert get_job(archive, job_id).state is JobState.QUEUED
    assert JobRunner(archive).run_pending() == 1
    check_package(archive, job_id)
    job = get_job(archive, job_id)
    assert job.total and job.done == job.total and job.phase == "writing threads"
    assert job.result["items"] > 0 and job.result["export_id"]
    with archive.sessions() as s:
        export = s.get(Export, job.result["export_id"])
        assert export is not None and export.actor == "custodian-a"
        actions = [(a, actor) for a, actor in s.execute(
            select(AuditEvent.action, AuditEvent.actor).where(
                AuditEvent.action.like("job.%") | (AuditEvent.action == "export.open_records"))
            .order_by(AuditEvent.id))]
    assert actions == [("job.submit", "custodian-a"), ("job.start", "jobs"),
                       ("export.open_records", "custodian-a"), ("job.done", "jobs")]
    assert list_jobs(archive, kinds=[JobKind.OPEN_RECORDS], subject=REQUEST)[0].job_id == job_id


def test_a_job_whose_runner_died_is_finished_by_the_next(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    freeze(archive, NOON)
    register(archive)
    job_id = package_job(archive)

    def die(phase: str, done: int) -> None:
        if phase == "writing threads" and done == 1:
            raise ProcessDied

    with pytest.raises(ProcessDied):
        JobRunner(archive, checkpoint=die).run_pending()
    stuck = get_job(archive, job_id)
    assert stuck.state is JobState.RUNNING and stuck.phase == "writing threads"
    assert not stuck.has_file and not stuck.result_path

    # Same process, lease still running: nobody may take the job yet.
    assert JobRunner(archive).run_pending() == 0
    assert get_job(archive, job_id).state is JobState.RUNNING

    freeze(archive, NOON + LEASE + timedelta(seconds=1))
    assert JobRunner(archive).run_pending() == 1
    check_package(archive, job_id)
    job = get_job(archive, job_id)
    assert job.attempts == 2 and job.error is None
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Export)) == 1
        interrupted = s.scalar(select(AuditEvent.details_json).where(
            AuditEvent.action == "job.interrupted"))
    assert interrupted is not None and json.loads(interrupted)["run_again"] is True


def test_a_job_of_a_process_that_is_gone_runs_again_at_once(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    register(archive)
    job_id = package_job(archive)
    gone = str(RunnerId(socket.gethostname(), dead_pid(), "0000"))
    assert not runner_alive(gone)
    assert runner_alive(str(RunnerId("another-host", 1, "0000")))
    assert claim_next(archive, gone) is not None
    assert JobRunner(archive).run_pending() == 1
    check_package(archive, job_id)


def test_a_result_recorded_before_the_process_died_is_kept(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    register(archive)
    job_id = package_job(archive)
    JobRunner(archive).run_pending()
    first = check_package(archive, job_id).read_bytes()
    # The process died after the export committed, before the job was marked done.
    gone = str(RunnerId(socket.gethostname(), dead_pid(), "0000"))
    with archive.transaction() as s:
        s.execute(update(Job).where(Job.id == job_id).values(state="running", runner=gone))
    JobRunner(archive).run_pending()
    job = get_job(archive, job_id)
    assert job.state is JobState.DONE and job.result["resumed"] is True
    assert check_package(archive, job_id).read_bytes() == first
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Export)) == 1


def test_a_job_that_keeps_killing_its_runner_stops_being_run(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    register(archive)
    job_id = package_job(archive)

    def die(_phase: str, _done: int) -> None:
        raise ProcessDied

    moment = NOON
    for _ in range(3):
        freeze(archive, moment)
        with pytest.raises(ProcessDied):
            JobRunner(archive, checkpoint=die).run_pending()
        moment += LEASE * 2
    freeze(archive, moment)
    assert JobRunner(archive).run_pending() == 0
    job = get_job(archive, job_id)
    assert job.state is JobState.FAILED and job.attempts == 3
    assert job.error == "stopped 3 times while running; not run again"


def test_a_failing_job_says_why_in_one_line(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    register(archive, query="nosuchwordanywhere")
    job_id = package_job(archive)
    JobRunner(archive).run_pending()
    job = get_job(archive, job_id)
    assert job.state is JobState.FAILED and not job.has_file
    assert job.error == ("nothing matched the request's scope: refusing to write an empty "
                         "package")
    assert not list(job_folder(archive, job_id).iterdir())


def test_submitting_refuses_what_would_fail(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    with pytest.raises(NotFound, match="no open-records request 'nope'"):
        submit_job(archive, OpenRecordsJob("nope"), requested_by="x")
    add_request(archive, "unscoped", received_on=date(2024, 6, 3), calendar=HolidayCalendar(),
                actor="clerk")
    with pytest.raises(ArchiverError, match="has no scope yet"):
        submit_job(archive, OpenRecordsJob("unscoped"), requested_by="x")
    register(archive)
    with pytest.raises(ArchiverError, match="is not ITEM_ID:reason"):
        submit_job(archive, OpenRecordsJob(REQUEST, redact_items=("12 reason",)),
                   requested_by="x")
    with pytest.raises(NotFound, match="no hold named"):
        submit_job(archive, ProductionJob("nohold", "KPD"), requested_by="x")
    with pytest.raises(ArchiverError, match="Bates prefix"):
        submit_job(archive, ProductionJob("nohold", "1KPD"), requested_by="x")
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_a_production_job_honours_the_account_limit(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    create_hold(archive, HoldSpec(name="matter-1", matter="Doe v. City", created_by="legal",
                                  everything=True))
    mine = submit_job(archive, ProductionJob("matter-1", "KPD"), requested_by="legal").job_id
    other = submit_job(archive, ProductionJob("matter-1", "KPD",
                                              within=AccountLimit.only([captured.account.id + 1])),
                       requested_by="unit").job_id
    JobRunner(archive).run_pending()
    produced = get_job(archive, mine)
    assert produced.state is JobState.DONE and produced.result["bates_first"] == "KPD-0000001"
    assert produced.total == produced.done
    refused = get_job(archive, other)
    assert refused.state is JobState.FAILED
    assert refused.error == "nothing matched: refusing to write an empty production"


def test_a_purge_job_destroys_and_reports_its_certificate(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    late = date(2030, 1, 1)
    set_today(archive, late)
    job_id = submit_job(archive, PurgeJob(late, "R. Manager"), requested_by="rm").job_id
    steps: list[tuple[str, int]] = []
    JobRunner(archive, checkpoint=lambda phase, done: steps.append((phase, done))).run_pending()
    job = get_job(archive, job_id)
    assert job.state is JobState.DONE, job.error
    with archive.sessions() as s:
        destroyed = s.scalar(select(func.count()).select_from(Tombstone))
    assert destroyed and job.result["destroyed"] == destroyed
    assert job.result_path and Path(job.result_path).is_file()
    assert Path(job.result_path).is_relative_to(archive.settings.home)
    assert ("destroying", destroyed) in steps and steps[-1][0] == "deleting blobs"


def test_cli_runs_and_lists_jobs(captured: Captured, settings_env: dict[str, str]) -> None:  # noqa: F811
    register(captured.archive)
    job_id = package_job(captured.archive)
    runner = CliRunner()
    ran = runner.invoke(cli, ["jobs", "run"], env=settings_env)
    assert ran.exit_code == 0, ran.output
    assert "ran 1 job(s)" in ran.output
    listed = runner.invoke(cli, ["jobs", "list", "--json"], env=settings_env)
    assert listed.exit_code == 0, listed.output
    (shown,) = json.loads(listed.output)
    assert shown["job_id"] == job_id and shown["state"] == "done" and shown["has_file"]
    assert "path" not in shown["result"]
