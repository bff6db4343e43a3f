"""Business days for KORA deadlines: weekends and the agency's configured holidays excluded."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from archiver.config import path_setting
from archiver.errors import ConfigError
from archiver.inputs.yaml_files import line_of, load_yaml, read_yaml

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


RULE_KEYS = frozenset({"name", "month", "day", "weekday", "nth", "observed"})
FILE_KEYS = frozenset({"rules", "dates"})


def _whole(entry: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key} {value!r} is not a whole number from {low} to {high}")
    return value


def _rule(entry: Any, where: str) -> HolidayRule:
    if not isinstance(entry, Mapping) or "month" not in entry:
        raise ConfigError(f"{where}: each rule needs at least a name and a month")
    name = entry.get("name", "holiday")
    try:
        unknown = sorted(map(str, set(entry) - RULE_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)} "
                             f"(allowed: {', '.join(sorted(RULE_KEYS))})")
        if not isinstance(name, str):
            raise ValueError("name must be text")
        observed = entry.get("observed", False)
        if not isinstance(observed, bool):
            raise ValueError("observed must be true or false")
        nth = _whole(entry, "nth", -4, 4)
        if nth == 0:
            raise ValueError("nth 0 is not a week: use 1 to 4, or -1 (the last) to -4")
        month = _whole(entry, "month", 1, 12)
        if month is None:
            raise ValueError("month is missing")
        rule = HolidayRule(name=name, month=month,
                           day=_whole(entry, "day", 1, 31), weekday=_whole(entry, "weekday", 0, 6),
                           nth=nth, observed=observed)
        if (rule.day is None) == (rule.weekday is None or rule.nth is None):
            raise ValueError("give either day, or weekday and nth")
        if rule.day is not None:
            try:
                date(2001, rule.month, rule.day)  # a common year: Feb 29 is not kept every year
            except ValueError:
                raise ValueError(f"{rule.month:02d}-{rule.day:02d} is not a day of every "
                                 "year") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: rule {name!r}: {exc}") from None
    return rule


def parse_calendar(data: Any, where: str) -> HolidayCalendar:
    """A calendar from the YAML file's parsed content; errors name ``where`` and the line
    (when ``data`` comes from :func:`archiver.inputs.yaml_files.load_yaml`)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}:1: expected 'rules' and 'dates' keys")
    unknown = sorted(map(str, set(data) - FILE_KEYS))
    if unknown:
        raise ConfigError(f"{where}:{line_of(data, 1)}: unknown key(s) {', '.join(unknown)} "
                          "(allowed: dates, rules)")
    rules_data, dates_data = data.get("rules") or [], data.get("dates") or []
    for key, value in (("rules", rules_data), ("dates", dates_data)):
        if not isinstance(value, list):
            raise ConfigError(f"{where}:{line_of(value, line_of(data, 1))}: '{key}' must be a "
                              "list")
    rules = tuple(_rule(r, f"{where}:{line_of(r, line_of(rules_data, 1))}") for r in rules_data)
    dates: set[date] = set()
    for value in dates_data:
        try:
            if isinstance(value, datetime):
                raise ValueError("a time is not a day")
            dates.add(value if isinstance(value, date) else date.fromisoformat(str(value)))
        except ValueError:
            raise ConfigError(f"{where}:{line_of(value, line_of(dates_data, 1))}: {value!r} is "
                              "not a date (YYYY-MM-DD)") from None
    return HolidayCalendar(rules=rules, dates=frozenset(dates))


def load_calendar(path: Path | None = None) -> HolidayCalendar:
    """The holidays in ``path``, or the shipped default (U.S. federal holidays)."""
    if path is None:
        where = "default holidays"
        text = resources.files("archiver.exports").joinpath("holidays.yaml").read_text("utf-8")
        return parse_calendar(load_yaml(text, where), where)
    where = f"{HOLIDAYS_ENV}: {path}"
    return parse_calendar(read_yaml(path, where), where)


def calendar_from_env(environ: Mapping[str, str]) -> HolidayCalendar:
    """The calendar named by ``ARCHIVER_HOLIDAYS``, or the default."""
    value = environ.get(HOLIDAYS_ENV)
    return load_calendar(path_setting(HOLIDAYS_ENV, value, resolve=False) if value else None)


def holidays_in(calendar_: HolidayCalendar, years: Iterable[int]) -> list[date]:
    """Every holiday of ``years``, sorted (for listings and tests)."""
    days = {rule.on(y) for rule in calendar_.rules for y in years}
    days |= {d for d in calendar_.dates if d.year in set(years)}
    return sorted(days)
