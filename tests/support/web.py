"""The records desk under test: an archive with two captured pages, a user per role, and the
desk served by waitress on a loopback port.

``desk`` is module-scoped (building the archive and starting the server once per test module)
and runs on SQLite and PostgreSQL. Tests that change state (a lock-out) use users of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from flask import Flask
from sqlalchemy import select

from archiver.access.roles import Role
from archiver.access.tokens import issue_token
from archiver.access.users import LockoutPolicy, add_user
from archiver.capture.account import capture_account
from archiver.config import Settings
from archiver.initialise import initialise
from archiver.standins.dataset import Attachment, PageDataset, load_sample, synthetic_dataset
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive, open_archive
from archiver.store.models import Account, Item
from archiver.web import create_app
from archiver.web.options import WebOptions
from tests.support.database import fresh_database, settings_in
from tests.support.retention import comment_on_first_post

PASSWORD = "a long enough test password"
TOKEN_ENV = "ARCHIVER_TEST_DESK_TOKEN"
HOSTILE = "<script>alert(1)</script> and <img src=x onerror=alert(1)> says the visitor"
# One user per role, named after it; UNIT sees only the sample page's account.
UNIT = "unit-viewer"
LOCKOUT = LockoutPolicy(max_failures=3, lock_for=timedelta(minutes=15))


@dataclass
class DeskClock:
    """The archive's clock: a fixed moment, moved by tests (a lock-out's end, expiry)."""

    moment: datetime

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@dataclass
class Desk:
    settings: Settings
    archive: Archive
    clock: DeskClock
    app: Flask
    base_url: str
    accounts: dict[str, int]  # "city" (the sample page, two captures), "county"
    hostile_item_id: int
    tokens: dict[str, str] = field(default_factory=dict)  # user name -> API token

    def url(self, path: str) -> str:
        return self.base_url + path


def user_of(role: Role) -> str:
    return f"{role.value.replace('_', '-')}-user"


def build_archive(settings: Settings, clock: DeskClock) -> tuple[Archive, dict[str, int], int]:
    """The sample page captured before and after moderation (plus a hostile comment), and a
    second page; returns the archive, the account ids and the hostile comment's item id."""
    initialise(settings)
    archive = open_archive(settings, clock=clock)
    accounts: dict[str, int] = {}
    with GraphServer(load_sample(), page_size=5) as server:
        city = add_account(archive, AccountSpec(
            platform="facebook", external_id=server.dataset.page_id, handle="springfield-pd",
            api_base=server.base_url, token_env=TOKEN_ENV, admin_unit="Public Affairs"),
            actor="test")
        accounts["city"] = city.id
        _capture(archive, city, server)
        clock.advance(timedelta(days=1))
        server.apply_second_state()
        hostile = comment_on_first_post(server, HOSTILE, suffix="66666")
        _capture(archive, city, server)
    with GraphServer(county_dataset()) as server:
        county = add_account(archive, AccountSpec(
            platform="facebook", external_id=server.dataset.page_id, handle="county-sheriff",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        accounts["county"] = county.id
        _capture(archive, county, server)
    with archive.sessions() as s:
        hostile_id = s.scalar(select(Item.id).where(Item.external_id == hostile.id))
    assert hostile_id is not None
    return archive, accounts, hostile_id


def county_dataset() -> PageDataset:
    """A second, small page whose first post shows a photo of its own."""
    page = synthetic_dataset(3, 2, 1, page_id="900000000000002", page_name="County Sheriff",
                             start=datetime(2024, 6, 1, tzinfo=UTC))
    photo = Attachment(media_type="photo", url="https://www.facebook.com/photo/?fbid=7001",
                       src="/media/county_badge.png", target_id="7001")
    first = replace(page.posts[0], attachments=(photo,))
    return replace(page, posts=(first, *page.posts[1:]))


def _capture(archive: Archive, account: Account, server: GraphServer) -> None:
    result = capture_account(archive, account, {TOKEN_ENV: server.token}, sleep=lambda _s: None)
    assert result.status == "succeeded", result.error


def add_users(archive: Archive, accounts: dict[str, int]) -> None:
    for role in Role:
        add_user(archive, user_of(role), role, password=PASSWORD, actor="test")
    add_user(archive, UNIT, Role.LEGAL, password=PASSWORD, account_ids=[accounts["city"]],
             actor="test")


class LoopbackServer:
    """``app`` served by waitress on a free loopback port, in a thread."""

    def __init__(self, app: Flask) -> None:
        from waitress.server import create_server

        self._server = create_server(app, host="127.0.0.1", port=0, threads=4,
                                     ident="archiver-test")
        self.base_url = f"http://127.0.0.1:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Desk]:
    """The desk over a captured archive, served on loopback; one per module and database."""
    folder: Path = tmp_path_factory.mktemp(f"desk-{request.param}")
    with fresh_database(request.param, folder) as url:
        settings = settings_in(folder / "home", url)
        clock = DeskClock(datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
        archive, accounts, hostile_id = build_archive(settings, clock)
        try:
            add_users(archive, accounts)
            tokens = {name: issue_token(archive, name, "tests", actor="test").token
                      for name in (user_of(Role.VIEWER), UNIT)}
            clock.advance(timedelta(days=2))
            options = WebOptions(secret_key=b"desk tests " * 4, lockout=LOCKOUT)
            app = create_app(settings, options=options, archive=archive)
            with LoopbackServer(app) as server:
                yield Desk(settings, archive, clock, app, server.base_url, accounts, hostile_id,
                           tokens)
        finally:
            archive.close()


@contextmanager
def signed_in_client(desk: Desk, name: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """An HTTP client with a session of ``name`` (the sign-in form, CSRF token and all)."""
    with httpx.Client(base_url=desk.base_url, follow_redirects=False, timeout=30) as client:
        token = csrf_token(client.get("/sign-in").text)
        answer = client.post("/sign-in", data={"name": name, "password": password,
                                               "csrf_token": token, "next": "/"})
        assert answer.status_code == 302, answer.text
        yield client


def csrf_token(page: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found[1]
