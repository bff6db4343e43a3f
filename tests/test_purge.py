"""Purge: dry run, approved destruction, tombstones, certificate, verify, crash and re-run."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import bagit
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from archiver.blobs.interface import BlobStore
from archiver.errors import ArchiverError
from archiver.pdf.writer import DocumentInfo
from archiver.retention import certificate as cert
from archiver.retention.purge import dry_run, purge
from archiver.retention.tombstones import utc_text
from archiver.search.interface import SearchFilters
from archiver.store.canonical import iso_utc, sha256_hex
from archiver.store.models import AuditEvent, Blob, Disposition, Item, ItemVersion, Tombstone
from archiver.verify import verify_archive
from tests.support.retention import Captured, captured, set_today  # noqa: F401

LATE = date(2030, 1, 1)


class Crash(Exception):
    pass


def counts(c: Captured) -> dict[str, int]:
    with c.archive.sessions() as s:
        return dict(s.execute(select(Item.series_code, func.count()).group_by(Item.series_code))
                    .all())


def test_dry_run_changes_nothing(captured: Captured) -> None:  # noqa: F811
    before = counts(captured)
    report = dry_run(captured.archive, LATE)
    by_code = {s.code: s.count for s in report.series}
    assert by_code == {"POSTS": before["POSTS"], "COMMENTS": before["COMMENTS"]}
    assert report.eligible == before["POSTS"] + before["COMMENTS"]
    assert dry_run(captured.archive, date(2024, 4, 1)).eligible == 0
    with captured.archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Tombstone)) == 0


def test_purge_destroys_leaves_tombstones_and_verifies(captured: Captured,  # noqa: F811
                                                       tmp_path: Path) -> None:
    archive = captured.archive
    with archive.sessions() as s:
        post_id = s.scalar(select(Item.id).where(Item.kind == "post").order_by(Item.id))
        texts = [t for t in s.scalars(select(ItemVersion.text)) if t]
        blobs_before = set(s.scalars(select(Blob.sha256)))
    assert archive.index.search("*", SearchFilters()).total > 0
    set_today(archive, LATE)
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "out", batch=7)
    eligible = counts(captured)["POSTS"] + counts(captured)["COMMENTS"]
    assert result.destroyed == eligible and not result.skipped and not result.blobs_locked
    with archive.sessions() as s:
        assert all(t is None for t in s.scalars(select(ItemVersion.text)))
        assert s.scalar(select(func.count()).select_from(Tombstone)) == eligible
        tomb = s.scalar(select(Tombstone).where(Tombstone.item_id == post_id))
        assert tomb is not None and tomb.series_code == "POSTS"
        assert "Test authority A" in tomb.authority
        remaining = set(s.scalars(select(Blob.sha256)))
    for sha in blobs_before - remaining:
        assert not archive.store.exists(sha)
    assert archive.index.search("*", SearchFilters()).total == 0
    cert = json.loads(Path(result.certificate_path or "").read_bytes())
    assert cert["item_count"] == eligible and cert["approved_by"] == "R. Manager"
    assert {s["code"] for s in cert["series"]} == {"POSTS", "COMMENTS"}
    assert Path(result.certificate_pdf_path or "").read_bytes().startswith(b"%PDF")
    with archive.sessions() as s:
        done = s.scalar(select(AuditEvent).where(AuditEvent.action == "retention.purge.completed"))
        assert done is not None
        assert json.loads(done.details_json)["certificate_sha256"] == result.certificate_sha256
    data = Path(result.certificate_path or "").read_bytes()
    assert sha256_hex(data) == result.certificate_sha256
    assert archive.store.get(result.certificate_sha256 or "") == data
    with archive.sessions() as s:
        assert s.get(Blob, result.certificate_sha256) is not None
    dump = Path(result.certificate_path or "").read_text()
    assert not any(t in dump for t in texts if len(t) > 12)  # no destroyed text in the certificate
    assert result.transfer is not None  # COMMENTS is a transfer series
    bag = bagit.Bag(result.transfer["path"])
    bag.validate()
    assert any(name.startswith("data/items/") for name in bag.payload_files())
    report = verify_archive(archive)
    assert report.ok, report.problems
    again = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "out2")
    assert again.destroyed == 0


def test_verify_notices_tampered_tombstoned_version(captured: Captured,  # noqa: F811
                                                    tmp_path: Path) -> None:
    archive = captured.archive
    set_today(archive, LATE)
    purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path)
    with archive.transaction() as s:
        v = s.scalar(select(ItemVersion).order_by(ItemVersion.id))
        assert v is not None
        v.text = "planted afterwards"
    report = verify_archive(archive)
    assert any("still holds content" in p.reason for p in report.problems)


def _crash_after(n: int, what: str):  # type: ignore[no-untyped-def]
    def checkpoint(name: str, count: int) -> None:
        if name == what and count >= n:
            raise Crash(f"killed after {name} {count}")
    return checkpoint


@pytest.mark.parametrize("where", ["batch", "blobs"])
def test_killed_purge_completes_on_rerun(captured: Captured, tmp_path: Path,  # noqa: F811
                                         where: str) -> None:
    archive = captured.archive
    eligible = counts(captured)["POSTS"] + counts(captured)["COMMENTS"]
    set_today(archive, LATE)
    with pytest.raises(Crash):
        purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path, batch=5,
              checkpoint=_crash_after(2 if where == "batch" else 1, where))
    # New items becoming eligible later must not join the interrupted disposition.
    set_today(archive, date(2099, 1, 1))
    result = purge(archive, date(2099, 1, 1), approved_by="Someone Else", out_dir=tmp_path,
                   batch=5)
    assert result.resumed and result.approved_by == "R. Manager"
    assert result.as_of == LATE.isoformat()
    assert result.destroyed == eligible
    with archive.sessions() as s:
        per_item = s.execute(select(Tombstone.item_id, func.count()).group_by(Tombstone.item_id))
        assert all(n == 1 for _, n in per_item)
    cert = json.loads(Path(result.certificate_path or "").read_bytes())
    assert sorted(i["item_id"] for i in cert["items"]) == sorted(
        i for i in _tombstoned(archive))
    assert verify_archive(archive).ok


def test_approved_purge_refuses_a_date_after_today(captured: Captured,  # noqa: F811
                                                   tmp_path: Path) -> None:
    archive = captured.archive
    # 03:00 UTC on 1 December is still 30 November in the agency's zone (America/Chicago).
    archive.clock = lambda: datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    for ahead in (date(2026, 12, 1), date(2030, 12, 31)):
        with pytest.raises(ArchiverError, match="after today") as refused:
            purge(archive, ahead, approved_by="R. Manager", out_dir=tmp_path)
        assert "\n" not in str(refused.value)
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Tombstone)) == 0
        assert s.scalar(select(func.count()).select_from(Disposition)) == 0
    # A dry run may look ahead; an approved purge as of today goes ahead.
    assert dry_run(archive, date(2030, 12, 31)).eligible > 0
    assert purge(archive, date(2026, 11, 30), approved_by="R. Manager",
                 out_dir=tmp_path).destroyed > 0


def test_cli_refuses_to_approve_a_future_date(captured: Captured,  # noqa: F811
                                              settings_env: dict[str, str]) -> None:
    env = {**os.environ, **settings_env}
    ahead = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    done = subprocess.run([sys.executable, "-m", "archiver.cli", "retention", "purge",
                           "--as-of", ahead, "--approve", "--approved-by", "R. Manager"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "after today" in done.stderr
    with captured.archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Tombstone)) == 0
    dry = subprocess.run([sys.executable, "-m", "archiver.cli", "retention", "purge",
                          "--as-of", ahead], env=env, capture_output=True, text=True,
                         timeout=120)
    assert dry.returncode == 0 and "dry run" in dry.stdout, dry.stderr


def _tombstoned(archive) -> list[int]:  # type: ignore[no-untyped-def]
    with archive.sessions() as s:
        return list(s.scalars(select(Tombstone.item_id)))


def test_locked_blob_is_reported_not_fatal(captured: Captured, tmp_path: Path) -> None:  # noqa: F811
    archive = captured.archive
    store: BlobStore = archive.store
    with archive.sessions() as s:
        sha = s.scalar(select(ItemVersion.record_sha256).join(Item, Item.id == ItemVersion.item_id)
                       .where(Item.kind == "post"))
    assert sha is not None
    store.set_legal_hold(sha, True)  # a lock placed outside the archiver (e.g. by an admin)
    set_today(archive, LATE)
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path)
    assert [b["sha256"] for b in result.blobs_locked] == [sha]
    assert store.exists(sha)
    assert verify_archive(archive).ok


def test_daily_job_only_reports(captured: Captured) -> None:  # noqa: F811
    from archiver.retention.report import scheduled_report

    report = scheduled_report(captured.archive, LATE)
    assert report.eligible > 0
    with captured.archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Tombstone)) == 0
        assert all(t is not None for t in s.scalars(
            select(ItemVersion.record_sha256).where(ItemVersion.seq == 1)))
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "retention.report"))


def test_report_cli_json_csv_pdf(captured: Captured, settings_env: dict[str, str],  # noqa: F811
                                 tmp_path: Path) -> None:
    from click.testing import CliRunner

    from archiver.cli import cli

    runner = CliRunner(env=settings_env)
    out = runner.invoke(cli, ["retention", "report", "--as-of", "2030-01-01", "--json",
                              "--csv", str(tmp_path / "r.csv"), "--pdf", str(tmp_path / "r.pdf")])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert len(lines) == data["eligible"] + 1
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    dry = runner.invoke(cli, ["retention", "purge", "--as-of", "2030-01-01"])
    assert dry.exit_code == 0 and "dry run" in dry.output
    refused = runner.invoke(cli, ["retention", "purge", "--approve"])
    assert refused.exit_code == 1


def test_streamed_certificate_is_the_canonical_json_of_the_whole() -> None:
    head = {"disposition_id": 3, "as_of": "2030-01-01", "approved_by": "Zoë \u2028 \"Q\"",
            "item_count": 2345, "series": [{"code": "B", "count": 2345}], "skipped": [],
            "blobs": {"deleted": 1, "kept": 0, "locked": []}, "transfer": None,
            "zzz_after_items": {"nested": [1, 2]}}
    items = [{"item_id": i, "platform": "facebook", "external_id": f"e-{i}",
              "published_at": None if i % 3 else "2024-01-01T00:00:00.000000Z",
              "tombstone_sha256": f"{i:064x}"} for i in range(2345)]
    for listed in (items, []):
        out = io.BytesIO()
        written = cert.write_certificate_json(out, head, iter(listed))
        whole = cert.certificate_bytes({**head, "items": listed})
        assert out.getvalue() == whole
        assert (written.sha256, written.size) == (sha256_hex(whole), len(whole))
        assert written.first_items == listed[:cert.PDF_ITEM_LIMIT + 1]


def test_certificate_pdf_counts_the_items_it_does_not_list() -> None:
    head = {"disposition_id": 1, "as_of": "2030-01-01", "approved_by": "R", "approved_at": "a",
            "completed_at": "c", "schedule": "s", "schedule_sha256": "0" * 64,
            "item_count": cert.PDF_ITEM_LIMIT + 7, "series": [], "skipped": [],
            "blobs": {"deleted": 0, "kept": 0, "locked": []}, "transfer": None}
    items = ({"item_id": i, "platform": "p", "external_id": "e", "series": "S",
              "published_at": None, "disposition_date": "2030-01-01",
              "tombstone_sha256": "0" * 64} for i in range(cert.PDF_ITEM_LIMIT + 7))
    written = cert.write_certificate_json(io.BytesIO(), head, items)
    assert len(written.first_items) == cert.PDF_ITEM_LIMIT + 1
    about = DocumentInfo(agency="Agency", created=datetime(2030, 1, 1, tzinfo=UTC))
    pdf = cert.certificate_pdf({**head, "items": written.first_items}, written.sha256,
                               about=about)
    assert pdf.startswith(b"%PDF")


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                               timezone(timedelta(hours=-11))])))
def test_utc_text_is_iso_utc(moment: datetime) -> None:
    assert utc_text(moment) == iso_utc(moment)
    assert utc_text(None) is None and utc_text(moment.replace(tzinfo=None)).tzinfo is None


def test_items_show_says_when_and_under_what_an_item_was_destroyed(
        captured: Captured, settings_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    from archiver.item_detail import item_detail

    archive = captured.archive
    with archive.sessions() as s:
        post_id = s.scalar(select(Item.id).where(Item.kind == "post").order_by(Item.id))
        kept_id = s.scalar(select(Item.id).where(Item.series_code == "KEEP"))
    assert post_id is not None
    assert item_detail(archive, post_id)["dispositions"] == []
    set_today(archive, LATE)
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "out")
    detail = item_detail(archive, post_id)
    with archive.sessions() as s:
        tomb = s.scalar(select(Tombstone).where(Tombstone.item_id == post_id))
    assert tomb is not None
    assert detail["disposed_at"] == tomb.destroyed_at.isoformat()
    [destroyed] = detail["dispositions"]
    assert destroyed == {
        "disposition_id": result.disposition_id, "destroyed_at": tomb.destroyed_at.isoformat(),
        "as_of": LATE.isoformat(), "approved_by": "R. Manager",
        "disposition_date": tomb.disposition_date.isoformat(), "series": "POSTS",
        "action": "destroy", "authority": "Test authority A https://example.org/a",
        "versions_destroyed": tomb.last_seq, "tombstone_sha256": tomb.sha256,
        "certificate_sha256": result.certificate_sha256,
        "certificate_path": result.certificate_path,
        "certificate_pdf_path": result.certificate_pdf_path}
    if kept_id is not None:
        assert item_detail(archive, kept_id)["dispositions"] == []

    done = subprocess.run([sys.executable, "-m", "archiver.cli", "items", "show", str(post_id)],
                          env={**os.environ, **settings_env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    said = done.stdout
    assert (f"DESTROYED {tomb.destroyed_at.isoformat()} by disposition {result.disposition_id} "
            f"(as of {LATE.isoformat()}, approved by R. Manager)") in said, said
    assert ("under series POSTS (destroy), authority Test authority A https://example.org/a"
            in said), said
    assert f"certificate {result.certificate_path} sha256 {result.certificate_sha256}" in said
    assert "(content destroyed)" in said


def _said(pdf: bytes) -> str:
    """The PDF's text as a reader takes it in: one line, wrapped lines joined."""
    from tests.support.pdftext import pdf_text

    return " ".join(pdf_text(pdf).split())


def test_report_pdf_reads_as_sentences(captured: Captured) -> None:  # noqa: F811
    from archiver.exports.business_days import HolidayCalendar
    from archiver.exports.requests import add_request
    from archiver.pdf.writer import document_info
    from archiver.retention.holds import HoldSpec, create_hold
    from archiver.retention.report import retention_report
    from archiver.retention.scope import ProtectionScope

    archive = captured.archive
    create_hold(archive, HoldSpec(name="h1", matter="Doe v. City", query="road",
                                  created_by="test"))
    add_request(archive, "K-1", received_on=date(2024, 5, 6), calendar=HolidayCalendar(),
                actor="test", scope=ProtectionScope(query="detour"))
    report = retention_report(archive, LATE).as_json()
    said = _said(cert.report_pdf(report, about=document_info(archive, "Retention report")))
    assert "items_without_series" not in said and "{" not in said, said
    schedule = f"under the retention schedule test-schedule (sha256 {report['schedule_sha256']})"
    assert f"As of {LATE.isoformat()}, {schedule}" in said, said
    assert f"{report['eligible']} items are eligible for disposition." in said, said
    posts = next(s for s in report["series"] if s["code"] == "POSTS")
    assert (f"Series POSTS (Posts): {posts['count']} items to be destroyed, published from "
            f"{posts['oldest_published']} to {posts['newest_published']}; authority: Test "
            "authority A, https://example.org/a.") in said, said
    [held] = report["held_back_by_hold"]
    assert (f"{held['items']} items are held back by the legal hold h1 (matter: Doe v. City)."
            in said) or (held["items"] == 1 and "1 item is held back by the legal hold h1 "
                         "(matter: Doe v. City)." in said), said
    assert " held back by open records requests." in said, said
    assert "Every item has a record series." in said, said


def test_report_lines_are_sentences_in_every_case() -> None:
    report = {"as_of": "2030-01-01", "schedule": "s", "schedule_sha256": "0" * 64,
              "eligible": 1, "blocked_by_requests": [{"reason": "request 'K-9' has no scope"}],
              "series": [{"code": "C", "title": "Comments", "count": 1, "action": "transfer",
                          "oldest_published": None, "newest_published": None,
                          "authority": "GS 1", "authority_url": None}],
              "held_back_by_hold": [{"hold": "h", "matter": "m", "items": 1}],
              "held_back_by_requests": 0,
              "held_back_unconfirmed": [{"series": "X", "items": 2, "reason": "not confirmed"}],
              "without_series": 1}
    lines = [line for line in cert.report_lines(report) if line]
    assert lines == [
        "As of 2030-01-01, under the retention schedule s (sha256 " + "0" * 64 + "):",
        "1 item is eligible for disposition.",
        "Disposition is blocked: request 'K-9' has no scope.",
        "Series C (Comments): 1 item to be transferred, publication dates unknown; "
        "authority: GS 1.",
        "1 item is held back by the legal hold h (matter: m).",
        "No item is held back by an open records request.",
        "2 items of series X are not disposable: not confirmed.",
        "1 item has no record series yet, so it is not eligible for disposition.",
    ]
    empty = cert.report_lines({**report, "schedule": None, "schedule_sha256": None,
                               "eligible": 0, "blocked_by_requests": [], "series": [],
                               "held_back_by_hold": [], "held_back_unconfirmed": [],
                               "without_series": 3})
    assert [line for line in empty if line] == [
        "As of 2030-01-01 no retention schedule is loaded ('archiver init' loads the shipped "
        "one), so nothing is eligible for disposition.",
        "No item is held back by an open records request.",
        "3 items have no record series yet, so they are not eligible for disposition.",
    ]
