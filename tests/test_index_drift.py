"""The search index never silently falls behind the database: ``verify`` reports any difference,
and the next capture (or ``archiver init``) brings the index up to date on its own.

The index falls behind for real reasons: a capture killed between a database commit and its
index commit (capture indexes in large batches), an index folder lost or restored from an older
backup. Each is made here the real way, on both engines and both databases.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archiver.capture.account import capture_account
from archiver.config import IndexEngine, Settings
from archiver.initialise import initialise
from archiver.search.interface import SearchFilters
from archiver.standins.dataset import load_sample, synthetic_dataset
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import open_archive
from archiver.store.models import Account, Item
from archiver.verify import verify_archive

TOKEN_ENV = "ARCHIVER_TOKEN_DRIFT_TEST"


@pytest.fixture(params=list(IndexEngine))
def engine_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    return replace(settings, index_engine=str(request.param))


def _env(settings: Settings, token: str) -> dict[str, str]:
    return {**os.environ, "ARCHIVER_HOME": str(settings.home), "ARCHIVER_DB_URL": settings.db_url,
            "ARCHIVER_STORE_URL": settings.store_url,
            "ARCHIVER_INDEX_DIR": str(settings.index_dir),
            "ARCHIVER_INDEX_ENGINE": settings.index_engine, TOKEN_ENV: token}


def _cli(settings: Settings, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args],
                          env=_env(settings, token), capture_output=True, text=True, timeout=300)


def _register(settings: Settings, server: GraphServer) -> None:
    initialise(settings)
    with open_archive(settings) as archive:
        add_account(archive, AccountSpec(
            platform="facebook", external_id=server.dataset.page_id, handle="synthpd",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")


def _stored(settings: Settings) -> int:
    with open_archive(settings) as archive, archive.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Item)) or 0)


def _kill_after_first_commit(settings: Settings, server: GraphServer) -> int:
    """Start ``archiver capture`` and SIGKILL it once its first batch (2,000 items) is in the
    database: capture indexes in larger batches, so none of them is in the index yet."""
    proc = subprocess.Popen([sys.executable, "-m", "archiver.cli", "capture"],
                            env=_env(settings, server.token), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while _stored(settings) == 0:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the capture stored nothing"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    return _stored(settings)


@pytest.fixture
def big_server() -> Iterator[GraphServer]:
    # 3,200 items: the first batch of 2,000 is committed while the rest is still being read.
    with GraphServer(synthetic_dataset(64, 49), page_size=50) as srv:
        srv.slow(0.02, times=None)
        yield srv


def _drift(report_json: dict[str, object]) -> dict[str, str]:
    problems = report_json["problems"]
    assert isinstance(problems, list)
    return {p["id"]: p["reason"] for p in problems if p["kind"] == "index"}


def _searchable(settings: Settings) -> int:
    with open_archive(settings) as archive:
        return archive.index.search("*", SearchFilters(), limit=0).total


def test_killed_capture_drift_is_reported_then_init_repairs_it(
    engine_settings: Settings, big_server: GraphServer
) -> None:
    settings = engine_settings
    _register(settings, big_server)
    stored = _kill_after_first_commit(settings, big_server)
    assert stored >= 2000
    assert _searchable(settings) < stored  # what the user saw: search '*' misses them

    done = _cli(settings, big_server.token, "verify", "--json")
    assert done.returncode == 1, done.stdout
    drift = _drift(json.loads(done.stdout))
    assert "missing" in drift and f"{stored - _searchable(settings)} items" in drift["missing"]
    text = _cli(settings, big_server.token, "verify")
    assert text.returncode == 1 and "DAMAGED index missing:" in text.stdout

    assert _cli(settings, big_server.token, "init").returncode == 0
    assert _searchable(settings) == stored
    with open_archive(settings) as archive:
        report = verify_archive(archive)
    assert report.ok, report.problems


def test_killed_capture_drift_is_repaired_by_the_next_capture(
    engine_settings: Settings, big_server: GraphServer
) -> None:
    settings = engine_settings
    _register(settings, big_server)
    _kill_after_first_commit(settings, big_server)
    big_server.clear_faults()
    done = _cli(settings, big_server.token, "capture")
    assert done.returncode == 0, done.stderr
    assert _searchable(settings) == _stored(settings) == 64 * 50
    with open_archive(settings) as archive:
        report = verify_archive(archive)
    assert report.ok, report.problems


@pytest.fixture
def sample_server() -> Iterator[GraphServer]:
    with GraphServer(load_sample(), page_size=5) as srv:
        yield srv


def _capture_sample(settings: Settings, server: GraphServer) -> None:
    with open_archive(settings) as archive:
        with archive.sessions() as s:
            account = s.scalars(select(Account)).one()
        result = capture_account(archive, account, {TOKEN_ENV: server.token},
                                 sleep=lambda _s: None, media=False)
    assert result.status == "succeeded", result.error


def test_a_lost_index_is_reported_and_rebuilt_by_the_next_capture(
    engine_settings: Settings, sample_server: GraphServer
) -> None:
    settings = engine_settings
    _register(settings, sample_server)
    _capture_sample(settings, sample_server)
    stored = _stored(settings)
    shutil.rmtree(settings.index_dir)  # the folder is lost (or the disk replaced)
    with open_archive(settings) as archive:
        report = verify_archive(archive)
    assert not report.ok
    drift = {p.id: p.reason for p in report.problems if p.kind == "index"}
    assert drift["missing"].startswith(f"{stored} items")

    _capture_sample(settings, sample_server)
    assert _searchable(settings) == stored
    with open_archive(settings) as archive:
        report = verify_archive(archive)
    assert report.ok, report.problems


def test_an_index_restored_from_an_older_backup_is_repaired_by_the_next_capture(
    engine_settings: Settings, sample_server: GraphServer, tmp_path: Path
) -> None:
    settings = engine_settings
    _register(settings, sample_server)
    _capture_sample(settings, sample_server)
    backup = tmp_path / "index-backup"
    shutil.copytree(settings.index_dir, backup)
    sample_server.apply_second_state()  # an edit, a hide, a deletion, a new comment
    _capture_sample(settings, sample_server)
    shutil.rmtree(settings.index_dir)
    shutil.copytree(backup, settings.index_dir)

    with open_archive(settings) as archive:
        report = verify_archive(archive)
    drift = {p.id: p.reason for p in report.problems if p.kind == "index"}
    assert {"missing", "stale"} <= set(drift), report.problems  # new item, edited items
    assert any(key.startswith("status ") for key in drift)  # hidden and removed counts
    assert report.as_json()["ok"] is False

    _capture_sample(settings, sample_server)
    with open_archive(settings) as archive:
        report = verify_archive(archive)
        assert report.ok, report.problems
        removed = archive.index.search("*", SearchFilters(status="removed"), limit=0).total
    assert removed >= 1


def test_after_a_clean_capture_the_next_start_has_nothing_to_catch_up(
    engine_settings: Settings, sample_server: GraphServer
) -> None:
    from archiver.search.indexing import CatchUp, catch_up_index, database_head

    settings = engine_settings
    _register(settings, sample_server)
    for _ in range(2):
        _capture_sample(settings, sample_server)
        with open_archive(settings) as archive:
            with archive.sessions() as s:
                head = database_head(s)
            # Indexing moved the mark over everything the run stored: two look-ups, no work.
            assert archive.index.mark() == head
            assert catch_up_index(archive) == CatchUp()
        sample_server.apply_second_state()


def test_an_fts5_index_of_the_first_layout_is_upgraded_and_caught_up(
    settings: Settings, sample_server: GraphServer
) -> None:
    import sqlite3

    from archiver.search.fts5.index import FILE_NAME

    settings = replace(settings, index_engine="fts5")
    _register(settings, sample_server)
    _capture_sample(settings, sample_server)
    stored = _stored(settings)
    # Layout 1, as an earlier version wrote it: no version numbers, no mark.
    con = sqlite3.connect(settings.index_dir / FILE_NAME)
    con.executescript("ALTER TABLE docs DROP COLUMN seq; DROP TABLE marks; "
                      "PRAGMA user_version = 1;")
    con.close()
    with open_archive(settings) as archive:
        assert archive.index.search("*", SearchFilters(), limit=0).total == stored  # still works
        report = verify_archive(archive)
    drift = {p.id: p.reason for p in report.problems if p.kind == "index"}
    assert set(drift) == {"stale"} and drift["stale"].startswith(f"{stored} items")
    _capture_sample(settings, sample_server)
    with open_archive(settings) as archive:
        report = verify_archive(archive)
    assert report.ok, report.problems
