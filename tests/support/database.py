"""Database fixtures: every test that touches the database runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``ARCHIVER_TEST_POSTGRES_URL`` (a server URL whose user may create
databases, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``); each test gets a database of
its own, dropped afterwards. Without that variable the PostgreSQL cases are skipped, unless
``ARCHIVER_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archiver.config import Settings
from archiver.initialise import initialise
from archiver.store.archive import Archive, open_archive

PG_ENV = "ARCHIVER_TEST_POSTGRES_URL"


def _pg_server_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("ARCHIVER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{PG_ENV} is not set but ARCHIVER_REQUIRE_POSTGRES=1")
        pytest.skip(f"PostgreSQL not configured (set {PG_ENV})")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh, empty database URL of ``kind`` (``sqlite``: a file in ``folder``;
    ``postgresql``: a new database, dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'archive.sqlite3'}"
        return
    server = _pg_server_url()
    assert server is not None
    name = f"archiver_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a new PostgreSQL database."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


def settings_in(home: Path, db_url: str) -> Settings:
    """Settings for an archive in ``home`` on the database ``db_url``."""
    return Settings(
        home=home,
        db_url=db_url,
        store_url=(home / "blobs").as_uri(),
        index_dir=home / "index",
    )


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings for an archive under tmp_path on the parametrized database."""
    return settings_in(tmp_path / "home", db_url)


@pytest.fixture
def settings_env(settings: Settings) -> dict[str, str]:
    """The same settings as environment variables, for the CLI and subprocesses."""
    return {
        "ARCHIVER_HOME": str(settings.home),
        "ARCHIVER_DB_URL": settings.db_url,
        "ARCHIVER_STORE_URL": settings.store_url,
        "ARCHIVER_INDEX_DIR": str(settings.index_dir),
    }


@pytest.fixture
def archive(settings: Settings) -> Iterator[Archive]:
    """An initialised archive (database migrated, blob folder, index)."""
    initialise(settings)
    opened = open_archive(settings)
    try:
        yield opened
    finally:
        opened.close()
