"""Reading the dates people type, in the agency's time zone."""

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
