"""The request register: KORA due dates in business days, listing order, closing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.archive import Archive
from archiver.cli import cli
from archiver.errors import ArchiverError, ConfigError
from archiver.exports.business_days import (
    HolidayCalendar,
    holidays_in,
    load_calendar,
)
from archiver.exports.requests import add_request, close_request, due_date, list_requests

NONE = HolidayCalendar()


def test_three_business_days_skip_weekends() -> None:
    assert due_date(date(2024, 5, 6), NONE) == date(2024, 5, 9)  # Monday -> Thursday
    assert due_date(date(2024, 5, 9), NONE) == date(2024, 5, 14)  # Thursday -> Tuesday
    assert due_date(date(2024, 5, 11), NONE) == date(2024, 5, 15)  # Saturday -> Wednesday


def test_default_holidays() -> None:
    default = load_calendar()
    days = holidays_in(default, [2024])
    assert date(2024, 5, 27) in days  # Memorial Day, last Monday of May
    assert date(2024, 11, 28) in days  # Thanksgiving, fourth Thursday
    assert date(2021, 12, 24) in holidays_in(default, [2021])  # Christmas on Sat, observed Fri
    # Received Friday before Memorial Day: Tue, Wed, Thu.
    assert due_date(date(2024, 5, 24), default) == date(2024, 5, 30)
    assert due_date(date(2024, 5, 24), NONE) == date(2024, 5, 29)


def test_agency_calendar_file(tmp_path: Path) -> None:
    path = tmp_path / "h.yaml"
    path.write_text("rules: []\ndates: [2024-05-07]\n")
    assert due_date(date(2024, 5, 6), load_calendar(path)) == date(2024, 5, 10)
    path.write_text("rules: [{name: bad, month: 13, day: 1}]\n")
    with pytest.raises(ConfigError, match="bad"):
        load_calendar(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_calendar(tmp_path / "missing.yaml")


def test_register_lists_overdue_first_and_closes(archive: Archive) -> None:
    archive.clock = lambda: datetime(2024, 5, 20, 15, tzinfo=UTC)
    add_request(archive, "late", received_on=date(2024, 5, 1), calendar=NONE, actor="a")
    add_request(archive, "soon", received_on=date(2024, 5, 17), calendar=NONE, actor="a",
                requester="R")
    add_request(archive, "later", received_on=date(2024, 5, 20), calendar=NONE, actor="a")
    with pytest.raises(ArchiverError, match="already registered"):
        add_request(archive, "late", received_on=date(2024, 5, 1), calendar=NONE, actor="a")
    views = list_requests(archive, NONE)
    assert [v.request_id for v in views] == ["late", "soon", "later"]
    assert views[0].overdue and views[0].business_days_left < 0
    assert views[1].due_on == date(2024, 5, 22) and views[1].business_days_left == 2
    close_request(archive, "late", actor="a")
    assert [v.request_id for v in list_requests(archive, NONE)] == ["soon", "later"]
    assert len(list_requests(archive, NONE, include_closed=True)) == 3
    with pytest.raises(ArchiverError, match="already closed"):
        close_request(archive, "late", actor="a")


def test_cli(archive: Archive, settings_env: dict[str, str], tmp_path: Path) -> None:
    holidays = tmp_path / "h.yaml"
    holidays.write_text("dates: [2024-05-07]\n")
    env = {**settings_env, "ARCHIVER_HOLIDAYS": str(holidays)}
    runner = CliRunner()
    result = runner.invoke(cli, ["requests", "add", "K-1", "--received", "2024-05-06",
                                 "--requester", "Paper"], env=env)
    assert result.exit_code == 0, result.output
    assert "due 2024-05-10" in result.output
    listed = runner.invoke(cli, ["requests", "list", "--json"], env=env)
    assert '"request_id": "K-1"' in listed.output
    assert runner.invoke(cli, ["requests", "close", "K-1"], env=env).exit_code == 0
    bad = runner.invoke(cli, ["requests", "add", "K-2", "--received", "May 6"], env=env)
    assert bad.exit_code != 0 and "YYYY-MM-DD" in str(bad.exception)
