"""The monitoring jobs, wired to the accounts' connectors and the notification channels.

* :func:`run_notices` (the scheduler's ``notices`` job, every minute by default): run the
  monitoring rules on everything stored and not yet checked (a webhook's comments too), batch
  the new flags into one notice, look for failed runs and accounts without a good capture, and
  deliver every unsent notice;
* :func:`run_policy_checks` (``policy-check``, daily): each active account's profile against
  the page requirements, and Graph's word on each token's expiry;
* :func:`run_monthly_reports` (``monthly-report``, on the first of the month): last month's
  activity report of every active account, PDF and CSV attached.

Tokens come from the environment as capture reads them (:mod:`archiver.capture.sources`) and
are scrubbed from every message as a last guard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select

from archiver.capture.sources import connector_for
from archiver.connectors.errors import AuthError, ConnectorError
from archiver.connectors.profiles import Profile, TokenStatus
from archiver.monitoring.flags import flag_unchecked
from archiver.monitoring.health import (
    HealthConfig,
    TokenReader,
    queue_failed_runs,
    queue_stale_accounts,
    queue_token_notices,
)
from archiver.monitoring.notices import DeliveryReport, deliver_pending, queue_flag_notice
from archiver.monitoring.policy import ProfileReader, check_policy
from archiver.monitoring.reports import previous_month, queue_monthly_reports
from archiver.notify.settings import notify_settings
from archiver.store.archive import Archive
from archiver.store.audit import SYSTEM_ACTOR
from archiver.store.models import Account

# Platforms whose token the platform describes (Graph's debug_token).
TOKEN_PLATFORMS = ("facebook", "instagram")


def account_tokens(archive: Archive, environ: Mapping[str, str]) -> list[str]:
    """Every account token set in ``environ``: scrubbed from any message before it leaves."""
    with archive.sessions() as s:
        names = set(s.scalars(select(Account.token_env)))
    return [environ[n] for n in sorted(names) if environ.get(n)]


def active_accounts(archive: Archive, account_ids: Sequence[int] | None = None) -> list[Account]:
    """The active accounts (or the ones named, active or not), by id."""
    with archive.sessions() as s:
        query = select(Account).order_by(Account.id)
        query = (query.where(Account.id.in_(account_ids)) if account_ids is not None
                 else query.where(Account.active.is_(True)))
        return list(s.scalars(query))


def deliver(archive: Archive, environ: Mapping[str, str]) -> DeliveryReport:
    """Send every unsent notice on the channels ``environ`` configures."""
    return deliver_pending(archive, notify_settings(environ),
                           secrets=account_tokens(archive, environ))


def run_notices(archive: Archive, environ: Mapping[str, str]) -> dict[str, Any]:
    """Flag what is new, write the notices it calls for, deliver; a summary."""
    settings = notify_settings(environ)
    health = HealthConfig.from_env(environ)
    flagged = flag_unchecked(archive)
    flag_notice = queue_flag_notice(archive, settings)
    failed = queue_failed_runs(archive)
    stale = queue_stale_accounts(archive, health)
    report = deliver(archive, environ)
    return {"checked": flagged.checked, "flagged": flagged.flagged,
            "flag_notice": flag_notice, "failed_run_notices": failed,
            "stale_notices": stale, "delivery": report.as_json()}


def read_profile(environ: Mapping[str, str]) -> ProfileReader:
    """How :func:`archiver.monitoring.policy.check_policy` reads a profile: the account's
    connector, its token from ``environ``."""
    def read(account: Account) -> Profile:
        with connector_for(account, environ) as connector:
            return connector.profile()
    return read


def read_token(environ: Mapping[str, str]) -> TokenReader:
    """How token notices ask the platform about a token (None where it does not say, or
    when it cannot be asked now)."""
    def read(account: Account) -> TokenStatus | None:
        with connector_for(account, environ) as connector:
            try:
                return connector.token_status()
            except AuthError as exc:
                return TokenStatus(valid=False, problem=str(exc))
            except ConnectorError:
                return None  # unreachable now: the next check asks again
    return read


def check_pages(archive: Archive, environ: Mapping[str, str],
                account_ids: Sequence[int] | None = None,
                actor: str = SYSTEM_ACTOR) -> list[dict[str, Any]]:
    """``policy check``: each account's profile against the page requirements."""
    return check_policy(archive, active_accounts(archive, account_ids), read_profile(environ),
                        actor=actor)


def run_policy_checks(archive: Archive, environ: Mapping[str, str]) -> dict[str, Any]:
    """The daily check of every active page, every Graph token's expiry, then delivery."""
    checks = check_pages(archive, environ, actor="scheduler")
    graph = [a for a in active_accounts(archive) if a.platform in TOKEN_PLATFORMS]
    tokens = queue_token_notices(archive, graph, read_token(environ),
                                 HealthConfig.from_env(environ))
    report = deliver(archive, environ)
    return {"checked": len(checks), "passed": sum(1 for c in checks if c["passed"]),
            "no_longer_met": {c["account_id"]: c["no_longer_met"] for c in checks
                              if c["no_longer_met"]},
            "token_notices": tokens, "delivery": report.as_json()}


def run_monthly_reports(archive: Archive, environ: Mapping[str, str],
                        month: date | None = None) -> dict[str, Any]:
    """Last month's report (or ``month``'s) for every active account, then delivery."""
    today = archive.clock().astimezone(archive.settings.tz).date()
    chosen = month or previous_month(today)
    made = queue_monthly_reports(archive, chosen)
    report = deliver(archive, environ)
    return {"month": chosen.strftime("%Y-%m"), "notices": made, "delivery": report.as_json()}
