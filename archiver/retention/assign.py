"""Assigning items to record series and computing their disposition dates.

``disposition_date`` is the first day (agency time zone) on which the item may be disposed:
the trigger's date plus the series' retention period. It is None for a ``permanent`` series and
for a trigger that has not happened yet (``removed`` for an item still online). Items already
disposed keep what they had: their tombstone is the record of it.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from archiver.retention.schedule import Period, RetentionTrigger, Schedule, Series
from archiver.store.models import Account, Item, ItemVersion, RetentionSchedule
from archiver.store.threads import ThreadKey, in_threads, thread_key, thread_keys

CHUNK = 1000


def active_schedule(session: Session) -> Schedule | None:
    """The schedule that assigns series now, or None before any was loaded."""
    text = session.scalar(select(RetentionSchedule.document_json)
                          .where(RetentionSchedule.active.is_(True)))
    return Schedule.from_json(text) if text else None


def add_period(start: date, period: Period) -> date:
    """``start`` plus the period; a month end that does not exist falls back (Feb 29 -> 28)."""
    months = start.month - 1 + period.months + 12 * period.years
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) + timedelta(days=period.days)


@dataclass(frozen=True)
class ItemFacts:
    """What the trigger of a series looks at, as dates in the agency's time zone."""

    published: date | None
    captured: date
    removed: date | None
    last_activity: date | None


def retention_start(series: Series, facts: ItemFacts, fiscal_end: tuple[int, int]) -> date | None:
    """The day the retention clock starts for ``series`` (None: not yet, or permanent)."""
    published = facts.published or facts.captured  # no publication time: the capture is earliest
    match series.trigger:
        case RetentionTrigger.PUBLISHED:
            return published
        case RetentionTrigger.CAPTURED:
            return facts.captured
        case RetentionTrigger.REMOVED:
            return facts.removed
        case RetentionTrigger.END_OF_CALENDAR_YEAR_AFTER_PUBLISHED:
            return date(published.year, 12, 31)
        case RetentionTrigger.END_OF_FISCAL_YEAR_AFTER_PUBLISHED:
            month, day = fiscal_end
            end = date(published.year, month, day)
            return end if published <= end else date(published.year + 1, month, day)
        case RetentionTrigger.LAST_ACTIVITY_IN_THREAD:
            return facts.last_activity or published
        case _:
            return None


def disposition_date(series: Series, start: date | None) -> date | None:
    if start is None or series.period is None or series.action is None:
        return None
    return add_period(start, series.period)


def _local(moment: datetime | None, tz: ZoneInfo) -> date | None:
    return moment.astimezone(tz).date() if moment is not None else None


def _thread(item: Item) -> ThreadKey:
    return thread_key(item.account_id, item.external_id, item.scope)


def assign_items(session: Session, schedule: Schedule | None, tz: ZoneInfo,
                 item_ids: Sequence[int]) -> int:
    """Set series, publication time and dates of ``item_ids``; return how many changed.

    With a ``last_activity_in_thread`` series in the schedule, every item of the touched threads
    is recomputed too, since a new comment moves the whole thread's date.
    """
    if schedule is None or not item_ids:
        return 0
    changed = 0
    ids = list(dict.fromkeys(item_ids))
    _set_published(session, ids)
    if needs_thread_activity(schedule):
        ids = _with_threads(session, ids)
    for start in range(0, len(ids), CHUNK):
        changed += _assign_chunk(session, schedule, tz, ids[start:start + CHUNK])
    return changed


def needs_thread_activity(schedule: Schedule) -> bool:
    """A thread-activity trigger depends on other items' rows, so an item's dates cannot be
    computed from the item alone (capture then leaves assignment to :func:`assign_items`)."""
    return any(s.trigger == RetentionTrigger.LAST_ACTIVITY_IN_THREAD
               for s in schedule.series.values())


def series_of(schedule: Schedule, account: Account, kind: str) -> Series:
    """The series ``schedule`` gives an item of ``kind`` on ``account``."""
    return schedule.series_for(
        platform=account.platform,
        account=(str(account.id), account.external_id, account.handle),
        kind=kind,
        tags=[t for t in (account.tags or "").split(",") if t],
    )


def assignment(schedule: Schedule, series: Series,
               facts: ItemFacts) -> tuple[str, date | None, date | None]:
    """An item's series code, retention start and disposition date under ``schedule``."""
    start = retention_start(series, facts, schedule.fiscal_year_end)
    return series.code, start, disposition_date(series, start)


@dataclass
class CaptureAssigner:
    """Series and dates for the items one capture stores, computed from what capture already
    holds, so the hot path writes them with its own statements instead of reading rows back.

    The active schedule is re-read only when its row changes (one small query per batch), so a
    schedule loaded mid-run applies from the next batch on; ``archiver retention load``
    recomputes every item anyway.
    """

    tz: ZoneInfo
    _key: tuple[int, str] | None = None
    _schedule: Schedule | None = None
    _series: dict[tuple[int, str], Series] = field(default_factory=dict)

    def schedule(self, session: Session) -> Schedule | None:
        """The active schedule; None before one is loaded."""
        row = session.execute(select(RetentionSchedule.id, RetentionSchedule.sha256)
                              .where(RetentionSchedule.active.is_(True))).first()
        key = (row[0], row[1]) if row else None
        if key != self._key:
            self._key, self._schedule = key, active_schedule(session)
            self._series.clear()
        return self._schedule

    def fields(self, schedule: Schedule, account: Account, kind: str, *,
               published: datetime | None, captured: datetime,
               removed: datetime | None) -> dict[str, object]:
        """The item columns assignment sets (``published_at`` included)."""
        series = self._series.get((account.id, kind))
        if series is None:
            series = self._series[(account.id, kind)] = series_of(schedule, account, kind)
        facts = ItemFacts(published=_local(published, self.tz),
                          captured=captured.astimezone(self.tz).date(),
                          removed=_local(removed, self.tz), last_activity=None)
        code, start, due = assignment(schedule, series, facts)
        return {"series_code": code, "published_at": published, "retention_start": start,
                "disposition_date": due}


def _set_published(session: Session, ids: list[int]) -> None:
    """Copy the current version's publication time onto the item (used by SQL and threads)."""
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = session.execute(
            select(Item.id, ItemVersion.created_at)
            .join(ItemVersion, and_(ItemVersion.item_id == Item.id,
                                    ItemVersion.seq == Item.current_seq))
            .where(Item.id.in_(chunk), Item.disposed_at.is_(None))
        ).all()
        if rows:
            session.execute(update(Item), [{"id": i, "published_at": p} for i, p in rows])


def _with_threads(session: Session, ids: list[int]) -> list[int]:
    threads: dict[int, set[str]] = defaultdict(set)
    for key in thread_keys(session, ids).values():
        threads[key.account_id].add(key.post)
    extra: list[int] = []
    for account_id, posts in threads.items():
        names = sorted(posts)
        for start in range(0, len(names), CHUNK):
            extra.extend(session.scalars(select(Item.id).where(
                in_threads(account_id, names[start:start + CHUNK]))))
    return list(dict.fromkeys([*ids, *extra]))


def _thread_activity(session: Session, items: Sequence[Item], tz: ZoneInfo,
                     ) -> dict[ThreadKey, date]:
    wanted: dict[int, set[str]] = defaultdict(set)
    for item in items:
        wanted[item.account_id].add(_thread(item).post)
    latest: dict[ThreadKey, date] = {}
    for account_id, posts in wanted.items():
        rows = session.execute(
            select(Item.external_id, Item.scope, Item.published_at, Item.first_captured_at)
            .where(in_threads(account_id, list(posts))))
        for external_id, scope, published, captured in rows:
            key = thread_key(account_id, external_id, scope)
            day = _local(published or captured, tz)
            assert day is not None
            if key not in latest or day > latest[key]:
                latest[key] = day
    return latest


def _assign_chunk(session: Session, schedule: Schedule, tz: ZoneInfo, ids: list[int]) -> int:
    items = list(session.scalars(select(Item).where(Item.id.in_(ids),
                                                    Item.disposed_at.is_(None))))
    if not items:
        return 0
    accounts = {a.id: a for a in session.scalars(
        select(Account).where(Account.id.in_({i.account_id for i in items})))}
    activity = _thread_activity(session, items, tz) if needs_thread_activity(schedule) else {}
    updates = []
    for item in items:
        facts = ItemFacts(
            published=_local(item.published_at, tz),
            captured=item.first_captured_at.astimezone(tz).date(),
            removed=_local(item.removed_detected_at, tz),
            last_activity=activity.get(_thread(item)),
        )
        assigned = assignment(schedule, series_of(schedule, accounts[item.account_id], item.kind),
                              facts)
        if (item.series_code, item.retention_start, item.disposition_date) != assigned:
            code, start, due = assigned
            updates.append({"id": item.id, "series_code": code,
                            "retention_start": start, "disposition_date": due})
    if updates:
        session.execute(update(Item), updates)
    return len(updates)


def iter_item_ids(session: Session, batch: int = 5000) -> Iterator[list[int]]:
    """Every live item id, in batches (ids ascending), without holding them all in memory."""
    last = 0
    while True:
        ids = list(session.scalars(select(Item.id).where(Item.id > last, Item.disposed_at.is_(None))
                                   .order_by(Item.id).limit(batch)))
        if not ids:
            return
        yield ids
        last = ids[-1]
