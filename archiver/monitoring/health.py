"""Capture-health notices: a failed run, an account without a good capture for too long, and a
token the platform says is near its expiry or refuses.

Each is written once per event (a run, a spell without a good capture, an expiry date, a day a
token is refused) under its own notice key, so the job that looks every few minutes never sends
the same news twice. A message names the token's *variable*, never its value.

Settings (environment): ``ARCHIVER_NOTIFY_STALE_HOURS`` (default 26: a nightly capture plus two
hours' grace), ``ARCHIVER_NOTIFY_TOKEN_DAYS`` (default 7: how long before expiry to warn).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from archiver.connectors.profiles import TokenStatus
from archiver.errors import ConfigError
from archiver.monitoring.notices import queue_notice
from archiver.store.archive import Archive
from archiver.store.models import Account, CaptureRun
from archiver.store.vocabulary import PARTIAL_TRIGGERS, UNFINISHED_RUNS, RunStatus
from archiver.terminal import visible

STALE_HOURS_ENV = "ARCHIVER_NOTIFY_STALE_HOURS"
TOKEN_DAYS_ENV = "ARCHIVER_NOTIFY_TOKEN_DAYS"  # noqa: S105 - a variable name, not a secret
# Runs older than this are history, not news.
RECENT = timedelta(days=7)
# What a run that did not finish its work did, in a notice's words.
_UNFINISHED_WORDS = {RunStatus.FAILED: "failed",
                     RunStatus.PARTIAL: "stored only part of what it read",
                     RunStatus.INTERRUPTED: "was interrupted before it finished"}

# What a token check found for an account: the platform's word, or why it could not be asked.
TokenReader = Callable[[Account], "TokenStatus | None"]


@dataclass(frozen=True)
class HealthConfig:
    """How long without a good capture is too long, and how early to warn of a token's end."""

    stale_hours: int = 26
    token_days: int = 7

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> HealthConfig:
        """Read :data:`STALE_HOURS_ENV` and :data:`TOKEN_DAYS_ENV`."""
        def number(name: str, default: int) -> int:
            text = (environ.get(name) or "").strip()
            if not text:
                return default
            if not text.isdigit() or int(text) <= 0:
                raise ConfigError(f"{name}: {text!r} is not a positive whole number")
            return int(text)

        return cls(number(STALE_HOURS_ENV, cls.stale_hours),
                   number(TOKEN_DAYS_ENV, cls.token_days))


def _where(account: Account) -> str:
    return f"account {account.id} ({account.platform}:{visible(account.handle)})"


def _local(archive: Archive, moment: datetime) -> str:
    return moment.astimezone(archive.settings.tz).strftime("%Y-%m-%d %H:%M %Z")


def queue_failed_runs(archive: Archive) -> list[int]:
    """A notice for each run of the last week that failed, stored only part of what it read or
    was interrupted."""
    since = archive.clock() - RECENT
    made = []
    with archive.transaction() as s:
        rows = s.execute(select(CaptureRun, Account).join(Account,
                                                            Account.id == CaptureRun.account_id)
                         .where(CaptureRun.status.in_(UNFINISHED_RUNS),
                                CaptureRun.started_at >= since)
                         .order_by(CaptureRun.id)).all()
        for run, account in rows:
            what = _UNFINISHED_WORDS[RunStatus(run.status)]
            subject = f"Capture {what}: {_where(account)}"
            lines = [f"The {run.trigger} capture of {_where(account)} started "
                     f"{_local(archive, run.started_at)} {what} (run {run.id}).",
                     f"Reason: {visible(run.error or 'not recorded')}",
                     "Nothing was marked removed; the next scheduled run tries again.",
                     f"See: archiver items and the audit log; capture again with: archiver "
                     f"capture --account {account.id}"]
            notice = queue_notice(s, archive, kind="capture_failed", key=f"run:{run.id}",
                                  subject=subject, lines=lines, account_id=account.id,
                                  data={"account_id": account.id, "run_id": run.id,
                                        "status": run.status, "trigger": run.trigger,
                                        "error": run.error,
                                        "started_at": run.started_at.isoformat()})
            if notice is not None:
                made.append(notice)
    return made


def queue_stale_accounts(archive: Archive, config: HealthConfig) -> list[int]:
    """A notice for each active account without a good full capture for ``stale_hours``: one
    per spell (until a good capture ends it)."""
    now = archive.clock()
    limit = now - timedelta(hours=config.stale_hours)
    made = []
    with archive.transaction() as s:
        good = (select(CaptureRun.account_id, func.max(CaptureRun.id).label("run_id"),
                       func.max(CaptureRun.finished_at).label("finished_at"))
                .where(CaptureRun.status == RunStatus.SUCCEEDED,
                       CaptureRun.trigger.not_in(PARTIAL_TRIGGERS))
                .group_by(CaptureRun.account_id).subquery())
        rows = s.execute(select(Account, good.c.run_id, good.c.finished_at)
                         .outerjoin(good, good.c.account_id == Account.id)
                         .where(Account.active.is_(True)).order_by(Account.id)).all()
        for account, run_id, finished_at in rows:
            last = finished_at or None
            if (last or account.created_at) > limit:
                continue
            since = (f"since {_local(archive, last)} (run {run_id})" if last is not None
                     else f"since it was registered {_local(archive, account.created_at)}")
            subject = (f"No good capture of {_where(account)} for {config.stale_hours} hours "
                       "or more")
            lines = [f"{_where(account)} has had no successful full capture {since}.",
                     "Comments removed on the platform meanwhile may be lost to the record.",
                     f"Check its token and the last runs, then: archiver capture --account "
                     f"{account.id}"]
            notice = queue_notice(s, archive, kind="capture_stale",
                                  key=f"stale:{account.id}:{run_id or 'never'}",
                                  subject=subject, lines=lines, account_id=account.id,
                                  data={"account_id": account.id, "last_good_run_id": run_id,
                                        "last_good_at": last.isoformat() if last else None,
                                        "hours": config.stale_hours})
            if notice is not None:
                made.append(notice)
    return made


def queue_token_notices(archive: Archive, accounts: Sequence[Account], read: TokenReader,
                        config: HealthConfig) -> list[int]:
    """A notice for each account whose token the platform refuses (once a day) or says expires
    within ``token_days`` (once per expiry date). ``read`` asks the platform (None: it does not
    say)."""
    now = archive.clock()
    made = []
    for account in accounts:
        try:
            status = read(account)
        except ConfigError as exc:
            status = TokenStatus(valid=False, problem=str(exc))
        if status is None:
            continue
        variable = f"${account.token_env}"
        with archive.transaction() as s:
            if not status.valid:
                day = now.astimezone(archive.settings.tz).date().isoformat()
                notice = queue_notice(
                    s, archive, kind="token", key=f"token-refused:{account.id}:{day}",
                    subject=f"Token refused: {_where(account)}",
                    lines=[f"The platform refuses the token in {variable} for "
                           f"{_where(account)}: {visible(status.problem or 'not valid')}.",
                           "Capture of the account fails until a new token is set in "
                           f"{variable}."],
                    account_id=account.id,
                    data={"account_id": account.id, "token_env": account.token_env,
                          "valid": False, "problem": status.problem})
            else:
                ends = [t for t in (status.expires_at, status.data_access_expires_at)
                        if t is not None]
                if not ends or min(ends) - now > timedelta(days=config.token_days):
                    continue
                end = min(ends)
                left = max(0, (end - now).days)
                notice = queue_notice(
                    s, archive, kind="token",
                    key=f"token-expiry:{account.id}:{end.date().isoformat()}",
                    subject=f"Token expires {_local(archive, end)[:10]}: {_where(account)}",
                    lines=[f"The token in {variable} for {_where(account)} expires "
                           f"{_local(archive, end)} (in {left} days), by the platform's "
                           "debug_token.",
                           f"Set a renewed token in {variable} before then, or capture stops."],
                    account_id=account.id,
                    data={"account_id": account.id, "token_env": account.token_env,
                          "valid": True, "expires_at": end.isoformat(),
                          "scopes": list(status.scopes)})
            if notice is not None:
                made.append(notice)
    return made
