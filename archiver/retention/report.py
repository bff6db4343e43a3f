"""The disposition report: what is eligible as of a date, by series, and what is held back.

Everything is computed with grouped SQL over ``items.disposition_date`` (indexed), so the report
costs a few queries whatever the archive's size; the CSV streams one line per eligible item.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, not_, select, union
from sqlalchemy.orm import Session

from archiver.retention.assign import active_schedule
from archiver.retention.holds import active_hold_exists_clause
from archiver.retention.protection import (
    request_protected_clause,
    unscoped_clause,
    unscoped_requests,
)
from archiver.retention.schedule import Schedule
from archiver.store.archive import Archive
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit
from archiver.store.models import (
    Account,
    Hold,
    HoldItem,
    Item,
    OpenRecordsRequest,
    RequestItem,
)
from archiver.store.vocabulary import RequestStatus


def _due(as_of: date) -> Any:
    return (Item.disposition_date.is_not(None), Item.disposition_date <= as_of,
            Item.disposed_at.is_(None))


def confirmed_codes(schedule: Schedule) -> list[str]:
    """Series that may be disposed: an action and an authority the agency has confirmed."""
    return sorted(c for c, s in schedule.series.items()
                  if s.action is not None and s.authority.confirmed)


def eligible_ids_query(schedule: Schedule, as_of: date) -> Select[int]:
    """SQL for every item eligible for disposition on ``as_of``: due, confirmed, not protected
    (none at all while an open request has no scope)."""
    return (select(Item.id).where(*_due(as_of), Item.series_code.in_(confirmed_codes(schedule)),
                                  not_(active_hold_exists_clause()),
                                  not_(request_protected_clause())))


def eligible_count(s: Session, schedule: Schedule, as_of: date, *,
                   within: AccountLimit = EVERY_ACCOUNT) -> int:
    """How many items :func:`eligible_ids_query` finds (within the account limit), counted as
    the due items less the protected ones among them: protection covers few items, so this
    reads them instead of asking of every due item whether a hold or request covers it."""
    if s.scalar(select(unscoped_clause())):
        return 0
    due = (*_due(as_of), Item.series_code.in_(confirmed_codes(schedule)),
           within.clause(Item.account_id))
    total = s.scalar(select(func.count()).select_from(Item).where(*due)) or 0
    protected = union(
        select(HoldItem.item_id.label("item_id")).join(Hold, Hold.id == HoldItem.hold_id)
        .where(Hold.released_at.is_(None)),
        select(RequestItem.item_id.label("item_id"))
        .join(OpenRecordsRequest, OpenRecordsRequest.id == RequestItem.request_pk)
        .where(OpenRecordsRequest.status == RequestStatus.OPEN)).subquery()
    kept = s.scalar(select(func.count()).select_from(Item)
                    .join(protected, protected.c.item_id == Item.id).where(*due)) or 0
    return total - kept


@dataclass
class SeriesLine:
    code: str
    title: str
    action: str | None
    authority: str
    authority_url: str | None
    count: int
    oldest_published: str | None
    newest_published: str | None
    earliest_disposition_date: str | None
    latest_disposition_date: str | None


@dataclass
class RetentionReport:
    as_of: str
    schedule: str | None
    schedule_sha256: str | None
    eligible: int = 0
    series: list[SeriesLine] = field(default_factory=list)
    held_back_by_hold: list[dict[str, Any]] = field(default_factory=list)
    held_back_by_requests: int = 0
    # Open requests without a scope: while there is one, nothing at all may be disposed of.
    blocked_by_requests: list[dict[str, Any]] = field(default_factory=list)
    held_back_unconfirmed: list[dict[str, Any]] = field(default_factory=list)
    without_series: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def retention_report(archive: Archive, as_of: date) -> RetentionReport:
    """Who may go on ``as_of`` and who is held back, and why."""
    with archive.sessions() as s:
        schedule = active_schedule(s)
        report = RetentionReport(as_of=as_of.isoformat(),
                                 schedule=schedule.name if schedule else None,
                                 schedule_sha256=schedule.sha256 if schedule else None)
        report.without_series = s.scalar(select(func.count()).select_from(Item).where(
            Item.series_code.is_(None), Item.disposed_at.is_(None))) or 0
        report.blocked_by_requests = [
            {"request_id": u.request_id, "received_on": u.received_on.isoformat(),
             "reason": u.reason} for u in unscoped_requests(s)]
        if schedule is None:
            return report
        _fill(s, schedule, as_of, report)
    return report


def _fill(s: Session, schedule: Schedule, as_of: date, report: RetentionReport) -> None:
    codes = confirmed_codes(schedule)
    eligible = eligible_ids_query(schedule, as_of).subquery()
    rows = s.execute(
        select(Item.series_code, func.count(), func.min(Item.published_at),
               func.max(Item.published_at), func.min(Item.disposition_date),
               func.max(Item.disposition_date))
        .where(Item.id.in_(select(eligible.c.id))).group_by(Item.series_code)
        .order_by(Item.series_code))
    for code, count, oldest, newest, first_due, last_due in rows:
        assert code is not None  # eligibility requires a confirmed series
        series = schedule.series[code]
        report.series.append(SeriesLine(
            code=code, title=series.title, action=series.action,
            authority=series.authority.citation, authority_url=series.authority.url,
            count=count, oldest_published=_iso(oldest), newest_published=_iso(newest),
            earliest_disposition_date=_iso(first_due), latest_disposition_date=_iso(last_due)))
        report.eligible += count
    due_confirmed = (*_due(as_of), Item.series_code.in_(codes))
    for name, matter, count in s.execute(
            select(Hold.name, Hold.matter, func.count(func.distinct(HoldItem.item_id)))
            .join(HoldItem, HoldItem.hold_id == Hold.id).join(Item, Item.id == HoldItem.item_id)
            .where(Hold.released_at.is_(None), *due_confirmed)
            .group_by(Hold.id, Hold.name, Hold.matter).order_by(Hold.name)):
        report.held_back_by_hold.append({"hold": name, "matter": matter, "items": count})
    report.held_back_by_requests = s.scalar(
        select(func.count()).select_from(Item).where(*due_confirmed,
                                                     request_protected_clause())) or 0
    unconfirmed = [c for c in schedule.series if c not in codes]
    for code, count in s.execute(
            select(Item.series_code, func.count()).where(*_due(as_of),
                                                         Item.series_code.in_(unconfirmed))
            .group_by(Item.series_code).order_by(Item.series_code)):
        report.held_back_unconfirmed.append({
            "series": code, "items": count,
            "reason": "the series' authority is not confirmed by the agency (confirmed: false)"})


CSV_FIELDS = ("item_id", "series", "disposition_date", "account_id", "platform", "external_id",
              "kind", "status", "published_at", "first_captured_at")


def write_csv(archive: Archive, as_of: date, path: Path, batch: int = 5000) -> int:
    """One row per eligible item (streamed); returns the number of rows."""
    count = 0
    with archive.sessions() as s, path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_FIELDS)
        schedule = active_schedule(s)
        if schedule is None:
            return 0
        eligible = eligible_ids_query(schedule, as_of).subquery()
        rows = s.execute(
            select(Item.id, Item.series_code, Item.disposition_date, Item.account_id,
                   Account.platform, Item.external_id, Item.kind, Item.status,
                   Item.published_at, Item.first_captured_at)
            .join(Account, Account.id == Item.account_id)
            .where(Item.id.in_(select(eligible.c.id))).order_by(Item.series_code, Item.id)
            .execution_options(yield_per=batch))
        for row in rows:
            writer.writerow([_iso(v) if isinstance(v, date) else v for v in row])
            count += 1
    return count


def scheduled_report(archive: Archive, as_of: date) -> RetentionReport:
    """The scheduler's daily retention job: report and record it; it never destroys anything.

    Destruction needs a person's approval (``retention purge --approve --approved-by``).
    """
    from archiver.store.audit import record_event

    report = retention_report(archive, as_of)
    with archive.transaction() as s:
        record_event(s, action="retention.report", occurred_at=archive.clock(),
                     target_type="retention_schedule", target_id=report.schedule,
                     details={"as_of": report.as_of, "eligible": report.eligible,
                              "series": {x.code: x.count for x in report.series},
                              "blocked_by_requests": [b["request_id"]
                                                      for b in report.blocked_by_requests]})
    return report
