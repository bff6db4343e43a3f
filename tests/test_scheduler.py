"""The scheduler and the capture lock: triggers in the agency zone, persisted jobs, coalesced
catch-up, the lock across threads and processes, the sweep, and daily jobs that only report."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from archiver.capture.account import capture_account
from archiver.capture.lock import CaptureLocked, capture_lock, try_acquire
from archiver.daemon.scheduler import (
    DAILY,
    MONTHLY,
    NIGHTLY,
    NOTICES,
    POLICY,
    SWEEP,
    ScheduleConfig,
    build_scheduler,
    comment_sweep,
    nightly_capture,
    run_daily_jobs,
    show_jobs,
    start,
)
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Account, AuditEvent, Blob, CaptureRun, Item, ItemVersion
from tests.support.graph import SleepRecorder

TOKEN_ENV = "ARCHIVER_TOKEN_SCHED_TEST"
CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture
def server() -> Iterator[GraphServer]:
    with GraphServer(load_sample(), page_size=5) as srv:
        yield srv


@pytest.fixture
def account(archive: Archive, server: GraphServer) -> Account:
    return add_account(archive, AccountSpec(
        platform="facebook", external_id=server.dataset.page_id, handle="springfieldpd",
        api_base=server.base_url, token_env=TOKEN_ENV), actor="test")


def runs(archive: Archive, trigger: str) -> list[CaptureRun]:
    with archive.sessions() as s:
        return list(s.scalars(select(CaptureRun).where(CaptureRun.trigger == trigger)))


def test_jobs_have_the_right_triggers_in_the_agency_zone(archive: Archive) -> None:
    scheduler = build_scheduler(archive)
    start(scheduler, archive, ScheduleConfig(), paused=True)
    try:
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert set(jobs) == {NIGHTLY, SWEEP, DAILY, NOTICES, POLICY, MONTHLY}
        nightly = jobs[NIGHTLY]
        assert isinstance(nightly.trigger, CronTrigger)
        assert nightly.trigger.timezone == CHICAGO
        local = nightly.next_run_time.astimezone(CHICAGO)
        assert (local.hour, local.minute) == (2, 0)
        sweep = jobs[SWEEP]
        assert isinstance(sweep.trigger, IntervalTrigger)
        assert sweep.trigger.interval == timedelta(minutes=15)
        daily = jobs[DAILY].next_run_time.astimezone(CHICAGO)
        assert (daily.hour, daily.minute) == (6, 0)
        assert jobs[NOTICES].trigger.interval == timedelta(minutes=1)
        assert jobs[POLICY].next_run_time == jobs[DAILY].next_run_time
        monthly = jobs[MONTHLY].next_run_time.astimezone(CHICAGO)
        assert (monthly.day, monthly.hour, monthly.minute) == (1, 6, 0)
        assert all(j.coalesce and j.misfire_grace_time is None for j in jobs.values())
    finally:
        scheduler.shutdown(wait=False)
    # Persisted in the archive's database: `schedule show` in another run sees them.
    shown = {j.id: j for j in show_jobs(archive, ScheduleConfig())}
    assert shown[NIGHTLY].next_run is not None
    assert shown[NIGHTLY].next_run.astimezone(CHICAGO).hour == 2


def test_a_changed_cron_replaces_the_stored_job(archive: Archive) -> None:
    scheduler = build_scheduler(archive)
    start(scheduler, archive, ScheduleConfig(), paused=True)
    scheduler.shutdown(wait=False)
    scheduler = build_scheduler(archive)
    start(scheduler, archive, ScheduleConfig(nightly_cron="30 3 * * *"), paused=True)
    try:
        local = scheduler.get_job(NIGHTLY).next_run_time.astimezone(CHICAGO)
        assert (local.hour, local.minute) == (3, 30)
    finally:
        scheduler.shutdown(wait=False)


def test_missed_runs_are_coalesced_into_one_logged_catch_up(
    archive: Archive, account: Account, server: GraphServer,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    # The job runs as the daemon would: settings and tokens from the environment.
    monkeypatch.setenv("ARCHIVER_DB_URL", archive.settings.db_url)
    monkeypatch.setenv("ARCHIVER_STORE_URL", archive.settings.store_url)
    monkeypatch.setenv("ARCHIVER_INDEX_DIR", str(archive.settings.index_dir))
    monkeypatch.setenv("ARCHIVER_HOME", str(archive.settings.home))
    monkeypatch.setenv(TOKEN_ENV, server.token)
    scheduler = build_scheduler(archive)
    start(scheduler, archive, ScheduleConfig(), paused=True)
    # The daemon was down for the last four nightly runs.
    now = datetime.now(CHICAGO)
    last = now.replace(hour=2, minute=0, second=0, microsecond=0)
    if last > now:
        last -= timedelta(days=1)
    scheduler.modify_job(NIGHTLY, next_run_time=last - timedelta(days=3))
    scheduler.shutdown(wait=False)

    scheduler = build_scheduler(archive)
    done = threading.Event()
    executed: list[str] = []

    def listener(event: object) -> None:
        executed.append(event.job_id)  # type: ignore[attr-defined]
        done.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED)
    with caplog.at_level(logging.WARNING, logger="archiver.daemon.scheduler"):
        catch_ups = start(scheduler, archive, ScheduleConfig())
    try:
        assert done.wait(60), "the catch-up run never happened"
        time.sleep(0.5)  # room for a wrongly repeated run to show up
    finally:
        scheduler.shutdown(wait=True)
    assert [(c.job_id, c.missed) for c in catch_ups] == [(NIGHTLY, 4)]
    assert "missed 4 run(s)" in caplog.text
    assert executed == [NIGHTLY]
    [run] = runs(archive, "nightly")
    assert run.status == "succeeded"
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "schedule.catch_up")) == 1


def test_lock_refuses_a_second_capture_in_process(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    env = {TOKEN_ENV: server.token}
    with capture_lock(archive, account.id, heartbeat=False):
        with pytest.raises(CaptureLocked, match="being captured by capture@"):
            capture_account(archive, account, env, sleep=SleepRecorder())
        # The scheduler skips a locked account instead of failing.
        assert nightly_capture(archive, env, sleep=SleepRecorder()) == [None]
    assert server.request_count == 0
    assert capture_account(archive, account, env, sleep=SleepRecorder()).status == "succeeded"


def test_only_one_of_many_racing_contenders_wins(archive: Archive, account: Account) -> None:
    barrier = threading.Barrier(6)
    winners: list[str] = []

    def contend(n: int) -> None:
        barrier.wait()
        held = try_acquire(archive, account.id, owner=f"t{n}@nowhere:1:x")
        if held is not None:
            winners.append(held.owner)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(winners) == 1


HOLDER = """
import sys
from archiver.store.archive import open_archive
from archiver.capture.lock import capture_lock
from archiver.config import load_settings
with open_archive(load_settings()) as archive:
    with capture_lock(archive, int(sys.argv[1])):
        print("locked", flush=True)
        sys.stdin.readline()
print("released", flush=True)
"""


def _holder(archive: Archive, account: Account) -> subprocess.Popen[str]:
    env = dict(os.environ, ARCHIVER_DB_URL=archive.settings.db_url,
               ARCHIVER_STORE_URL=archive.settings.store_url,
               ARCHIVER_INDEX_DIR=str(archive.settings.index_dir),
               ARCHIVER_HOME=str(archive.settings.home))
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(account.id)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_holds_across_processes(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    env = {TOKEN_ENV: server.token}
    proc = _holder(archive, account)
    try:
        with pytest.raises(CaptureLocked):
            capture_account(archive, account, env, sleep=SleepRecorder())
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert capture_account(archive, account, env, sleep=SleepRecorder()).status == "succeeded"


def test_a_killed_holder_or_an_expired_lock_is_taken_over(
    archive: Archive, account: Account
) -> None:
    proc = _holder(archive, account)
    proc.kill()
    proc.wait(timeout=30)
    held = try_acquire(archive, account.id)  # same machine, process gone: free at once
    assert held is not None
    held.release()
    # A holder on another machine is trusted until its lock expires.
    other = try_acquire(archive, account.id, owner="capture@elsewhere:1:abc")
    assert other is not None
    assert try_acquire(archive, account.id) is None
    later = replace(archive, clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    assert try_acquire(later, account.id) is not None
    assert other.refresh() is False and other.lost


def test_sweep_reads_only_recent_posts_comments(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    env = {TOKEN_ENV: server.token}
    assert capture_account(archive, account, env, sleep=SleepRecorder()).status == "succeeded"
    newest = max(p.created_time for p in server.dataset.posts)
    when = datetime.strptime(newest, "%Y-%m-%dT%H:%M:%S%z") + timedelta(days=3)
    swept = replace(archive, clock=lambda: when)
    recent = [p.id for p in server.dataset.posts
              if datetime.strptime(p.created_time, "%Y-%m-%dT%H:%M:%S%z") >= when - timedelta(14)]
    assert 0 < len(recent) < len(server.dataset.posts)
    server.path_counts.clear()
    [result] = comment_sweep(swept, env, max_age_days=14, sleep=SleepRecorder())
    assert result is not None and result.status == "succeeded"
    comment_paths = {p for p in server.path_counts if p.endswith("/comments")}
    assert comment_paths == {f"/v19.0/{pid}/comments" for pid in recent}
    assert not any(p.endswith("/feed") for p in server.path_counts)
    assert [r.trigger for r in runs(archive, "sweep")] == ["sweep"]


def test_daily_jobs_only_report(archive: Archive, account: Account, server: GraphServer) -> None:
    capture_account(archive, account, {TOKEN_ENV: server.token}, sleep=SleepRecorder())

    def counts() -> tuple[int, ...]:
        with archive.sessions() as s:
            return tuple(s.scalar(select(func.count()).select_from(m)) or 0
                         for m in (Item, ItemVersion, Blob))

    before = counts()
    reports = run_daily_jobs(archive)
    assert set(reports) == {"verify", "retention-report", "checkpoint"}
    assert reports["checkpoint"]["timestamped"] is False, reports
    written = Path(reports["checkpoint"]["path"])  # kept in the archive and written out
    assert written.parent == archive.settings.home / "checkpoints" and written.is_file()
    assert reports["verify"]["ok"] is True
    assert "error" not in reports["retention-report"], reports
    assert counts() == before
    with archive.sessions() as s:
        items = list(s.scalars(select(Item)))
        assert all(i.disposed_at is None for i in items)
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "schedule.daily")) == 1
