"""Business days for KORA deadlines: weekends and the agency's configured holidays excluded."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from archiver.errors import ConfigError

HOLIDAYS_ENV = "ARCHIVER_HOLIDAYS"
# K.S.A. 45-218(d): "not later than the end of the third business day following the date
# that the request is received".
KORA_BUSINESS_DAYS = 3


@dataclass(frozen=True)
class HolidayRule:
    """A fixed date (``day``) or the ``nth`` ``weekday`` of ``month`` (nth -1 = the last)."""

    name: str
    month: int
    day: int | None = None
    weekday: int | None = None
    nth: int | None = None
    observed: bool = False

    def on(self, year: int) -> date:
        """The day this holiday is kept in ``year``."""
        if self.day is not None:
            day = date(year, self.month, self.day)
            if self.observed and day.weekday() == 5:
                return day - timedelta(days=1)
            if self.observed and day.weekday() == 6:
                return day + timedelta(days=1)
            return day
        assert self.weekday is not None and self.nth is not None
        weeks = calendar.Calendar().monthdatescalendar(year, self.month)
        matching = [d for week in weeks for d in week
                    if d.month == self.month and d.weekday() == self.weekday]
        return matching[self.nth - 1] if self.nth > 0 else matching[self.nth]


@dataclass(frozen=True)
class HolidayCalendar:
    """Rules that recur every year plus one-off dates."""

    rules: tuple[HolidayRule, ...] = ()
    dates: frozenset[date] = field(default_factory=frozenset)

    def is_holiday(self, day: date) -> bool:
        return day in self.dates or any(rule.on(day.year) == day for rule in self.rules)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def add_business_days(self, start: date, days: int) -> date:
        """The ``days``-th business day after ``start`` (``start`` itself never counts)."""
        current = start
        left = days
        while left > 0:
            current += timedelta(days=1)
            if self.is_business_day(current):
                left -= 1
        return current

    def business_days_between(self, start: date, end: date) -> int:
        """Business days after ``start`` up to and including ``end`` (negative if end < start)."""
        if end < start:
            return -self.business_days_between(end, start)
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_business_day(current):
                count += 1
        return count


def _rule(entry: Any, where: str) -> HolidayRule:
    if not isinstance(entry, Mapping) or "month" not in entry:
        raise ConfigError(f"{where}: each rule needs at least a name and a month")
    try:
        rule = HolidayRule(
            name=str(entry.get("name", "holiday")), month=int(entry["month"]),
            day=None if entry.get("day") is None else int(entry["day"]),
            weekday=None if entry.get("weekday") is None else int(entry["weekday"]),
            nth=None if entry.get("nth") is None else int(entry["nth"]),
            observed=bool(entry.get("observed", False)),
        )
        if (rule.day is None) == (rule.weekday is None or rule.nth is None):
            raise ValueError("give either day, or weekday and nth")
        rule.on(2000)
    except (ValueError, TypeError, IndexError) as exc:
        raise ConfigError(f"{where}: rule {entry.get('name')!r}: {exc}") from None
    return rule


def parse_calendar(data: Any, where: str) -> HolidayCalendar:
    """A calendar from the YAML file's parsed content; errors name ``where``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected 'rules' and 'dates' keys")
    rules = tuple(_rule(r, where) for r in data.get("rules") or [])
    dates: set[date] = set()
    for value in data.get("dates") or []:
        try:
            dates.add(value if isinstance(value, date) else date.fromisoformat(str(value)))
        except ValueError:
            raise ConfigError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None
    return HolidayCalendar(rules=rules, dates=frozenset(dates))


def load_calendar(path: Path | None = None) -> HolidayCalendar:
    """The holidays in ``path``, or the shipped default (U.S. federal holidays)."""
    if path is None:
        text = resources.files("archiver.exports").joinpath("holidays.yaml").read_text("utf-8")
        where = "default holidays"
    else:
        where = f"{HOLIDAYS_ENV} ({path})"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"{where}: not valid YAML") from None
    return parse_calendar(data, where)


def calendar_from_env(environ: Mapping[str, str]) -> HolidayCalendar:
    """The calendar named by ``ARCHIVER_HOLIDAYS``, or the default."""
    value = environ.get(HOLIDAYS_ENV)
    return load_calendar(Path(value).expanduser() if value else None)


def holidays_in(calendar_: HolidayCalendar, years: Iterable[int]) -> list[date]:
    """Every holiday of ``years``, sorted (for listings and tests)."""
    days = {rule.on(y) for rule in calendar_.rules for y in years}
    days |= {d for d in calendar_.dates if d.year in set(years)}
    return sorted(days)
