"""The retention pages over HTTP, on SQLite and PostgreSQL: the report by series (the same as
``archiver retention report``), the dry run, downloads, the approval's refusals, roles."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from archiver.access.roles import Role
from archiver.access.tokens import issue_token
from archiver.access.users import add_user
from archiver.jobs.runner import JobRunner
from archiver.retention.report import retention_report
from archiver.store.audit_log import AuditFilter, audit_events
from tests.support.retention import use_schedule
from tests.support.web import PASSWORD, Desk, csrf_token, signed_in_client, user_of

MANAGER = user_of(Role.RECORDS_MANAGER)
DUE = datetime(2025, 7, 1, 15, tzinfo=UTC)  # posts (1 year) and comments (30 days) are due


def wait_for_job(client: httpx.Client, job_page: str) -> dict[str, Any]:
    """The job's status once it is over (a minute at most)."""
    for _ in range(300):
        status: dict[str, Any] = client.get(job_page + "/status").json()
        if status["job"]["state"] in ("done", "failed"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"the job did not finish: {status}")


@pytest.fixture(scope="module")
def scheduled(desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> Desk:
    """The desk under the test schedule, on a day when items are due."""
    use_schedule(desk.archive, tmp_path_factory.mktemp("schedule"))
    desk.clock.moment = DUE
    return desk


def test_report_by_series_is_the_librarys_and_downloads_are_audited(scheduled: Desk) -> None:
    desk = scheduled
    expected = retention_report(desk.archive, DUE.date())
    assert expected.eligible > 0
    with signed_in_client(desk, MANAGER) as client:
        page = client.get("/retention")
        assert page.status_code == 200
        assert f"{expected.eligible} items</strong> eligible" in page.text
        for line in expected.series:
            assert f"<td>{line.count}</td>" in page.text and line.code in page.text
        pdf = client.get("/retention/report.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-disposition"].startswith("attachment;")
        csv = client.get("/retention/eligible.csv", params={"as_of": "2025-07-01"})
        assert csv.text.splitlines()[0].startswith("item_id,series")
        assert len(csv.text.splitlines()) == expected.eligible + 1
    downloads = audit_events(desk.archive, AuditFilter(action="desk.download", actor=MANAGER))
    assert {e.details["format"] for e in downloads.entries} == {"pdf", "csv"}
    with httpx.Client(base_url=desk.base_url) as api:
        token = issue_token(desk.archive, MANAGER, "tests", actor="test").token
        data = api.get("/api/retention/report", params={"as_of": "2025-07-01"},
                       headers={"Authorization": f"Bearer {token}"}).json()
        assert data == expected.as_json()


def test_dry_run_looks_ahead_but_a_future_purge_cannot_be_approved(scheduled: Desk) -> None:
    with signed_in_client(scheduled, MANAGER) as client:
        ahead = client.get("/retention/dry-run", params={"as_of": "2030-01-01"})
        assert ahead.status_code == 200 and "Nothing is destroyed here" in ahead.text
        assert "cannot be approved" in ahead.text and "after today" in ahead.text
        assert 'name="password"' not in ahead.text
        today = client.get("/retention/dry-run").text
        assert 'name="password"' in today and "cannot be approved" not in today
        assert client.get("/retention/dry-run", params={"as_of": "soon"}).status_code == 400


def test_custodians_and_limited_managers_cannot_reach_retention(scheduled: Desk) -> None:
    with signed_in_client(scheduled, user_of(Role.CUSTODIAN)) as client:
        for path in ("/retention", "/retention/dry-run", "/retention/report.pdf"):
            assert client.get(path).status_code == 403
        token = csrf_token(client.get("/me").text)
        answer = client.post("/retention/approve", data={
            "csrf_token": token, "as_of": "2025-07-01", "password": PASSWORD, "confirm": "yes"})
        assert answer.status_code == 403
    add_user(scheduled.archive, "unit-records", Role.RECORDS_MANAGER, password=PASSWORD,
             account_ids=[scheduled.accounts["city"]], actor="test")
    with signed_in_client(scheduled, "unit-records") as client:
        assert client.get("/retention").status_code == 403


def test_a_wrong_password_refuses_the_approval_and_is_counted(scheduled: Desk) -> None:
    add_user(scheduled.archive, "second-manager", Role.RECORDS_MANAGER, password=PASSWORD,
             actor="test")
    with signed_in_client(scheduled, "second-manager") as client:
        page = client.get("/retention/dry-run").text
        refused = client.post("/retention/approve", data={
            "csrf_token": csrf_token(page), "as_of": "2025-07-01", "password": "not my password",
            "confirm": "yes"})
        assert refused.status_code == 403 and "Wrong password" in refused.text
        unticked = client.post("/retention/approve", data={
            "csrf_token": csrf_token(page), "as_of": "2025-07-01", "password": PASSWORD})
        assert unticked.status_code == 400
    assert audit_events(scheduled.archive, AuditFilter(action="user.password_refused",
                                                       actor="second-manager")).total == 1
    assert audit_events(scheduled.archive, AuditFilter(action="retention.purge")).total == 0


def test_approved_purge_runs_as_a_job_and_its_certificate_downloads(scheduled: Desk) -> None:
    desk = scheduled
    eligible = retention_report(desk.archive, DUE.date()).eligible
    with signed_in_client(desk, MANAGER) as client:
        page = client.get("/retention/dry-run").text
        approved = client.post("/retention/approve", data={
            "csrf_token": csrf_token(page), "as_of": "2025-07-01", "password": PASSWORD,
            "confirm": "yes"})
        assert approved.status_code == 303, approved.text
        job_page = approved.headers["location"]
        assert client.get(job_page).status_code == 200
        # A second approval waits for the first purge to finish.
        again = client.post("/retention/approve", data={
            "csrf_token": csrf_token(page), "as_of": "2025-07-01", "password": PASSWORD,
            "confirm": "yes"})
        assert again.status_code == 409 and "already under way" in again.text
        # The runner holds the job once its items are destroyed: the page shows where it is.
        reached, release = threading.Event(), threading.Event()

        def hold(phase: str, _done: int) -> None:
            if phase == "deleting blobs" and not release.is_set():
                reached.set()
                release.wait(60)

        runner = JobRunner(desk.archive, poll=0.2, checkpoint=hold).start()
        try:
            assert reached.wait(60)
            midway = client.get(job_page + "/status").json()
            assert midway["job"]["state"] == "running"
            assert midway["job"]["phase"] == "deleting blobs"
            assert midway["disposition"]["status"] == "running"
            assert midway["disposition"]["pending"] == 0
            assert midway["disposition"]["destroyed"] == eligible
            assert "deleting blobs" in client.get(job_page).text
            release.set()
            status = wait_for_job(client, job_page)
        finally:
            release.set()
            runner.stop()
        assert status["job"]["state"] == "done", status
        disposition = status["disposition"]
        assert disposition["status"] == "completed" and disposition["destroyed"] == eligible
        done = client.get(job_page).text
        assert "Certificate of destruction" in done
        number = disposition["disposition_id"]
        cert = client.get(f"/retention/dispositions/{number}/certificate.json")
        assert cert.status_code == 200
        assert cert.headers["content-disposition"] == (
            f'attachment; filename="disposition-{number}-certificate.json"')
        assert hashlib.sha256(cert.content).hexdigest() == disposition["certificate_sha256"]
        assert json.loads(cert.content)["approved_by"] == MANAGER
        pdf = client.get(f"/retention/dispositions/{number}/certificate.pdf")
        assert pdf.content.startswith(b"%PDF")
        assert client.get(f"/retention/dispositions/{number}/certificate.svg").status_code == 404
        listed = client.get("/retention").text
        assert f"/retention/dispositions/{number}" in listed
    start = audit_events(desk.archive, AuditFilter(action="retention.purge.start")).entries
    assert start and start[0].actor == MANAGER
    submitted = audit_events(desk.archive, AuditFilter(action="job.submit")).entries
    assert submitted[0].actor == MANAGER and submitted[0].details["kind"] == "purge"
    downloads = audit_events(desk.archive, AuditFilter(action="desk.download",
                                                       target_type="disposition"))
    assert downloads.total == 2
