"""The record store's one writer: versions sealed by one function, "versions stored" told to
every subscriber, and retention and holds always subscribed, whichever path stores versions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.capture.account import capture_account
from archiver.capture.writer import record_writer
from archiver.cli import cli
from archiver.connectors.records import ROOT_SCOPE, Record
from archiver.retention.holds import HoldSpec, create_hold, hold_detail
from archiver.retention.purge import purge
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.blob_records import store_blob
from archiver.store.db import table_of
from archiver.store.heads import Head, lock_removable, read_heads
from archiver.store.models import Account, AuditEvent, CaptureRun, Item, ItemVersion, Tombstone
from archiver.store.versions import HASHED_FIELDS, record_fingerprint, version_sha256
from archiver.store.writer import (
    Duty,
    MissingSubscriber,
    PendingVersion,
    RecordWriter,
    Subscriber,
    VersionContent,
    VersionsStored,
    record_content,
    removal_content,
    seal,
)
from tests.support.retention import (  # noqa: F401
    TOKEN_ENV,
    Captured,
    capture_sample,
    captured,
    set_today,
    use_schedule,
)

LATE = date(2030, 1, 1)
DELETED_COMMENT = "2001_3003"  # deleted in the sample's second state
EDITED_POST = "104882335720091_2012"  # edited in the sample's second state
_CONTENT = tuple(VersionContent.__dataclass_fields__)


def _versions(archive: Archive, external_id: str) -> list[Any]:
    versions = table_of(ItemVersion)
    with archive.sessions() as s:
        return list(s.execute(
            select(versions).join(Item, Item.id == versions.c.item_id)
            .where(Item.external_id == external_id).order_by(versions.c.seq)))


def test_a_new_version_and_a_removal_are_sealed_by_the_same_function(
        captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    captured.server.apply_second_state()
    result = capture_account(archive, captured.account, {TOKEN_ENV: captured.server.token},
                             sleep=lambda _s: None)
    assert result.status == "succeeded" and result.removed == 1
    for external_id, status in ((EDITED_POST, "active"), (DELETED_COMMENT, "removed")):
        before, after = _versions(archive, external_id)[-2:]
        assert after.status == status
        head = Head(before.item_id, before.seq, before.sha256, before.content_sha256)
        content = VersionContent(**{name: getattr(after, name) for name in _CONTENT})
        sealed = seal(head, content, run_id=after.capture_run_id, captured_at=after.captured_at)
        assert {k: sealed[k] for k in (*HASHED_FIELDS, "sha256")} == {
            k: getattr(after, k) for k in (*HASHED_FIELDS, "sha256")}
        assert sealed["prev_sha256"] == before.sha256 and version_sha256(sealed) == after.sha256
    before, removal = _versions(archive, DELETED_COMMENT)[-2:]
    # The removal carries the latest content on, with status removed and the platform's answer.
    assert removal_content(before, evidence_sha256=removal.evidence_sha256,
                           secrets_scrubbed=removal.secrets_scrubbed) == VersionContent(
        **{name: getattr(removal, name) for name in _CONTENT})


class _Seen:
    """What a recording subscriber was told."""

    def __init__(self) -> None:
        self.events: list[tuple[list[int], list[int], list[int], bool]] = []

    def record(self, event: VersionsStored, written: bool) -> None:
        assert event.session.in_transaction()
        self.events.append((event.item_ids, event.new_ids, event.removed_ids, written))


class _Series(Subscriber):
    """Stands in for retention: writes a series code with the heads."""

    duty = Duty.RETENTION

    def __init__(self) -> None:
        self.seen = _Seen()

    def head_fields(self, event: VersionsStored) -> list[dict[str, object]] | None:
        return [{"series_code": f"S-{v.kind}"} for v in event.versions]

    def versions_stored(self, event: VersionsStored, *, head_fields_written: bool) -> None:
        self.seen.record(event, head_fields_written)


class _Watch(Subscriber):
    """Stands in for holds: only listens."""

    duty = Duty.PROTECTION

    def __init__(self) -> None:
        self.seen = _Seen()

    def versions_stored(self, event: VersionsStored, *, head_fields_written: bool) -> None:
        self.seen.record(event, head_fields_written)


class _Rules(_Watch):
    """Stands in for the monitoring rules: only listens."""

    duty = Duty.MONITORING


def _record(external_id: str, text: str, *, kind: str = "post", scope: str = ROOT_SCOPE,
            parent: str | None = None) -> Record:
    return Record(external_id=external_id, kind=kind, scope=scope, text=text, status="active",
                  platform_status=None, author_name="Jane Doe", author_id="1",
                  created_at=datetime(2024, 5, 1, tzinfo=UTC), updated_at=None, url=None,
                  raw={"id": external_id, "message": text}, parent_external_id=parent)


def _store(archive: Archive, writer: RecordWriter, account: Account, run_id: int,
           records: list[Record], seen: list[int] | None = None) -> None:
    now = archive.clock()
    with archive.transaction() as s:
        heads = read_heads(s, account.id, [r.external_id for r in records])
        changes = []
        for r in records:
            fingerprint, media = record_fingerprint(r)
            raw = store_blob(s, archive.store, json.dumps(r.raw).encode(), None, now)
            content = record_content(r, fingerprint=fingerprint, media_json=media,
                                     record_sha256=raw, secrets_scrubbed=0)
            changes.append(PendingVersion(r, content))
        writer.store(s, account, run_id, now, seen=seen or [], changes=changes, heads=heads)


def test_versions_stored_reaches_every_subscriber_with_the_right_ids(archive: Archive) -> None:
    account = add_account(archive, AccountSpec(platform="facebook", external_id="page",
                                               handle="page"), actor="test")
    now = archive.clock()
    with archive.transaction() as s:
        run = CaptureRun(account_id=account.id, started_at=now, status="running", trigger="test",
                         seen=0, new_items=0, new_versions=0, removed=0, unconfirmed=0,
                         requests=0, retries=0, rate_limited=0)
        s.add(run)
        s.flush()
        run_id = run.id
    series, watch, rules = _Series(), _Watch(), _Rules()
    writer = RecordWriter([series, watch, rules])
    # A new post and its new comment in one batch: the comment's parent is linked all the same.
    _store(archive, writer, account, run_id, [
        _record("p1", "road closed"),
        _record("c1", "which road?", kind="comment", scope="p1", parent="p1")])
    with archive.sessions() as s:
        items = {i.external_id: i for i in s.scalars(select(Item))}
    post, comment = items["p1"], items["c1"]
    assert comment.parent_id == post.id
    assert (post.series_code, comment.series_code) == ("S-post", "S-comment")
    # The comment changes, the post is seen unchanged.
    _store(archive, writer, account, run_id, [
        _record("c1", "which road is closed?", kind="comment", scope="p1", parent="p1")],
        seen=[post.id])
    with archive.transaction() as s:
        target = lock_removable(s, post.id)
        assert target is not None
        evidence = store_blob(s, archive.store, b'{"error": "gone"}', None, now)
        writer.remove(s, account, run_id, now, target, evidence_sha256=evidence,
                      secrets_scrubbed=0)
        assert lock_removable(s, post.id) is None  # already removed: nothing to do twice
    expected = [([post.id, comment.id], [post.id, comment.id], [], True),
                ([comment.id], [], [], True),
                ([post.id], [], [post.id], True)]
    assert series.seen.events == expected
    assert watch.seen.events == rules.seen.events == [(*e[:3], False) for e in expected]
    with archive.sessions() as s:
        removed = s.get(Item, post.id)
        assert removed is not None and removed.status == "removed"
        assert removed.removal_evidence_sha256 == evidence and removed.current_seq == 2
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "item.removed")).one()
        assert json.loads(audit.details_json)["evidence_sha256"] == evidence
        for item_id in (post.id, comment.id):
            chain = list(s.scalars(select(ItemVersion).where(ItemVersion.item_id == item_id)
                                   .order_by(ItemVersion.seq)))
            assert [v.prev_sha256 for v in chain] == [None, chain[0].sha256]
            assert all(version_sha256(v) == v.sha256 for v in chain)


def test_a_writer_without_retention_or_holds_subscribed_is_refused(archive: Archive) -> None:
    with pytest.raises(MissingSubscriber, match="retention, protection, monitoring"):
        RecordWriter([])
    with pytest.raises(MissingSubscriber, match="protection") as caught:
        RecordWriter([_Series()])
    assert "retention," not in str(caught.value)
    assert {s.duty for s in record_writer(archive).subscribers} == set(Duty)


def test_a_hold_made_before_the_first_capture_holds_what_it_captures(
        archive: Archive, tmp_path: Path) -> None:
    """Old posts captured today are past their disposition date at once; the hold's link is
    written with them, so a purge right after the capture destroys none of them."""
    use_schedule(archive, tmp_path / "schedules")
    create_hold(archive, HoldSpec(name="parade", matter="Parade complaints",
                                  created_by="Counsel", query="parade"))
    assert hold_detail(archive, "parade")["items"] == 0
    with GraphServer(load_sample(), page_size=5) as server:
        capture_sample(archive, server)
    held = set(hold_detail(archive, "parade")["item_ids"])
    assert held and held == archive.index.matching("parade")
    set_today(archive, LATE)
    assert purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path).destroyed > 0
    with archive.sessions() as s:
        destroyed = set(s.scalars(select(Tombstone.item_id)))
    assert destroyed and not destroyed & held


def test_a_removal_stored_by_capture_is_held_by_a_hold_on_removed_items(
        captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    create_hold(archive, HoldSpec(name="gone", matter="Deleted comments", created_by="Counsel",
                                  query="status:removed"))
    assert hold_detail(archive, "gone")["items"] == 0
    captured.server.apply_second_state()
    result = capture_account(archive, captured.account, {TOKEN_ENV: captured.server.token},
                             sleep=lambda _s: None)
    assert result.status == "succeeded" and result.removed == 1
    with archive.sessions() as s:
        removed = s.scalar(select(Item.id).where(Item.external_id == DELETED_COMMENT))
    assert hold_detail(archive, "gone")["item_ids"] == [removed]


def test_capture_through_the_cli_applies_holds(archive: Archive,
                                               settings_env: dict[str, str]) -> None:
    with GraphServer(load_sample(), page_size=5) as server:
        runner = CliRunner(env={**settings_env, TOKEN_ENV: server.token})
        added = runner.invoke(cli, ["accounts", "add", "facebook", server.dataset.page_id,
                                    "--handle", "springfieldpd", "--api-base", server.base_url,
                                    "--token-env", TOKEN_ENV])
        assert added.exit_code == 0, added.output
        made = runner.invoke(cli, ["hold", "create", "closures", "--matter", "Road closures",
                                   "--query", "closure OR closed", "--created-by", "Counsel"])
        assert made.exit_code == 0, made.output
        done = runner.invoke(cli, ["capture", "--json"])
        assert done.exit_code == 0, done.output
        assert json.loads(done.output)["runs"][0]["new_items"] > 0
    shown = json.loads(runner.invoke(cli, ["hold", "show", "closures", "--json"]).output)
    assert shown["item_ids"]
    assert set(shown["item_ids"]) == archive.index.matching("closure OR closed")
