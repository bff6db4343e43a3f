"""The desk's defences over plain HTTP: headers, sessions, CSRF, sign-in lock-out, redirects."""

from __future__ import annotations

import httpx

from archiver.access.roles import Role
from tests.support.web import PASSWORD, Desk, csrf_token, signed_in_client, user_of


def test_pages_need_signing_in_and_carry_the_security_headers(desk: Desk) -> None:
    with httpx.Client(base_url=desk.base_url) as client:
        answer = client.get("/")
        assert answer.status_code == 302
        assert answer.headers["location"].startswith("/sign-in?next=/")
        page = client.get("/sign-in")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"


def test_session_cookie_is_httponly_and_samesite(desk: Desk) -> None:
    with signed_in_client(desk, user_of(Role.VIEWER)) as client:
        cookie = next(c for c in client.cookies.jar if c.name == "archiver_session")
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert client.get("/").status_code == 200


def test_a_form_without_its_csrf_token_is_refused(desk: Desk) -> None:
    with httpx.Client(base_url=desk.base_url) as client:
        client.get("/sign-in")
        answer = client.post("/sign-in", data={"name": user_of(Role.VIEWER),
                                                "password": PASSWORD})
    assert answer.status_code == 400
    assert "form refused" in answer.text.lower()


def test_sign_in_never_redirects_off_site(desk: Desk) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example",
                   "javascript:alert(1)", "/search?q=a"):
        with httpx.Client(base_url=desk.base_url) as client:
            token = csrf_token(client.get("/sign-in").text)
            answer = client.post("/sign-in", data={
                "name": user_of(Role.VIEWER), "password": PASSWORD, "csrf_token": token,
                "next": target})
        assert answer.status_code == 302
        expected = "/search?q=a" if target == "/search?q=a" else "/"
        assert answer.headers["location"] == expected, target
