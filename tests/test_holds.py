"""Legal holds: scope now and later, never disposed, blob holds, audit, CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.cli import cli
from archiver.errors import ArchiverError
from archiver.retention.holds import HoldSpec, create_hold, hold_detail, release_hold
from archiver.retention.purge import purge
from archiver.retention.report import retention_report
from archiver.store.models import AuditEvent, Hold, Item, ItemVersion, Tombstone
from tests.support.retention import TOKEN_ENV, Captured, captured, set_today  # noqa: F401

LATE = date(2030, 1, 1)


def _blobs(c: Captured, item_ids: list[int]) -> list[str]:
    with c.archive.sessions() as s:
        return [h for h in s.scalars(select(ItemVersion.record_sha256)
                                     .where(ItemVersion.item_id.in_(item_ids))) if h]


def test_held_items_survive_purge_until_released(captured: Captured,  # noqa: F811
                                                 tmp_path: Path) -> None:
    archive = captured.archive
    set_today(archive, LATE)
    data = create_hold(archive, HoldSpec(name="smith-v-city", matter="Smith v. City",
                                         created_by="Counsel", account_id=captured.account.id))
    held = hold_detail(archive, "smith-v-city")["item_ids"]
    assert data["items"] == len(held) > 0
    for sha in _blobs(captured, held):
        assert archive.store.is_held(sha)
    report = retention_report(archive, LATE)
    assert report.eligible == 0
    assert report.held_back_by_hold[0]["hold"] == "smith-v-city"
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path)
    assert result.destroyed == 0
    with archive.sessions() as s:
        assert s.scalar(select(Tombstone.id)) is None
    release_hold(archive, "smith-v-city", released_by="Counsel", reason="case settled")
    for sha in _blobs(captured, held):
        assert not archive.store.is_held(sha)
    with pytest.raises(ArchiverError, match="already released"):
        release_hold(archive, "smith-v-city", released_by="Counsel", reason="again")
    assert purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path).destroyed > 0
    with archive.sessions() as s:
        actions = list(s.scalars(select(AuditEvent.action)))
    assert "hold.create" in actions and "hold.release" in actions


def test_item_captured_later_is_held_at_once(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    create_hold(archive, HoldSpec(name="threats", matter="Threat investigation",
                                  created_by="Detective", query="zanzibar"))
    assert hold_detail(archive, "threats")["items"] == 0
    result = captured.comment_later("I will bring the zanzibar crew")
    assert result.status == "succeeded" and result.new_items == 1
    detail = hold_detail(archive, "threats")
    assert len(detail["item_ids"]) == 1
    with archive.sessions() as s:
        item = s.get(Item, detail["item_ids"][0])
        assert item is not None and item.external_id.endswith("_99999")
        # Published 2024-06-01 00:00 UTC is May 31 in the agency's zone (America/Chicago).
        assert item.series_code == "COMMENTS" and item.disposition_date == date(2024, 6, 30)
    set_today(archive, LATE)
    purge(archive, LATE, approved_by="R. Manager")
    with archive.sessions() as s:
        assert s.scalar(select(Tombstone.id).where(Tombstone.item_id == item.id)) is None


def test_hold_cli(captured: Captured, settings_env: dict[str, str]) -> None:  # noqa: F811
    runner = CliRunner(env=settings_env)
    made = runner.invoke(cli, ["hold", "create", "h1", "--matter", "M", "--since", "2024-04-05",
                               "--custodian", "PIO", "--created-by", "Counsel", "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["custodians"] == ["PIO"]
    listed = runner.invoke(cli, ["hold", "list", "--json"])
    assert json.loads(listed.output)[0]["name"] == "h1"
    shown = runner.invoke(cli, ["hold", "show", "h1", "--json"])
    assert json.loads(shown.output)["status"] == "active"
    dup = runner.invoke(cli, ["hold", "create", "h1", "--matter", "M", "--all"])
    assert dup.exit_code == 1
    released = runner.invoke(cli, ["hold", "release", "h1", "--released-by", "Counsel",
                                   "--reason", "closed"])
    assert released.exit_code == 0, released.output
    item = runner.invoke(cli, ["items", "show", "1", "--json"])
    row = json.loads(item.output)
    assert row["series"] in ("POSTS", "COMMENTS") and row["disposition_date"]


def test_hold_without_scope_is_refused_unless_all(captured: Captured,  # noqa: F811
                                                  settings_env: dict[str, str]) -> None:
    archive = captured.archive
    with pytest.raises(ArchiverError, match="--all"):
        create_hold(archive, HoldSpec(name="h2", matter="M", created_by="Counsel"))
    runner = CliRunner(env=settings_env)
    refused = runner.invoke(cli, ["hold", "create", "h2", "--matter", "M"])
    assert refused.exit_code == 1 and "--all" in str(refused.exception)
    assert "\n" not in str(refused.exception)
    both = runner.invoke(cli, ["hold", "create", "h2", "--matter", "M", "--all", "--query", "x"])
    assert both.exit_code == 1 and "--all" in str(both.exception)
    with archive.sessions() as s:
        assert s.scalar(select(Hold.id)) is None
        total = len(list(s.scalars(select(Item.id))))
    made = runner.invoke(cli, ["hold", "create", "h2", "--matter", "M", "--all", "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["items"] == total
    shown = runner.invoke(cli, ["hold", "show", "h2"])
    assert "scope: everything (--all)" in shown.output.splitlines()
    assert json.loads(runner.invoke(cli, ["hold", "show", "h2", "--json"]).output)["scope"] == (
        "everything (--all)")
    scoped = runner.invoke(cli, ["hold", "create", "h3", "--matter", "M", "--query", "parade",
                                 "--account", str(captured.account.id), "--until", "2024-12-31"])
    assert scoped.exit_code == 0, scoped.output
    line = [x for x in runner.invoke(cli, ["hold", "show", "h3"]).output.splitlines()
            if x.startswith("scope: ")]
    assert line == [f"scope: query 'parade'; account {captured.account.id}; "
                    "published until 2025-01-01T05:59:59.999999+00:00"]


def test_a_saved_query_the_rules_now_refuse_holds_more_and_never_stops_capture(
        captured: Captured) -> None:  # noqa: F811
    """A hold saved before the query rules tightened ('closure OR' was once accepted) must not
    make capture fail, and must not protect less: the items it cannot test are all held."""
    archive = captured.archive
    create_hold(archive, HoldSpec(name="old-matter", matter="Old matter", created_by="Counsel",
                                  query="zanzibar"))
    with archive.transaction() as s:
        hold = s.scalars(select(Hold).where(Hold.name == "old-matter")).one()
        hold.query = "closure OR"  # as an archive made before the rules would hold it
    result = captured.comment_later("Any news on the closure?")
    assert result.status == "succeeded" and result.new_items == 1
    assert len(hold_detail(archive, "old-matter")["item_ids"]) == 1
    with archive.sessions() as s:
        events = [e for e in s.scalars(select(AuditEvent).where(
            AuditEvent.action == "hold.query_unrunnable"))]
    assert events and "closure OR" in events[0].details_json
