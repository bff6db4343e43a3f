"""The capture daemon's schedule (APScheduler 3.x, jobs persisted in the archive's database).

Jobs, all in the agency's time zone (``ARCHIVER_TIMEZONE``):

* ``nightly-capture``: a full capture of every active account (cron, default ``0 2 * * *``);
* ``comment-sweep``: every 15 minutes, the comment listings of posts younger than 14 days, so a
  comment a moderator removes is already on record when it goes, and every listing its
  platform's connector names in ``sweep_scopes`` (Facebook's and Instagram's stories, gone after
  24 hours), with the media of what it finds;
* ``daily-jobs``: the daily reports (:data:`DAILY_JOBS`: ``verify``, the
  retention report) and the daily checkpoint (kept in the archive and written to
  ``ARCHIVER_HOME/checkpoints/``). Daily jobs never purge or change a record;
* ``notices``: every minute, the monitoring rules on what was stored since (webhook comments
  too), new flags batched into one notice, failed runs and accounts without a good capture,
  then delivery by e-mail and webhook (:mod:`archiver.daemon.notices`);
* ``policy-check``: daily with the reports, each page's public profile against what
  GO 80.11 asks it to state, and each Graph token's expiry;
* ``monthly-report``: on the first of the month, last month's activity report per account.

The job store is APScheduler's ``SQLAlchemyJobStore`` on the archive's engine (its own table,
``apscheduler_jobs``, which the migrations leave alone). Jobs keep their next run time across
restarts; every job coalesces, so after downtime the missed runs become one catch-up run, which
:func:`start` logs (and puts on the audit log). Jobs are stored by reference
(``archiver.daemon.scheduler:scheduled_job`` plus the job's name), never with tokens or settings: a
run
reads both from the daemon's environment when it starts.

Settings (environment): ``ARCHIVER_SCHEDULE_NIGHTLY_CRON``, ``ARCHIVER_SCHEDULE_SWEEP_MINUTES``,
``ARCHIVER_SCHEDULE_SWEEP_DAYS``, ``ARCHIVER_SCHEDULE_DAILY_AT`` (``HH:MM``),
``ARCHIVER_SCHEDULE_NOTICES_MINUTES``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import import_module
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING, BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import and_, func, select

from archiver.capture.account import capture_account
from archiver.capture.lock import CaptureLocked
from archiver.capture.results import CaptureResult
from archiver.connectors import get_connector_class
from archiver.connectors.records import ItemKind, ItemStatus
from archiver.errors import ConfigError
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.models import Account, Item, ItemVersion
from archiver.store.vocabulary import RunStatus, RunTrigger

log = logging.getLogger(__name__)

JOB_FUNC = "archiver.daemon.scheduler:scheduled_job"
NIGHTLY = "nightly-capture"
SWEEP = "comment-sweep"
DAILY = "daily-jobs"
NOTICES = "notices"
POLICY = "policy-check"
MONTHLY = "monthly-report"
MAX_COUNTED_MISSES = 100_000


@dataclass(frozen=True)
class DailyJob:
    """A report run once a day: ``ref`` names ``module:function(archive, as_of) -> dict``."""

    name: str
    ref: str
    description: str


# The daily reports, one line each. Reports only: nothing here may purge.
DAILY_JOBS: tuple[DailyJob, ...] = (
    DailyJob("verify", "archiver.daemon.scheduler:daily_verify",
             "re-hash every version, blob and audit event"),
    DailyJob("retention-report", "archiver.daemon.scheduler:daily_retention_report",
             "what the retention schedule makes eligible for disposition (report only)"),
    DailyJob("checkpoint", "archiver.daemon.scheduler:daily_checkpoint",
             "a checkpoint of every chain head, timestamped when a TSA is set"),
)


@dataclass(frozen=True)
class ScheduleConfig:
    """When the jobs run; by default a nightly capture at 02:00, a comment sweep every
    15 minutes and the daily reports at 06:00."""

    nightly_cron: str = "0 2 * * *"
    sweep_minutes: int = 15
    sweep_max_age_days: int = 14
    daily_at: str = "06:00"
    notices_minutes: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ScheduleConfig:
        """Read the ``ARCHIVER_SCHEDULE_*`` variables (validated by :func:`planned_jobs`)."""
        defaults = cls()

        def number(name: str, default: int) -> int:
            text = environ.get(name)
            if not text:
                return default
            try:
                value = int(text)
            except ValueError:
                value = 0
            if value <= 0:
                raise ConfigError(f"{name}: {text!r} is not a positive whole number")
            return value

        return cls(
            nightly_cron=environ.get("ARCHIVER_SCHEDULE_NIGHTLY_CRON") or defaults.nightly_cron,
            sweep_minutes=number("ARCHIVER_SCHEDULE_SWEEP_MINUTES", defaults.sweep_minutes),
            sweep_max_age_days=number("ARCHIVER_SCHEDULE_SWEEP_DAYS",
                                      defaults.sweep_max_age_days),
            daily_at=environ.get("ARCHIVER_SCHEDULE_DAILY_AT") or defaults.daily_at,
            notices_minutes=number("ARCHIVER_SCHEDULE_NOTICES_MINUTES",
                                   defaults.notices_minutes),
        )


@dataclass(frozen=True)
class JobSpec:
    """One job as planned: id, trigger and a description for ``schedule show``."""

    id: str
    trigger: BaseTrigger
    description: str


@dataclass(frozen=True)
class JobInfo:
    """One job as ``schedule show`` prints it."""

    id: str
    trigger: str
    next_run: datetime | None
    description: str

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "trigger": self.trigger, "description": self.description,
                "next_run": self.next_run.isoformat() if self.next_run else None}


@dataclass(frozen=True)
class CatchUp:
    """A job that missed runs while the daemon was down; it runs once now."""

    job_id: str
    missed: int
    first_missed: datetime


def planned_jobs(config: ScheduleConfig, tz: ZoneInfo) -> list[JobSpec]:
    """The jobs the daemon keeps, with triggers in the agency zone ``tz``."""
    try:
        nightly = CronTrigger.from_crontab(config.nightly_cron, timezone=tz)
    except ValueError as exc:
        raise ConfigError(
            f"ARCHIVER_SCHEDULE_NIGHTLY_CRON: {config.nightly_cron!r}: {exc}"
        ) from None
    try:
        hour, minute = (int(p) for p in config.daily_at.split(":"))
        daily = CronTrigger(hour=hour, minute=minute, timezone=tz)
        monthly = CronTrigger(day=1, hour=hour, minute=minute, timezone=tz)
    except ValueError:
        raise ConfigError(
            f"ARCHIVER_SCHEDULE_DAILY_AT: {config.daily_at!r} is not a time like 06:00"
        ) from None
    names = ", ".join(j.name for j in DAILY_JOBS)
    return [
        JobSpec(NIGHTLY, nightly, "full capture of every active account"),
        JobSpec(SWEEP, IntervalTrigger(minutes=config.sweep_minutes, timezone=tz),
                f"comments of posts younger than {config.sweep_max_age_days} days, and stories"),
        JobSpec(DAILY, daily, f"daily reports: {names}"),
        JobSpec(NOTICES, IntervalTrigger(minutes=config.notices_minutes, timezone=tz),
                "monitoring rules on new items, capture health, notices delivered"),
        JobSpec(POLICY, daily, "each page's statements (GO 80.11 III.A.1.b, d), token expiry"),
        JobSpec(MONTHLY, monthly, "last month's activity report per account, e-mailed"),
    ]


class ArchiveScheduler(BackgroundScheduler):
    """A background scheduler that processes jobs only while running.

    APScheduler's loop may wake once more during ``shutdown``; with the state already
    ``STOPPED`` (not ``PAUSED``) it would process due jobs, fail to submit them to the stopped
    executor and move their next run time on: a paused ``schedule show`` would eat the catch-up.
    """

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        result: float | None = super()._process_jobs()
        return result


def build_scheduler(
    archive: Archive, scheduler_cls: type[BaseScheduler] = ArchiveScheduler
) -> BaseScheduler:
    """A scheduler on the archive's database: coalescing, no misfire limit, one run per job."""
    return scheduler_cls(
        jobstores={"default": SQLAlchemyJobStore(engine=archive.engine)},
        executors={"default": ThreadPoolExecutor(2)},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone=archive.settings.tz,
    )


def _same_trigger(a: BaseTrigger, b: BaseTrigger) -> bool:
    return (type(a) is type(b) and str(a) == str(b)
            and str(getattr(a, "timezone", "")) == str(getattr(b, "timezone", "")))


def missed_runs(trigger: BaseTrigger, next_run: datetime, now: datetime) -> int:
    """How many fire times from ``next_run`` up to ``now`` were not run."""
    count, when = 0, next_run
    while when is not None and when <= now and count < MAX_COUNTED_MISSES:
        count += 1
        when = trigger.get_next_fire_time(when, when + timedelta(microseconds=1))
    return count


def sync_jobs(
    scheduler: BaseScheduler, specs: Sequence[JobSpec], now: datetime
) -> list[CatchUp]:
    """Make the stored jobs match ``specs``; a job whose trigger is unchanged keeps its next run
    time, so a run missed while the daemon was down is caught up once (coalesced)."""
    wanted = {spec.id for spec in specs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            log.info("schedule: removing job %s (no longer planned)", job.id)
            job.remove()
    catch_ups: list[CatchUp] = []
    for spec in specs:
        job = scheduler.get_job(spec.id)
        if job is not None and _same_trigger(job.trigger, spec.trigger):
            if job.next_run_time is not None and job.next_run_time <= now:
                missed = missed_runs(job.trigger, job.next_run_time, now)
                catch_ups.append(CatchUp(spec.id, missed, job.next_run_time))
            continue
        scheduler.add_job(JOB_FUNC, trigger=spec.trigger, args=[spec.id], id=spec.id,
                          name=spec.description, replace_existing=True)
    return catch_ups


def start(
    scheduler: BaseScheduler, archive: Archive, config: ScheduleConfig, *, paused: bool = False
) -> list[CatchUp]:
    """Start ``scheduler`` with the planned jobs; log (and audit) the catch-ups it will run."""
    specs = planned_jobs(config, archive.settings.tz)
    scheduler.start(paused=True)
    catch_ups = sync_jobs(scheduler, specs, archive.clock())
    if catch_ups:
        now = archive.clock()
        with archive.transaction() as s:
            for c in catch_ups:
                log.warning("schedule: %s missed %d run(s) since %s; running one catch-up now",
                            c.job_id, c.missed, c.first_missed.isoformat())
                record_event(s, action="schedule.catch_up", occurred_at=now, actor="scheduler",
                             target_type="job", target_id=c.job_id,
                             details={"missed": c.missed,
                                      "first_missed": c.first_missed.isoformat()})
    if not paused:
        scheduler.resume()
    return catch_ups


def show_jobs(archive: Archive, config: ScheduleConfig) -> list[JobInfo]:
    """The stored jobs with their next run; the planned ones when the daemon never ran."""
    specs = planned_jobs(config, archive.settings.tz)
    descriptions = {spec.id: spec.description for spec in specs}
    scheduler = build_scheduler(archive)
    scheduler.start(paused=True)
    try:
        stored = scheduler.get_jobs()
        if stored:
            return [JobInfo(j.id, str(j.trigger), j.next_run_time,
                            descriptions.get(j.id, j.name)) for j in stored]
    finally:
        scheduler.shutdown(wait=False)
    now = archive.clock()
    return [JobInfo(s.id, str(s.trigger), s.trigger.get_next_fire_time(None, now),
                    s.description) for s in specs]


# -- the jobs -------------------------------------------------------------------------------------


def scheduled_job(name: str) -> None:
    """APScheduler's entry point: open the archive from the environment and run job ``name``."""
    from archiver.config import load_settings
    from archiver.store.archive import open_archive

    environ = dict(os.environ)
    with open_archive(load_settings(environ)) as archive:
        run_job(archive, name, environ, ScheduleConfig.from_env(environ))


def run_job(
    archive: Archive, name: str, environ: Mapping[str, str], config: ScheduleConfig
) -> object:
    """Run one job by name (what the daemon does at each fire time)."""
    log.info("schedule: %s starting", name)
    if name == NIGHTLY:
        return nightly_capture(archive, environ)
    if name == SWEEP:
        return comment_sweep(archive, environ, max_age_days=config.sweep_max_age_days)
    if name == DAILY:
        return run_daily_jobs(archive)
    if name in (NOTICES, POLICY, MONTHLY):
        from archiver.daemon import notices

        job = {NOTICES: notices.run_notices, POLICY: notices.run_policy_checks,
               MONTHLY: notices.run_monthly_reports}[name]
        return job(archive, environ)
    raise ConfigError(f"schedule: unknown job {name!r}")


def _active_accounts(archive: Archive) -> list[Account]:
    with archive.sessions() as s:
        return list(s.scalars(select(Account).where(Account.active.is_(True))
                              .order_by(Account.id)))


def _capture_or_skip(archive: Archive, account: Account, environ: Mapping[str, str],
                     **kwargs: Any) -> CaptureResult | None:
    try:
        result = capture_account(archive, account, environ, **kwargs)
    except CaptureLocked as exc:
        log.warning("schedule: skipped: %s", exc)
        return None
    if result.status != RunStatus.SUCCEEDED:
        log.error("schedule: capture of account %s %s: %s", account.id, result.status,
                  result.error)
    return result


def nightly_capture(
    archive: Archive, environ: Mapping[str, str], *, sleep: Callable[[float], None] | None = None
) -> list[CaptureResult | None]:
    """A full capture of every active account; None for an account another capture holds."""
    return [_capture_or_skip(archive, a, environ, trigger=RunTrigger.NIGHTLY, sleep=sleep)
            for a in _active_accounts(archive)]


def recent_posts(archive: Archive, account_id: int, max_age_days: int) -> list[str]:
    """External ids of the account's posts published (or, undated, first seen) recently."""
    cutoff = archive.clock() - timedelta(days=max_age_days)
    published = func.coalesce(ItemVersion.created_at, Item.first_captured_at)
    with archive.sessions() as s:
        return list(s.scalars(
            select(Item.external_id)
            .join(ItemVersion, and_(ItemVersion.item_id == Item.id,
                                    ItemVersion.seq == Item.current_seq))
            .where(Item.account_id == account_id, Item.kind == ItemKind.POST,
                   Item.status != ItemStatus.REMOVED, published >= cutoff)
            .order_by(Item.id)
        ))


def comment_sweep(
    archive: Archive,
    environ: Mapping[str, str],
    *,
    max_age_days: int = 14,
    sleep: Callable[[float], None] | None = None,
) -> list[CaptureResult | None]:
    """Re-read the comments of every recent post of every active account, and the listings its
    connector sweeps every time (stories)."""
    results: list[CaptureResult | None] = []
    for account in _active_accounts(archive):
        scopes = [*recent_posts(archive, account.id, max_age_days),
                  *get_connector_class(account.platform).sweep_scopes]
        if scopes:
            results.append(_capture_or_skip(archive, account, environ, trigger=RunTrigger.SWEEP,
                                            scopes=scopes, sleep=sleep))
    return results


def _load(ref: str) -> Callable[[Archive, date], dict[str, Any]]:
    module, _, attr = ref.partition(":")
    func_: Callable[[Archive, date], dict[str, Any]] = getattr(import_module(module), attr)
    return func_


def run_daily_jobs(
    archive: Archive, jobs: Sequence[DailyJob] = DAILY_JOBS
) -> dict[str, dict[str, Any]]:
    """Run every daily report; one failing report does not stop the others. Reports only."""
    as_of = archive.clock().astimezone(archive.settings.tz).date()
    reports: dict[str, dict[str, Any]] = {}
    for job in jobs:
        try:
            reports[job.name] = _load(job.ref)(archive, as_of)
        except Exception as exc:  # a broken report must not silence the others
            log.exception("schedule: daily job %s failed", job.name)
            reports[job.name] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    now = archive.clock()
    with archive.transaction() as s:
        record_event(s, action="schedule.daily", occurred_at=now, actor="scheduler",
                     target_type="job", target_id=DAILY,
                     details={"as_of": as_of.isoformat(), "reports": reports})
    return reports


def daily_verify(archive: Archive, as_of: date) -> dict[str, Any]:
    """``verify`` as a daily report: counts and problems, nothing repaired."""
    from archiver.verify import verify_archive

    report = verify_archive(archive, actor="scheduler")
    if not report.ok:
        log.error("schedule: verify found %d problem(s)", len(report.problems))
    return {"ok": report.ok, "problems": len(report.problems), "items": report.items,
            "versions": report.versions, "blobs": report.blobs}


def daily_retention_report(archive: Archive, as_of: date) -> dict[str, Any]:
    """The retention report for today: what is eligible; nothing is purged."""
    from archiver.retention.report import retention_report

    report = retention_report(archive, as_of)
    return {"as_of": report.as_of, "schedule": report.schedule, "eligible": report.eligible,
            "without_series": report.without_series}


def daily_checkpoint(archive: Archive, as_of: date) -> dict[str, Any]:
    """A checkpoint a day, kept in the archive and written under ``ARCHIVER_HOME/checkpoints``
    (named by its date and hash) for copying off the machine."""
    from archiver.store.checkpoints import export_checkpoint, make_checkpoint

    folder = archive.settings.home / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    result = make_checkpoint(archive, actor="scheduler")
    out = folder / f"checkpoint-{as_of.isoformat()}-{result.summary.sha256[:16]}.json"
    export_checkpoint(archive, result.summary.sha256, out)
    if result.tsa_error:
        log.error("schedule: checkpoint not timestamped: %s", result.tsa_error)
    return {"sha256": result.summary.sha256, "path": str(out),
            "timestamped": result.summary.timestamped, "tsa_error": result.tsa_error}
