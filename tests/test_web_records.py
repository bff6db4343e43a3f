"""The records pages over HTTP (accounts, audit log, users, one's own settings) and their
``/api/`` twins, on SQLite and PostgreSQL: roles, account limits, CSRF, secrets shown once."""

from __future__ import annotations

import re

import httpx

from archiver.access.roles import Role
from archiver.access.tokens import issue_token
from archiver.access.users import add_user
from archiver.store.audit_log import AuditFilter, audit_events
from archiver.verify import verify_archive
from tests.support.web import PASSWORD, TOKEN_ENV, UNIT, Desk, csrf_token, signed_in_client, user_of

ADMIN = user_of(Role.ADMIN)


def post(client: httpx.Client, page: str, path: str, data: dict[str, object]) -> httpx.Response:
    """Submit a form of ``page`` (its CSRF token taken from it) to ``path``."""
    token = csrf_token(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_twins_take_bearer_tokens_with_the_pages_roles_and_limits(desk: Desk) -> None:
    manager = issue_token(desk.archive, user_of(Role.RECORDS_MANAGER), "tests",
                          actor="test").token
    with httpx.Client(base_url=desk.base_url) as client:
        everyone = client.get("/api/accounts", headers=bearer(desk.tokens[user_of(Role.VIEWER)]))
        assert everyone.status_code == 200, everyone.text
        assert {a["handle"] for a in everyone.json()["accounts"]} == {"springfield-pd",
                                                                       "county-sheriff"}
        unit = client.get("/api/accounts", headers=bearer(desk.tokens[UNIT])).json()
        assert [a["account_id"] for a in unit["accounts"]] == [desk.accounts["city"]]
        outside = client.get(f"/api/accounts/{desk.accounts['county']}",
                             headers=bearer(desk.tokens[UNIT]))
        assert outside.status_code == 404 and outside.json()["error"] == "not found"
        assert client.get("/api/accounts").status_code == 401
        refused = client.get("/api/audit", headers=bearer(desk.tokens[user_of(Role.VIEWER)]))
        assert refused.status_code == 403
        events = client.get("/api/audit", params={"action": "user.add", "limit": 2},
                            headers=bearer(manager)).json()
        assert events["total"] >= 6 and len(events["events"]) == 2
        assert {e["action"] for e in events["events"]} == {"user.add"}
        assert client.get("/api/audit/verify", headers=bearer(manager)).status_code == 200


def test_dashboard_api_shows_each_account_as_the_registry_does(desk: Desk) -> None:
    with httpx.Client(base_url=desk.base_url,
                      headers=bearer(desk.tokens[user_of(Role.VIEWER)])) as client:
        board = client.get("/api/dashboard").json()
        registry = client.get("/api/accounts").json()
    assert board["accounts"] == registry["accounts"]


def test_accounts_show_approval_and_token_variable_never_a_token(desk: Desk) -> None:
    with signed_in_client(desk, user_of(Role.VIEWER)) as client:
        page = client.get("/accounts")
        assert page.status_code == 200
        assert "Public Affairs" in page.text and TOKEN_ENV in page.text
        assert "approval not recorded" in page.text and "county-sheriff" in page.text
        detail = client.get(f"/accounts/{desk.accounts['city']}")
        assert "Administering unit" in detail.text and "No failed capture" in detail.text
        # Viewers see the registry but may not register accounts.
        assert "Register an account" not in page.text
        assert client.get("/accounts/new").status_code == 403
    with signed_in_client(desk, UNIT) as client:
        page = client.get("/accounts").text
        assert "springfield-pd" in page and "county-sheriff" not in page
        assert client.get(f"/accounts/{desk.accounts['county']}").status_code == 404


def test_admin_registers_an_account_and_a_pasted_token_is_never_echoed(desk: Desk) -> None:
    pasted = "EAAGm0PX4ZCpsBAEXAMPLEtokenVALUE"
    fields = {"platform": "feed", "external_id": "https://example.org/feed.xml",
              "handle": "city-news", "approved_by": "Chief Example",
              "approved_on": "2024-05-01", "admin_unit": "Communications",
              "token_env": pasted + " value", "tags": "news, city"}
    with signed_in_client(desk, ADMIN) as client:
        refused = post(client, "/accounts/new", "/accounts/new", fields)
        assert refused.status_code == 400
        assert pasted not in refused.text and "never the token itself" in refused.text
        made = post(client, "/accounts/new", "/accounts/new",
                    {**fields, "token_env": "ARCHIVER_TOKEN_CITY_NEWS"})
        assert made.status_code == 303
        shown = client.get(made.headers["location"]).text
        assert "Chief Example" in shown and "2024-05-01" in shown and "Communications" in shown
        assert "ARCHIVER_TOKEN_CITY_NEWS" in shown and "not needed (public)" in shown
        again = post(client, "/accounts/new", "/accounts/new",
                     {**fields, "token_env": "ARCHIVER_TOKEN_CITY_NEWS"})
        assert again.status_code == 400 and "already registered" in again.text
    event = audit_events(desk.archive, AuditFilter(action="account.add", actor=ADMIN)).entries
    assert event and event[0].details["handle"] == "city-news"


def test_audit_log_filters_pages_and_shows_the_last_verify(desk: Desk) -> None:
    verify_archive(desk.archive, actor="nightly")
    with signed_in_client(desk, user_of(Role.RECORDS_MANAGER)) as client:
        page = client.get("/audit")
        assert page.status_code == 200
        assert "no damage found" in page.text and "nightly" in page.text
        users = client.get("/audit", params={"action": "user.add", "actor": "test"}).text
        assert user_of(Role.ADMIN) in users and "<code>user.sign_in</code>" not in users
        assert "<code>user.add</code>" in users
        one = client.get("/audit", params={"target_type": "user", "target_id": UNIT,
                                           "action": "user.add"}).text
        assert re.search(r"1 event match", one)
        bad = client.get("/audit", params={"since": "yesterday"})
        assert bad.status_code == 400 and "not a date" in bad.text
    for role in (Role.VIEWER, Role.LEGAL):
        with signed_in_client(desk, user_of(role)) as client:
            assert client.get("/audit").status_code == 403
    # A records manager limited to one unit does not see the agency's whole log.
    add_user(desk.archive, "unit-manager", Role.RECORDS_MANAGER, password=PASSWORD,
             account_ids=[desk.accounts["city"]], actor="test")
    with signed_in_client(desk, "unit-manager") as client:
        assert client.get("/audit").status_code == 403


def test_admin_adds_a_limited_user_who_sees_only_that_account(desk: Desk) -> None:
    county = desk.accounts["county"]
    with signed_in_client(desk, ADMIN) as client:
        answer = post(client, "/users/new", "/users/new",
                      {"name": "county-clerk", "role": "custodian", "scope": "some",
                       "accounts": [county]})
        assert answer.status_code == 200, answer.text
        password = re.search(r'id="shown-password"[^>]*value="([^"]+)"', answer.text)
        assert password, "the generated password is shown once"
        assert "county-clerk" in client.get("/users").text
    with signed_in_client(desk, "county-clerk", password[1]) as client:
        page = client.get("/accounts").text
        assert "county-sheriff" in page and "springfield-pd" not in page
        assert client.get("/users").status_code == 403
    add = audit_events(desk.archive, AuditFilter(action="user.add", target_id="county-clerk"))
    assert add.entries[0].actor == ADMIN and add.entries[0].details["accounts"] == [county]


def test_admin_changes_role_limit_disables_resets_and_unlocks(desk: Desk) -> None:
    add_user(desk.archive, "temp-clerk", Role.LEGAL, password=PASSWORD, actor="test")
    page = "/users/temp-clerk"
    with signed_in_client(desk, "temp-clerk") as clerk, signed_in_client(desk, ADMIN) as admin:
        assert post(admin, page, page + "/role", {"role": "viewer"}).status_code == 303
        assert post(admin, page, page + "/limit",
                    {"scope": "some", "accounts": [desk.accounts["city"]]}).status_code == 303
        shown = admin.get(page).text
        assert "viewer" in shown and "springfield-pd" in shown and "now sees 1 account" in shown
        assert post(admin, page, page + "/active", {"active": "0"}).status_code == 303
        # Disabled: the clerk's open session is over at once.
        assert clerk.get("/accounts").status_code == 302
        assert post(admin, page, page + "/active", {"active": "1"}).status_code == 303
        reset = post(admin, page, page + "/password", {})
        assert reset.status_code == 200 and 'id="shown-password"' in reset.text
        assert post(admin, page, page + "/unlock", {}).status_code == 303
        # Every form needs its CSRF token.
        assert admin.post(page + "/role", data={"role": "admin"}).status_code == 400
    actions = {e.action for e in audit_events(desk.archive, AuditFilter(target_id="temp-clerk"),
                                              limit=100).entries if e.actor == ADMIN}
    assert {"user.role", "user.limit", "user.disable", "user.enable", "user.password_reset",
            "user.unlock"} <= actions
    with signed_in_client(desk, user_of(Role.RECORDS_MANAGER)) as client:
        assert client.get("/users").status_code == 403
        assert client.post(page + "/role", data={"role": "admin", "csrf_token": csrf_token(
            client.get("/me").text)}).status_code == 403


def test_own_page_makes_a_token_shown_once_and_changes_the_password(desk: Desk) -> None:
    add_user(desk.archive, "self-service", Role.VIEWER, password=PASSWORD, actor="test")
    with signed_in_client(desk, "self-service") as client:
        made = post(client, "/me", "/me/tokens", {"label": "nightly report"})
        assert made.status_code == 200
        token = re.search(r'id="shown-token"[^>]*value="(arv_[^"]+)"', made.text)
        assert token
        listed = client.get("/me").text
        assert "nightly report" in listed and token[1] not in listed
        with httpx.Client(base_url=desk.base_url) as api:
            assert api.get("/api/accounts", headers=bearer(token[1])).status_code == 200
            token_id = re.search(r'/me/tokens/(\d+)/revoke', listed)
            assert token_id
            assert post(client, "/me", f"/me/tokens/{token_id[1]}/revoke", {}).status_code == 303
            assert api.get("/api/accounts", headers=bearer(token[1])).status_code == 401
        wrong = post(client, "/me", "/me/password", {
            "current_password": "not the password", "new_password": "a new long password",
            "repeat_password": "a new long password"})
        assert wrong.status_code == 400 and "current password is wrong" in wrong.text
        changed = post(client, "/me", "/me/password", {
            "current_password": PASSWORD, "new_password": "a new long password",
            "repeat_password": "a new long password"})
        assert changed.status_code == 303
        assert client.get("/me").status_code == 302  # signed out everywhere
    with signed_in_client(desk, "self-service", "a new long password") as client:
        assert client.get("/me").status_code == 200
