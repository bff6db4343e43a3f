"""Legal holds and productions at the desk over plain HTTP (pages and the API): a hold from a
search's arguments, previewed then placed, shown, released with a reason; a production built in
the background and downloaded; roles and the account limit. SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import re
import zipfile

import httpx
from sqlalchemy import select

from archiver.access.roles import Role
from archiver.access.tokens import issue_token
from archiver.jobs.runner import JobRunner
from archiver.retention.scope import ProtectionScope, preview_scope
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit
from archiver.store.models import AuditEvent, Hold
from tests.support.web import UNIT, Desk, csrf_token, signed_in_client, user_of

LEGAL = user_of(Role.LEGAL)
SEE_OTHER = 303


def audited(desk: Desk, action: str, target_id: str | None = None) -> list[dict[str, object]]:
    query = select(AuditEvent.actor, AuditEvent.details_json).where(AuditEvent.action == action)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    with desk.archive.sessions() as s:
        return [{"actor": a, **json.loads(d)} for a, d in s.execute(query.order_by(AuditEvent.id))]


def place(client: httpx.Client, name: str, **scope: str) -> httpx.Response:
    page = client.get("/holds/new", params=scope).text
    return client.post("/holds/new", data={"csrf_token": csrf_token(page), "name": name,
                                           "matter": "Doe v. City", "custodians": "PIO\nChief",
                                           **{k if k != "q" else "query": v
                                              for k, v in scope.items()}})


def count_in(page: str, element: str) -> int:
    found = re.search(rf'id="{element}">(?:<strong>)?(\d+) items?', page)
    assert found, page
    return int(found[1])


def test_a_hold_from_a_search_is_previewed_then_placed(desk: Desk) -> None:
    city = str(desk.accounts["city"])
    expected = preview_scope(desk.archive, ProtectionScope(query="visitor",
                                                           account_id=int(city)),
                             EVERY_ACCOUNT).count
    assert expected >= 1
    with signed_in_client(desk, LEGAL) as client:
        page = client.get("/holds/new", params={"q": "visitor", "account": city}).text
        assert count_in(page, "scope-count") == expected
        assert f'<option value="{city}" selected>' in page
        # The hostile comment the search found is text on the page, never markup.
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert(1)</script>" not in page
        answer = place(client, "visitor-hold", q="visitor", account=city)
        assert answer.status_code == SEE_OTHER, answer.text
        assert answer.headers["location"] == "/holds/show/visitor-hold"
        shown = client.get("/holds/show/visitor-hold").text
        assert count_in(shown, "hold-count") == expected
        assert "PIO, Chief" in shown and "Active" in shown
        assert "visitor-hold" in client.get("/holds").text
    (created,) = audited(desk, "hold.create", "visitor-hold")
    assert created["actor"] == LEGAL and created["items"] == expected
    assert audited(desk, "desk.hold_preview")[0]["actor"] == LEGAL


def test_release_needs_a_reason_and_names_who(desk: Desk) -> None:
    with signed_in_client(desk, LEGAL) as client:
        assert place(client, "to-release", all="1").status_code == SEE_OTHER
        token = csrf_token(client.get("/holds/show/to-release").text)
        refused = client.post("/holds/release/to-release", data={"csrf_token": token,
                                                                 "reason": " "})
        assert refused.status_code == 400 and "releasing a hold needs a reason" in refused.text
        answer = client.post("/holds/release/to-release", data={
            "csrf_token": token, "reason": "matter settled"})
        assert answer.status_code == SEE_OTHER
        shown = client.get("/holds/show/to-release").text
        assert f"by {LEGAL}: matter settled" in shown and "Release hold" not in shown
    (released,) = audited(desk, "hold.release", "to-release")
    assert released["actor"] == LEGAL and released["reason"] == "matter settled"


def test_a_hold_is_produced_in_the_background(desk: Desk) -> None:
    with signed_in_client(desk, LEGAL) as client:
        assert place(client, "to-produce", q="parade").status_code == SEE_OTHER
        token = csrf_token(client.get("/holds/show/to-produce").text)
        refused = client.post("/productions/new", data={"csrf_token": token,
                                                       "hold": "to-produce",
                                                       "bates_prefix": "9X"})
        assert refused.status_code == 400 and "Bates prefix &#39;9X&#39;" in refused.text
        answer = client.post("/productions/new", data={"csrf_token": token,
                                                      "hold": "to-produce",
                                                      "bates_prefix": "WEB"})
        assert answer.status_code == SEE_OTHER
        job_path = answer.headers["location"]
        JobRunner(desk.archive).run_pending()
        page = client.get(job_path).text
        assert "WEB-0000001" in page and "WEB-PROD001" in page
        download = client.get(job_path + "/download")
        assert download.headers["content-disposition"] == \
            'attachment; filename="WEB-PROD001.zip"'
        names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
        assert "WEB-PROD001/MANIFEST-SHA256.txt" in names
        assert "WEB-PROD001/WEB-PROD001.dat" in names
        assert job_path in client.get("/productions").text
        assert job_path in client.get("/holds/show/to-produce").text


def test_holds_are_for_legal_staff_and_up(desk: Desk) -> None:
    with signed_in_client(desk, user_of(Role.CUSTODIAN)) as client:
        token = csrf_token(client.get("/").text)
        for path in ("/holds", "/holds/new?q=parade", "/productions"):
            assert client.get(path).status_code == 403, path
        assert client.post("/holds/new", data={"csrf_token": token, "name": "x",
                                               "matter": "y", "all": "1"}).status_code == 403
        nav = client.get("/").text
        assert "/requests" in nav and "/holds" not in nav
    with desk.archive.sessions() as s:
        assert s.scalar(select(Hold).where(Hold.name == "x")) is None


def test_a_limited_user_previews_holds_and_releases_only_within_their_accounts(
        desk: Desk) -> None:
    city, county = desk.accounts["city"], desk.accounts["county"]
    city_only = preview_scope(desk.archive, ProtectionScope(everything=True),
                              AccountLimit.only([city])).count
    with signed_in_client(desk, LEGAL) as client:
        assert place(client, "everything-hold", all="1").status_code == SEE_OTHER
    with signed_in_client(desk, UNIT) as client:
        refused = client.get("/holds/new", params={"q": "parade"}).text
        assert (f"you may only hold items of your own accounts: choose one (account {city})"
                in refused)
        assert f'value="{county}"' not in refused and "Everything, now and later" not in refused
        page = client.get("/holds/new", params={"account": str(city)}).text
        assert count_in(page, "scope-count") == city_only
        shown = client.get("/holds/show/everything-hold").text
        assert count_in(shown, "hold-count") == city_only
        token = csrf_token(shown)
        answer = client.post("/holds/release/everything-hold", data={
            "csrf_token": token, "reason": "not mine to release"})
        assert answer.status_code == 400
        assert "you may only release holds over items of your own accounts" in answer.text
    unit_api = {"Authorization": f"Bearer {desk.tokens[UNIT]}"}
    with httpx.Client(base_url=desk.base_url, headers=unit_api) as api:
        listed = {h["name"]: h for h in api.get("/api/holds").json()["holds"]}
        assert listed["everything-hold"]["items"] == city_only
        assert api.get("/api/holds/show/everything-hold").json()["count"] == city_only


def test_the_api_twins(desk: Desk) -> None:
    token = issue_token(desk.archive, LEGAL, "api holds", actor="test").token
    with httpx.Client(base_url=desk.base_url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as api:
        preview = api.get("/api/holds/preview", params={"q": "parade"}).json()
        assert preview["count"] >= 1 and preview["first_items"]
        made = api.post("/api/holds", json={"name": "api-hold", "matter": "Roe v. City",
                                            "custodians": ["PIO"],
                                            "scope": {"query": "parade"}})
        assert made.status_code == 201 and made.json()["items"] == preview["count"]
        duplicate = api.post("/api/holds", json={"name": "api-hold", "matter": "again",
                                                 "scope": {"query": "parade"}})
        assert duplicate.status_code == 400
        assert duplicate.json()["message"] == "a hold named 'api-hold' already exists"
        started = api.post("/api/holds/produce/api-hold", json={"bates_prefix": "API"})
        assert started.status_code == 202
        JobRunner(desk.archive).run_pending()
        job = api.get(started.headers["location"]).json()
        assert job["state"] == "done" and job["result"]["bates_first"] == "API-0000001"
        assert api.get(job["download_url"]).status_code == 200
        shown = api.get("/api/holds/show/api-hold").json()
        assert shown["productions"][0]["job_id"] == job["job_id"]
        released = api.post("/api/holds/release/api-hold", json={"reason": "done"}).json()
        assert released["status"] == "released" and released["released_by"] == LEGAL
        assert api.post("/api/holds", content=b"not json").status_code == 400
