"""Canonical timestamps: the bytes every version and audit hash covers must never change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from archiver.canonical import iso_utc

ZONES = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 30),
                    timezones=ZONES))
def test_iso_utc_is_the_original_strftime_form(moment: datetime) -> None:
    assert iso_utc(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_iso_utc_example() -> None:
    moment = datetime(2024, 5, 1, 9, 3, 22, tzinfo=timezone(timedelta(hours=-5)))
    assert iso_utc(moment) == "2024-05-01T14:03:22.000000Z"
