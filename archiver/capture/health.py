"""The account registry as the records desk shows it: each account's approval record
(General Order 80.11 III.A.1.a: approved by, approved on, administering unit), how its token is
found, and how its captures have gone (last run, last good run, failures since and why).

Only the *name* of an account's token variable and whether it is set are ever given out, never
its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from archiver.capture.sources import token_required
from archiver.errors import NotFound
from archiver.store.accounts import account_json
from archiver.store.archive import Archive
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit
from archiver.store.models import Account, CaptureRun
from archiver.store.vocabulary import PARTIAL_TRIGGERS, UNFINISHED_RUNS, RunStatus

# The words capture's run errors carry when the token is at fault: the connector loop's
# refusal ("GET ...: access refused: ...") and the missing variable
# (archiver.capture.sources.token_for: "token variable X is not set").
_REFUSED = "access refused"
_MISSING = "is not set"


@dataclass(frozen=True)
class RunSummary:
    """One capture run as the registry shows it."""

    run_id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    trigger: str
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "status": self.status, "trigger": self.trigger, "error": self.error}


@dataclass(frozen=True)
class AccountStatus:
    """An account, its approval record, its token variable and its captures' health."""

    account: dict[str, Any]  # archiver.store.accounts.account_json: no secret is in it
    token_set: bool  # in the environment the caller passed (the desk's own)
    token_required: bool
    last_run: RunSummary | None
    last_good_at: datetime | None
    failures_since_good: int
    # Failed, interrupted or partial runs since the last good one, newest first (a few).
    failures: list[RunSummary] = field(default_factory=list)
    token_problem: str | None = None

    @property
    def account_id(self) -> int:
        value: int = self.account["account_id"]
        return value

    @property
    def approved(self) -> bool:
        return bool(self.account["approved_by"])

    def as_json(self) -> dict[str, Any]:
        return {**self.account, "token_set": self.token_set,
                "token_required": self.token_required,
                "last_run": self.last_run.as_json() if self.last_run else None,
                "last_good_at": self.last_good_at.isoformat() if self.last_good_at else None,
                "failures_since_good": self.failures_since_good,
                "failures": [f.as_json() for f in self.failures],
                "token_problem": self.token_problem}


def account_statuses(archive: Archive, environ: Mapping[str, str], *,
                     within: AccountLimit = EVERY_ACCOUNT, failures_shown: int = 3
                     ) -> list[AccountStatus]:
    """Every account ``within`` the limit, by id, with up to ``failures_shown`` failures each."""
    with archive.sessions() as s:
        accounts = list(s.scalars(select(Account).where(within.clause(Account.id))
                                  .order_by(Account.id)))
        return [_status(s, a, environ, failures_shown) for a in accounts]


def account_status(archive: Archive, account_id: int, environ: Mapping[str, str], *,
                   within: AccountLimit = EVERY_ACCOUNT, failures_shown: int = 20
                   ) -> AccountStatus:
    """One account's status; an account outside ``within`` is :class:`NotFound` like a
    missing one."""
    with archive.sessions() as s:
        account = s.get(Account, account_id) if within.allows(account_id) else None
        if account is None:
            raise NotFound(f"no account with id {account_id}")
        return _status(s, account, environ, failures_shown)


def _summary(run: CaptureRun) -> RunSummary:
    return RunSummary(run_id=run.id, started_at=run.started_at, finished_at=run.finished_at,
                      status=run.status, trigger=run.trigger, error=run.error)


def _status(s: Session, account: Account, environ: Mapping[str, str],
            failures_shown: int) -> AccountStatus:
    runs = select(CaptureRun).where(CaptureRun.account_id == account.id)
    last = s.scalar(runs.order_by(CaptureRun.id.desc()).limit(1))
    # Good means a good *full* capture: a sweep or a webhook read only part of the account.
    good = s.scalar(runs.where(CaptureRun.status == RunStatus.SUCCEEDED,
                               CaptureRun.trigger.not_in(PARTIAL_TRIGGERS))
                    .order_by(CaptureRun.id.desc()).limit(1))
    bad = CaptureRun.status.in_(UNFINISHED_RUNS)
    since = (CaptureRun.id > good.id) if good is not None else true()
    count = s.scalar(select(func.count()).select_from(CaptureRun).where(
        CaptureRun.account_id == account.id, bad, since)) or 0
    failures = [_summary(r) for r in s.scalars(runs.where(bad, since)
                                                 .order_by(CaptureRun.id.desc())
                                                 .limit(failures_shown))]
    token_set = bool(environ.get(account.token_env))
    required = token_required(account.platform)
    return AccountStatus(
        account=account_json(account), token_set=token_set, token_required=required,
        last_run=_summary(last) if last else None,
        last_good_at=(good.finished_at or good.started_at) if good else None,
        failures_since_good=count, failures=failures,
        token_problem=_token_problem(last, account.token_env))


def _token_problem(last: CaptureRun | None, token_env: str) -> str | None:
    """What the last run says of the token, if it failed because of it."""
    if last is None or last.status == RunStatus.SUCCEEDED or not last.error:
        return None
    if _REFUSED in last.error:
        return "the platform refused the token at the last capture (expired or revoked?)"
    if token_env in last.error and _MISSING in last.error:
        return f"the token variable {token_env} was not set when capture last ran"
    return None
