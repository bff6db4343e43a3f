"""Jinja filters the templates share: times in the agency's zone, counts, status words."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask

from archiver.dates import show_moment
from archiver.web.desk import archive
from archiver.wording import counted


def shown_time(value: Any) -> str:
    """A stored UTC time (datetime or ISO text) in ``ARCHIVER_TIMEZONE`` with the zone named."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return show_moment(value, archive().settings.tz)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def register(app: Flask) -> None:
    app.add_template_filter(shown_time, "time")
    app.add_template_filter(counted, "counted")
