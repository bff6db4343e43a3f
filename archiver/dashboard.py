"""The records desk's first page in numbers: capture health per account, what arrived lately,
requests due, holds, items eligible for disposition, captures per day.

Items are counted only within the reader's account limit; requests and holds are the agency's
(they are not an account's), and the page shows them by role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from archiver.capture.health import AccountStatus, account_statuses
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.requests import RequestView, list_requests
from archiver.retention.assign import active_schedule
from archiver.retention.holds import list_holds
from archiver.retention.report import eligible_count
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
            eligible = eligible_count(s, schedule, today, within=within)
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
    later = _versions_since(select(ItemVersion.status, func.count()), within,
                            ItemVersion.captured_at >= since, ItemVersion.seq > 1)
    counts = dict(s.execute(later.group_by(ItemVersion.status)).all())
    return Arrivals(new=new, edited=counts.get("active", 0), hidden=counts.get("hidden", 0),
                    removed=removed)


def _versions_since(query: Any, within: AccountLimit, *where: Any) -> Any:
    """``query`` over versions, joined to their items only when the account limit needs it
    (the capture-time index then answers alone)."""
    if not within.unlimited:
        query = query.join(Item, and_(Item.id == ItemVersion.item_id,
                                      within.clause(Item.account_id)))
    return query.where(*where)


def _per_day(s: Session, within: AccountLimit, today: date, days: int,
             tz: Any) -> list[tuple[date, int]]:
    """Versions captured on each of the agency's last ``days`` days: a range count per day on
    the capture-time index, its bounds the agency's midnights (daylight saving included)."""
    first = today - timedelta(days=days - 1)
    out = []
    for n in range(days):
        day = first + timedelta(days=n)
        start = datetime.combine(day, time(0), tz)
        end = datetime.combine(day + timedelta(days=1), time(0), tz)
        count = s.scalar(_versions_since(select(func.count()).select_from(ItemVersion), within,
                                         ItemVersion.captured_at >= start,
                                         ItemVersion.captured_at < end)) or 0
        out.append((day, count))
    return out
