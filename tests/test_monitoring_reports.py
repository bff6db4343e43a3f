"""The monthly activity report: counts of a captured month, PDF with its fonts embedded, a
spreadsheet-safe CSV, e-mailed with both attached on the schedule's run, and once only."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

from archiver.capture.account import capture_account
from archiver.daemon.notices import run_monthly_reports
from archiver.monitoring.reports import monthly_report, previous_month
from archiver.monitoring.review import decide
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Account
from tests.support.monitoring import flag_stored_items, item_ids
from tests.support.notify import SmtpServer, smtp_server  # noqa: F401 - fixture
from tests.support.pdftext import pdf_fonts, pdf_text
from tests.test_cli import archiver

TOKEN_ENV = "ARCHIVER_TEST_REPORT_TOKEN"
HANDLE = "=HYPERLINK(\"http://x\")"  # a handle a spreadsheet would run


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 5, day, hour, tzinfo=UTC)


def a_month_of_activity(archive: Archive, server: GraphServer) -> int:
    """Captured on 2 May, changed and captured on 20 May, a refused capture on 21 May; flags
    and a decision in between. The account's id."""
    archive.clock = lambda: at(2)
    account = add_account(archive, AccountSpec(
        platform="facebook", external_id=server.dataset.page_id, handle=HANDLE,
        api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
    env = {TOKEN_ENV: server.token}
    assert capture_account(archive, account, env, sleep=lambda _s: None).status == "succeeded"
    flag_stored_items(archive)
    archive.clock = lambda: at(20)
    server.apply_second_state()
    assert capture_account(archive, account, env, sleep=lambda _s: None).status == "succeeded"
    decide(archive, str(item_ids(archive)["2006_3020"]), "remove",
           ground="GO 80.11 III.A.1.d(1)", decided_by="Sgt. Lee", actor="test")
    archive.clock = lambda: at(21)
    server.expire_token()
    assert capture_account(archive, account, env, sleep=lambda _s: None).status == "failed"
    return account.id


def test_the_month_in_numbers(archive: Archive, graph_server: GraphServer) -> None:
    account_id = a_month_of_activity(archive, graph_server)
    with archive.sessions() as s:
        account = s.get(Account, account_id)
    assert account is not None
    may = monthly_report(archive, account, date(2024, 5, 1))
    assert may.counts == {"new_posts": 2, "new_comments": 4, "edits": 1, "hidden": 3,
                          "removed": 1, "flags": 4, "decisions": 1, "capture_runs": 3,
                          "capture_failures": 1}
    assert may.flags_by_category == {"link": 1, "off_topic": 2, "personal_info": 1}
    assert may.decisions_by_kind == {"remove": 1}
    assert may.failures[0]["status"] == "failed" and "access refused" in may.failures[0]["error"]
    april = monthly_report(archive, account, date(2024, 4, 1))
    assert (april.counts["new_posts"], april.counts["new_comments"],
            april.counts["capture_runs"]) == (11, 33, 0)
    assert previous_month(date(2024, 1, 15)) == date(2023, 12, 1)


def test_the_report_arrives_by_mail_with_pdf_and_csv_once(
        archive: Archive, graph_server: GraphServer,
        smtp_server: SmtpServer) -> None:  # noqa: F811
    account_id = a_month_of_activity(archive, graph_server)
    archive.clock = lambda: datetime(2024, 6, 1, 11, tzinfo=UTC)  # 06:00 in Springfield
    env = {**smtp_server.env, TOKEN_ENV: graph_server.token}
    summary = run_monthly_reports(archive, env)
    assert summary["month"] == "2024-05" and len(summary["delivery"]["sent"]) == 1
    [mail] = smtp_server.mailbox.messages
    assert "Monthly social media activity, May 2024: facebook:" in str(mail["Subject"])
    files = {part.get_filename(): part for part in mail.iter_attachments()}
    name = f"activity-account-{account_id}-2024-05"
    assert set(files) == {f"{name}.pdf", f"{name}.csv"}
    pdf = files[f"{name}.pdf"].get_content()
    assert all(font["emb"] == "yes" for font in pdf_fonts(pdf))
    text = " ".join(pdf_text(pdf).split())
    assert "New: 2 posts and 4 comments (comments include replies)." in text
    assert "Changed: 1 edit, 3 hidden, 1 removed" in text
    assert "Monitoring: 4 flags (1 link, 2 off_topic, 1 personal_info); 1 decision (1 remove)." \
        in text
    assert "Capture: 3 runs, 1 failure." in text and "access refused" in text
    rows = list(csv.reader(io.StringIO(files[f"{name}.csv"].get_content())))
    assert rows[0] == ["account_id", "platform", "account", "month", "measure", "value", "detail"]
    assert rows[1][:6] == [str(account_id), "facebook", "'" + HANDLE, "2024-05", "new_posts", "2"]
    assert ["flags:personal_info", "1", ""] in [r[4:] for r in rows]
    [failure] = [r for r in rows if r[4] == "capture_failure"]
    assert "nightly" not in failure[6] and "access refused" in failure[6]
    body = smtp_server.mailbox.bodies()[0]
    assert graph_server.token not in body
    # The job's catch-up run (or a second daemon) sends nothing twice.
    assert run_monthly_reports(archive, env)["notices"] == []
    assert len(smtp_server.mailbox.messages) == 1


def test_reports_monthly_command_writes_both_files(
        archive: Archive, graph_server: GraphServer, settings_env: dict[str, str],
        tmp_path: Path) -> None:
    account_id = a_month_of_activity(archive, graph_server)
    out = tmp_path / "reports"
    done = archiver(settings_env, "reports", "monthly", "--account", str(account_id),
                    "--month", "2024-05", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["new_comments"] == 4 and data["capture_failures"] == 1
    assert sorted(p.name for p in out.iterdir()) == [
        f"activity-account-{account_id}-2024-05.csv", f"activity-account-{account_id}-2024-05.pdf"]
    bad = archiver(settings_env, "reports", "monthly", "--account", str(account_id), "--month",
                   "May", "--out", str(out))
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "error: --month: 'May' is not a month like 2024-05")
