"""Dates and times in the agency's time zone: reading what people type, showing what they read."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from archiver.errors import ArchiverError


def parse_date(text: str, option: str) -> date:
    """``YYYY-MM-DD`` or a clear error naming the option."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ArchiverError(f"{option}: {text!r} is not a date (use YYYY-MM-DD)") from None


def parse_moment(text: str, option: str, tz: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    """A date or an ISO datetime as an aware UTC datetime.

    A bare date means the start of that day in the agency's zone (or its last instant with
    ``end_of_day``, so ``--until 2024-05-01`` includes all of May 1st local time).
    """
    if len(text) == 10:
        day = parse_date(text, option)
        if end_of_day:
            local = datetime.combine(day + timedelta(days=1), time.min, tz) - timedelta(
                microseconds=1
            )
        else:
            local = datetime.combine(day, time.min, tz)
        return local.astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ArchiverError(
            f"{option}: {text!r} is not a date or time (use YYYY-MM-DD or ISO 8601)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


UNKNOWN_MOMENT = "(unknown)"


def show_moment(moment: datetime | None, tz: ZoneInfo) -> str:
    """A stored moment as a reader sees it: ``2026-11-30 05:12 CST``, in the agency's zone with
    the zone named, to the minute. The exact UTC instant stays in the JSON records.

    A naive datetime is taken as UTC (the archive stores UTC). A zone without an abbreviation
    (``-03``) is named by its offset, ``UTC-03``.
    """
    if moment is None:
        return UNKNOWN_MOMENT
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    name = local.tzname() or "UTC" + local.strftime("%z")
    if name[:1] in "+-":
        name = "UTC" + name
    return f"{local:%Y-%m-%d %H:%M} {name}"


def show_iso(text: object, tz: ZoneInfo) -> str:
    """:func:`show_moment` of an ISO 8601 time written by a connector; anything else as given
    (it is platform text, shown verbatim)."""
    if not isinstance(text, str) or not text:
        return UNKNOWN_MOMENT
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return show_moment(moment, tz)
