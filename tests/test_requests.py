"""The request register: KORA due dates in business days, listing order, closing."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.cli import cli
from archiver.errors import ArchiverError, ConfigError
from archiver.exports.business_days import (
    HolidayCalendar,
    holidays_in,
    load_calendar,
)
from archiver.exports.requests import add_request, close_request, due_date, list_requests
from archiver.retention.certificate import report_lines
from archiver.retention.purge import purge
from archiver.retention.report import retention_report
from archiver.retention.scope import ProtectionScope
from archiver.store.archive import Archive
from archiver.store.models import Item, Tombstone
from tests.support.retention import TOKEN_ENV, Captured, captured, set_today  # noqa: F401

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


# -- a request protects its scope from the day it is registered --------------------------------

LATE = date(2030, 1, 1)


def _tombstoned(archive: Archive) -> set[int]:
    with archive.sessions() as s:
        return set(s.scalars(select(Tombstone.item_id)))


def _eligible_now(archive: Archive, item_ids: set[int]) -> set[int]:
    with archive.sessions() as s:
        return set(s.scalars(select(Item.id).where(Item.id.in_(item_ids),
                                                   Item.disposition_date <= LATE)))


def test_registered_request_protects_its_scope_before_any_export(
        captured: Captured, tmp_path: Path) -> None:  # noqa: F811
    archive = captured.archive
    set_today(archive, LATE)
    parade = _eligible_now(archive, archive.index.matching("parade"))
    assert parade
    view = add_request(archive, "K-1", received_on=date(2029, 12, 31), calendar=NONE,
                       actor="clerk", scope=ProtectionScope(query="parade"))
    assert not view.blocks_disposition and view.protected_items >= len(parade)
    report = retention_report(archive, LATE)
    assert report.held_back_by_requests == len(parade) and not report.blocked_by_requests
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path)
    assert result.destroyed > 0
    assert not parade & _tombstoned(archive)
    close_request(archive, "K-1", actor="clerk")
    assert purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path).destroyed == len(
        parade)


def test_item_captured_later_in_a_request_scope_is_protected(
        captured: Captured, tmp_path: Path) -> None:  # noqa: F811
    archive = captured.archive
    add_request(archive, "K-3", received_on=date(2024, 6, 3), calendar=NONE, actor="clerk",
                scope=ProtectionScope(query="zanzibar"))
    result = captured.comment_later("the zanzibar crew was here")
    assert result.status == "succeeded" and result.new_items == 1
    with archive.sessions() as s:
        new_id = s.scalar(select(Item.id).where(Item.external_id.endswith("_99999")))
    assert new_id is not None
    set_today(archive, LATE)
    assert purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path).destroyed > 0
    assert new_id not in _tombstoned(archive)


def test_unscoped_request_blocks_every_purge_until_it_has_a_scope(
        captured: Captured, settings_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    archive = captured.archive
    set_today(archive, LATE)
    runner = CliRunner(env=settings_env)
    added = runner.invoke(cli, ["requests", "add", "K-2", "--received", "2029-12-31"])
    assert added.exit_code == 0, added.output
    assert "no scope" in added.output
    report = retention_report(archive, LATE)
    assert report.eligible == 0 and not report.series
    assert [b["request_id"] for b in report.blocked_by_requests] == ["K-2"]
    assert "no scope" in report.blocked_by_requests[0]["reason"]
    with pytest.raises(ArchiverError, match="K-2"):
        purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path)
    assert not _tombstoned(archive)
    text = runner.invoke(cli, ["retention", "report", "--as-of", "2030-01-01",
                               "--pdf", str(tmp_path / "r.pdf")])
    assert text.exit_code == 0, text.output
    assert any("K-2" in line and "no scope" in line for line in text.output.splitlines())
    as_json = json.loads(runner.invoke(cli, ["retention", "report", "--as-of", "2030-01-01",
                                             "--json"]).output)
    assert as_json["blocked_by_requests"][0]["request_id"] == "K-2"
    assert any("K-2" in line and "no scope" in line for line in report_lines(as_json))
    if shutil.which("pdftotext"):
        pdf_text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"],
                                  capture_output=True, text=True, check=True).stdout
        assert "K-2" in pdf_text and "no scope" in pdf_text
    listed = json.loads(runner.invoke(cli, ["requests", "list", "--json"]).output)
    assert listed[0]["blocks_disposition"] is True
    parade = _eligible_now(archive, archive.index.matching("parade"))
    scoped = runner.invoke(cli, ["requests", "scope", "K-2", "--query", "parade"])
    assert scoped.exit_code == 0, scoped.output
    report = retention_report(archive, LATE)
    assert not report.blocked_by_requests and report.eligible > 0
    assert report.held_back_by_requests == len(parade)
    assert purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path).destroyed > 0
    assert not parade & _tombstoned(archive)


def test_cli_request_scope_options(captured: Captured,  # noqa: F811
                                   settings_env: dict[str, str]) -> None:
    runner = CliRunner(env=settings_env)
    made = runner.invoke(cli, ["requests", "add", "K-4", "--received", "2024-05-06",
                               "--query", "parade", "--account", str(captured.account.id),
                               "--since", "2024-01-01", "--json"])
    assert made.exit_code == 0, made.output
    data = json.loads(made.output)
    assert data["blocks_disposition"] is False and data["protected_items"] > 0
    assert data["scope"][0]["query"] == "parade"
    assert data["scope"][0]["filters"]["account_id"] == captured.account.id
    every = runner.invoke(cli, ["requests", "add", "K-5", "--received", "2024-05-06", "--all"])
    assert every.exit_code == 0, every.output
    both = runner.invoke(cli, ["requests", "scope", "K-5", "--all", "--query", "x"])
    assert both.exit_code == 1 and "--all" in str(both.exception)
    none = runner.invoke(cli, ["requests", "scope", "K-5"])
    assert none.exit_code == 1 and "--all" in str(none.exception)
    unknown = runner.invoke(cli, ["requests", "scope", "nope", "--all"])
    assert unknown.exit_code == 1
