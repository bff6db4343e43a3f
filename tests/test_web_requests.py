"""Records requests and background jobs at the desk over plain HTTP (pages and the API): the
register and its due dates, a request's workspace from scope to a downloaded, valid package,
roles, the account limit, CSRF, and a job that outlives the app that started it. SQLite and
PostgreSQL (the ``desk`` fixture)."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from archiver.access.roles import Role
from archiver.access.tokens import issue_token
from archiver.exports.bagzip import validate_with_bagit
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.requests import due_date
from archiver.jobs.kinds import JobState
from archiver.jobs.queue import LEASE, JobView, get_job
from archiver.jobs.runner import JobRunner
from archiver.store.models import AuditEvent, Job, OpenRecordsRequest
from archiver.web import create_app
from archiver.web.background import attach_runner, stop_runner
from archiver.web.options import WebOptions
from archiver.web.views.requests import calendar
from tests.support.web import PASSWORD, UNIT, Desk, csrf_token, signed_in_client, user_of

CUSTODIAN = user_of(Role.CUSTODIAN)
VIEWER = user_of(Role.VIEWER)
SEE_OTHER = 303


class ProcessDied(BaseException):
    """What a killed process does to the job it was running: nothing more is written."""


def token_of(client: httpx.Client, path: str = "/requests") -> str:
    return csrf_token(client.get(path).text)


def run_jobs(desk: Desk) -> None:
    """What the web process's runner does in the background, here and now."""
    JobRunner(desk.archive).run_pending()


def job_of(answer: httpx.Response) -> int:
    assert answer.status_code == SEE_OTHER, answer.text
    found = re.fullmatch(r"/jobs/(\d+)", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found[1])


def register(client: httpx.Client, request_id: str, received: str, **scope: str) -> None:
    answer = client.post("/requests/new", data={
        "csrf_token": token_of(client), "request_id": request_id, "received_on": received,
        "requester": "A. Reporter", "description": "posts about the parade", **scope})
    assert answer.status_code == SEE_OTHER, answer.text
    assert answer.headers["location"] == f"/requests/show/{request_id}"


def audited(desk: Desk, action: str, target_id: str) -> list[dict[str, str]]:
    with desk.archive.sessions() as s:
        rows = s.execute(select(AuditEvent.actor, AuditEvent.details_json).where(
            AuditEvent.action == action, AuditEvent.target_id == target_id)).all()
    return [{"actor": actor, **json.loads(details)} for actor, details in rows]


def open_bag(content: bytes, folder: Path, request_id: str) -> list[dict[str, str]]:
    """Validate the downloaded package with bagit; its index rows."""
    path = folder / "package.zip"
    path.write_bytes(content)
    root = f"open-records-{request_id}"
    validate_with_bagit(path, root)
    with zipfile.ZipFile(path) as z:
        return list(csv.DictReader(io.StringIO(z.read(f"{root}/data/index.csv").decode())))


def test_the_register_shows_due_dates_and_overdue_marks(desk: Desk) -> None:
    today = desk.clock().astimezone(desk.settings.tz).date()
    with signed_in_client(desk, CUSTODIAN) as client:
        register(client, "KORA-LATE", (today - timedelta(days=21)).isoformat())
        register(client, "KORA-FRESH", today.isoformat(), all="1")
        page = client.get("/requests").text
    late_due = due_date(today - timedelta(days=21), calendar_for(desk))
    fresh_due = due_date(today, calendar_for(desk))
    late_row = row_of(page, "KORA-LATE")
    assert late_due.isoformat() in late_row and "Overdue by" in late_row
    assert "No scope yet: every purge waits" in late_row
    fresh_row = row_of(page, "KORA-FRESH")
    assert fresh_due.isoformat() in fresh_row and "3 business days left" in fresh_row
    assert page.index("KORA-LATE") < page.index("KORA-FRESH")  # overdue first
    (added,) = audited(desk, "request.add", "KORA-FRESH")
    assert added["actor"] == CUSTODIAN and added["due_on"] == fresh_due.isoformat()


def calendar_for(desk: Desk) -> HolidayCalendar:
    with desk.app.app_context():
        return calendar()


def row_of(page: str, request_id: str) -> str:
    found = re.search(rf"<tr>\s*<td><a href=\"/requests/show/{request_id}\">.*?</tr>", page,
                      re.S)
    assert found, f"no row for {request_id}"
    return found[0]


def test_a_request_from_scope_to_a_downloaded_package(desk: Desk, tmp_path: Path) -> None:
    rid = "KORA-2024-W1"
    city = str(desk.accounts["city"])
    with signed_in_client(desk, CUSTODIAN) as client:
        register(client, rid, "2024-06-03")
        workspace = client.get(f"/requests/show/{rid}").text
        assert "has no scope yet" in workspace and "Build the package" not in workspace
        answer = client.post(f"/requests/scope/{rid}", data={
            "csrf_token": csrf_token(workspace), "account": city})
        assert answer.status_code == SEE_OTHER
        workspace = client.get(f"/requests/show/{rid}").text
        assert f"account {city}" in workspace and "protected from disposition" in workspace

        preview = client.get(f"/requests/show/{rid}",
                             params={"preview": "1", "preview_redact": "1"}).text
        assert "K.S.A. 45-221(a)(30) (personal privacy)" in preview
        assert "[REDACTED: telephone number]" in preview
        assert "(217) 555-0147" not in preview
        # The hostile comment is in scope: shown as text, never as markup.
        assert "<script>alert(1)</script>" not in preview

        answer = client.post(f"/requests/package/{rid}", data={
            "csrf_token": csrf_token(workspace), "redact": "1", "pdf": "1",
            "withhold": f"{desk.hostile_item_id}: visitor threat under review"})
        job_id = job_of(answer)
        waiting = client.get(f"/jobs/{job_id}").text
        assert "Waiting to start" in waiting and "Download" not in waiting
        run_jobs(desk)
        done = client.get(f"/jobs/{job_id}").text
        assert "Done" in done and f"/jobs/{job_id}/download" in done
        status = client.get(f"/jobs/{job_id}/status").json()
        assert status["state"] == "done" and status["percent"] == 100

        download = client.get(f"/jobs/{job_id}/download")
        assert download.status_code == 200
        assert download.headers["content-disposition"] == \
            f'attachment; filename="open-records-{rid}.zip"'
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-type"] == "application/octet-stream"
        rows = open_bag(download.content, tmp_path, rid)
        assert {r["account"] for r in rows} == {"springfield-pd"}

        answer = client.post(f"/requests/close/{rid}",
                             data={"csrf_token": token_of(client, f"/requests/show/{rid}")})
        assert answer.status_code == SEE_OTHER
        assert "Fulfilled (closed)" in client.get(f"/requests/show/{rid}").text
    (downloaded,) = audited(desk, "desk.download", str(job_id))
    assert downloaded["actor"] == CUSTODIAN and downloaded["via"] == "web"
    (exported,) = [e for e in audited_all(desk, "export.open_records")
                   if e["request_id"] == rid]
    assert exported["actor"] == CUSTODIAN and exported["redactions"] > 0
    assert audited(desk, "request.close", rid)[0]["actor"] == CUSTODIAN
    assert audited(desk, "desk.redaction_preview", rid)[0]["actor"] == CUSTODIAN


def audited_all(desk: Desk, action: str) -> list[dict[str, object]]:
    with desk.archive.sessions() as s:
        rows = s.execute(select(AuditEvent.actor, AuditEvent.details_json).where(
            AuditEvent.action == action)).all()
    return [{"actor": actor, **json.loads(details)} for actor, details in rows]


def test_a_viewer_can_neither_build_nor_download_a_package(desk: Desk) -> None:
    rid = "KORA-2024-V1"
    with signed_in_client(desk, CUSTODIAN) as client:
        register(client, rid, "2024-06-03", all="1")
        job_id = job_of(client.post(f"/requests/package/{rid}", data={
            "csrf_token": token_of(client), "pdf": ""}))
    run_jobs(desk)
    assert get_job(desk.archive, job_id).has_file
    with desk.archive.sessions() as s:
        jobs_before = s.scalar(select(func.count()).select_from(Job))
    with signed_in_client(desk, VIEWER) as client:
        token = token_of(client, "/")
        refused = client.post(f"/requests/package/{rid}", data={"csrf_token": token})
        assert refused.status_code == 403
        for path in ("/requests", f"/requests/show/{rid}", f"/jobs/{job_id}",
                     f"/jobs/{job_id}/download"):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert "attachment" not in answer.headers.get("content-disposition", "")
    viewer_api = {"Authorization": f"Bearer {desk.tokens[VIEWER]}"}
    with httpx.Client(base_url=desk.base_url) as api:
        answer = api.post(f"/api/requests/package/{rid}", json={}, headers=viewer_api)
        assert answer.status_code == 403 and answer.json()["error"] == "not allowed"
        assert api.get(f"/api/jobs/{job_id}/download", headers=viewer_api).status_code == 403
    with desk.archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == jobs_before


def test_a_form_without_its_csrf_token_is_refused(desk: Desk) -> None:
    with signed_in_client(desk, CUSTODIAN) as client:
        answer = client.post("/requests/new", data={"request_id": "KORA-NO-CSRF",
                                                    "received_on": "2024-06-03"})
        assert answer.status_code == 400 and "Form refused" in answer.text
    with desk.archive.sessions() as s:
        assert s.scalar(select(OpenRecordsRequest).where(
            OpenRecordsRequest.request_id == "KORA-NO-CSRF")) is None


def test_bad_input_is_one_line_and_keeps_what_was_typed(desk: Desk) -> None:
    with signed_in_client(desk, CUSTODIAN) as client:
        answer = client.post("/requests/new", data={
            "csrf_token": token_of(client), "request_id": "KORA-BAD", "received_on": "June 3",
            "requester": "Typed <b>name</b>"})
        assert answer.status_code == 400
        assert "received on: &#39;June 3&#39; is not a date (use YYYY-MM-DD)" in answer.text
        assert 'value="Typed &lt;b&gt;name&lt;/b&gt;"' in answer.text
        register(client, "KORA-BAD-2", "2024-06-03", all="1")
        answer = client.post("/requests/package/KORA-BAD-2", data={
            "csrf_token": token_of(client), "withhold": "twelve: no number"})
        assert answer.status_code == 400
        assert "--redact-item: &#39;twelve: no number&#39; is not ITEM_ID:reason" in answer.text
        assert client.get("/requests/show/NO-SUCH").status_code == 404


def test_a_limited_user_covers_and_packages_only_their_accounts(desk: Desk,
                                                                 tmp_path: Path) -> None:
    city, county = desk.accounts["city"], desk.accounts["county"]
    with signed_in_client(desk, CUSTODIAN) as client:
        register(client, "KORA-WIDE", "2024-06-03", all="1")
        wide_job = job_of(client.post("/requests/package/KORA-WIDE", data={
            "csrf_token": token_of(client)}))
    run_jobs(desk)
    with signed_in_client(desk, UNIT) as client:
        form = client.get("/requests/new").text
        assert f'value="{city}"' in form and f'value="{county}"' not in form
        assert "Any account" not in form
        refused = client.post("/requests/new", data={
            "csrf_token": csrf_token(form), "request_id": "KORA-UNIT", "received_on":
            "2024-06-03", "account": str(county)})
        assert refused.status_code == 400
        assert f"you may only cover items of your own accounts: choose one (account {city})" \
            in refused.text
        assert client.get(f"/jobs/{wide_job}").status_code == 404
        assert client.get(f"/jobs/{wide_job}/download").status_code == 404
        assert f"/jobs/{wide_job}" not in client.get("/jobs").text
        # A request registered by someone else over everything: the unit's package holds
        # only the unit's items.
        unit_job = job_of(client.post("/requests/package/KORA-WIDE", data={
            "csrf_token": token_of(client, "/requests/show/KORA-WIDE")}))
        run_jobs(desk)
        rows = open_bag(client.get(f"/jobs/{unit_job}/download").content, tmp_path,
                        "KORA-WIDE")
    assert rows and {r["account"] for r in rows} == {"springfield-pd"}


def test_the_api_twins(desk: Desk, tmp_path: Path) -> None:
    token = issue_token(desk.archive, CUSTODIAN, "api test", actor="test").token
    bearer = {"Authorization": f"Bearer {token}"}
    rid = "KORA-API/7"  # a slash in the id: the path converter keeps it whole
    with httpx.Client(base_url=desk.base_url, headers=bearer, timeout=30) as api:
        answer = api.post("/api/requests", json={
            "request_id": rid, "received_on": "2024-06-03", "requester": "Script",
            "scope": {"query": "parade", "account_id": desk.accounts["city"]}})
        assert answer.status_code == 201, answer.text
        assert answer.json()["due_on"] == due_date(date(2024, 6, 3),
                                                   calendar_for(desk)).isoformat()
        listed = api.get("/api/requests").json()["requests"]
        assert rid in [r["request_id"] for r in listed]
        preview = api.get(f"/api/requests/preview/{rid}", params={"redact": "1"}).json()
        assert preview["threads"] >= 1 and preview["complete"]
        started = api.post(f"/api/requests/package/{rid}", json={"redact": True, "pdf": False})
        assert started.status_code == 202
        job_url = started.headers["location"]
        run_jobs(desk)
        job = api.get(job_url).json()
        assert job["state"] == "done" and job["download_url"]
        open_bag(api.get(job["download_url"]).content, tmp_path, "KORA-API_7")
        shown = api.get(f"/api/requests/show/{rid}").json()
        assert [p["job_id"] for p in shown["packages"]] == [job["job_id"]]
        closed = api.post(f"/api/requests/close/{rid}", json={})
        assert closed.json()["status"] == "closed"
        again = api.post(f"/api/requests/close/{rid}", json={})
        assert again.status_code == 400
        assert again.json() == {"error": "refused",
                                "message": f"request {rid!r} is already closed"}
    with httpx.Client(base_url=desk.base_url) as anonymous:
        assert anonymous.get("/api/requests").status_code == 401
    (downloaded,) = audited(desk, "desk.download", str(job["job_id"]))
    assert downloaded["via"] == "api" and downloaded["actor"] == CUSTODIAN


def test_a_job_outlives_the_app_that_started_it(desk: Desk, tmp_path: Path) -> None:
    rid = "KORA-RESTART"
    options = WebOptions(secret_key=b"restart test " * 3)
    first = create_app(desk.settings, options=options, archive=desk.archive)

    def die(phase: str, done: int) -> None:
        if phase == "writing threads" and done >= 1:
            raise ProcessDied

    dying = JobRunner(desk.archive, checkpoint=die)
    attach_runner(first, dying)
    with first.test_client() as client:
        sign_in(client, CUSTODIAN)
        token = csrf_token(client.get("/requests/new").get_data(as_text=True))
        client.post("/requests/new", data={"csrf_token": token, "request_id": rid,
                                           "received_on": "2024-06-03", "all": "1"})
        answer = client.post(f"/requests/package/{rid}", data={"csrf_token": token})
        job_id = int(answer.headers["location"].rsplit("/", 1)[1])
    with pytest.raises(ProcessDied):
        dying.run_pending()
    stop_runner(first)
    assert get_job(desk.archive, job_id).state is JobState.RUNNING

    # Started again once the dead process's lease has run out.
    desk.clock.advance(LEASE + timedelta(seconds=1))
    second = create_app(desk.settings, options=options, archive=desk.archive, run_jobs=True)
    try:
        job = wait_for(desk, job_id)
    finally:
        stop_runner(second)
    assert job.state is JobState.DONE and job.attempts == 2, job.error
    with second.test_client() as client:
        sign_in(client, CUSTODIAN)
        page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
        assert "Done" in page and "Attempts</dt><dd>2" in page
        content = client.get(f"/jobs/{job_id}/download").get_data()
    open_bag(content, tmp_path, rid)


def sign_in(client: FlaskClient, name: str) -> None:
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    answer = client.post("/sign-in", data={"name": name, "password": PASSWORD,
                                           "csrf_token": token, "next": "/"})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def wait_for(desk: Desk, job_id: int, seconds: float = 120) -> JobView:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = get_job(desk.archive, job_id)
        if job.state.finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {get_job(desk.archive, job_id)}")
