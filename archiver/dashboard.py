"""The records desk's first page in numbers: capture health per account, what arrived lately,
requests due, holds, items eligible for disposition, captures per day.

Items are counted only within the reader's account limit; requests and holds are the agency's
(they are not an account's), and the page shows them by role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from archiver.capture.health import AccountStatus, account_statuses
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.requests import RequestView, list_requests
from archiver.retention.assign import active_schedule
from archiver.retention.holds import list_holds
from archiver.retention.report import eligible_ids_query
from archiver.store.archive import Archive
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit
from archiver.store.models import Item, ItemVersion

# Requests due within this many business days are "due soon".
DUE_SOON_DAYS = 3


@dataclass(frozen=True)
class Arrivals:
    new: int = 0
    edited: int = 0
    hidden: int = 0
    removed: int = 0


@dataclass(frozen=True)
class Dashboard:
    today: date
    since: datetime
    accounts: list[AccountStatus]  # the account registry's rows (archiver.capture.health)
    arrivals: Arrivals
    captures_per_day: list[tuple[date, int]]  # versions captured per day, oldest first
    requests_overdue: list[RequestView] = field(default_factory=list)
    requests_due_soon: list[RequestView] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    eligible_for_disposition: int = 0


def dashboard(archive: Archive, calendar: HolidayCalendar, *, environ: Mapping[str, str],
              within: AccountLimit = EVERY_ACCOUNT, days: int = 7,
              chart_days: int = 14) -> Dashboard:
    """The dashboard as of the archive's clock: capture health per account as the account
    registry tells it (``environ`` says which token variables are set), arrivals over the last
    ``days`` days, the chart over the last ``chart_days`` days (in the agency's time zone)."""
    tz = archive.settings.tz
    now = archive.clock()
    today = now.astimezone(tz).date()
    since = now - timedelta(days=days)
    health = account_statuses(archive, environ, within=within)
    with archive.sessions() as s:
        arrivals = _arrivals(s, within, since)
        chart = _per_day(s, within, today, chart_days, tz)
        schedule = active_schedule(s)
        eligible = 0
        if schedule is not None:
            ids = eligible_ids_query(schedule, today).where(within.clause(Item.account_id))
            eligible = s.scalar(select(func.count()).select_from(ids.subquery())) or 0
    requests = list_requests(archive, calendar, today=today)
    return Dashboard(
        today=today, since=since, accounts=health, arrivals=arrivals, captures_per_day=chart,
        requests_overdue=[r for r in requests if r.overdue],
        requests_due_soon=[r for r in requests if not r.overdue
                           and r.business_days_left <= DUE_SOON_DAYS],
        holds=[h for h in list_holds(archive) if h["status"] == "active"],
        eligible_for_disposition=eligible,
    )


def _arrivals(s: Session, within: AccountLimit, since: datetime) -> Arrivals:
    limit = within.clause(Item.account_id)
    new = s.scalar(select(func.count()).select_from(Item)
                   .where(limit, Item.first_captured_at >= since)) or 0
    removed = s.scalar(select(func.count()).select_from(Item)
                       .where(limit, Item.removed_detected_at >= since)) or 0
    later = (select(ItemVersion.status, func.count())
             .join(Item, Item.id == ItemVersion.item_id)
             .where(limit, ItemVersion.seq > 1, ItemVersion.captured_at >= since)
             .group_by(ItemVersion.status))
    counts = dict(s.execute(later).all())
    return Arrivals(new=new, edited=counts.get("active", 0), hidden=counts.get("hidden", 0),
                    removed=removed)


def _per_day(s: Session, within: AccountLimit, today: date, days: int,
             tz: Any) -> list[tuple[date, int]]:
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(0), tz)
    counts: dict[date, int] = {first + timedelta(days=n): 0 for n in range(days)}
    # Counted per UTC hour in the database (a few hundred rows, not one per version), then
    # put on the agency's days here: every zone the agency may be in is whole hours from UTC.
    hour = _utc_hour(s, ItemVersion.captured_at)
    rows = s.execute(select(hour, func.count())
                     .join(Item, and_(Item.id == ItemVersion.item_id,
                                      within.clause(Item.account_id)))
                     .where(ItemVersion.captured_at >= start).group_by(hour))
    for stamp, count in rows:
        day = _hour_start(stamp).astimezone(tz).date()
        if day in counts:
            counts[day] += count
    return sorted(counts.items())


def _utc_hour(s: Session, column: Any) -> Any:
    """SQL: the UTC hour a stored time falls in (text on SQLite, a timestamp on PostgreSQL)."""
    if s.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00", column)
    return func.date_trunc("hour", column)


def _hour_start(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
