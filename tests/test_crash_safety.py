"""A capture killed with SIGKILL at any point and run again ends with the same archive as an
uninterrupted run: no duplicate item, no lost version, no lost removal.

The capture runs as a real ``archiver capture`` subprocess against the loopback Graph server in
this process; the server's request counter tells us how far it got before we kill it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.config import Settings
from archiver.initialise import initialise
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import open_archive
from archiver.store.models import CaptureRun, Item, ItemVersion
from archiver.verify import verify_archive

TOKEN_ENV = "ARCHIVER_TOKEN_CRASH_TEST"
DELAY = 0.03  # per request, so the capture lasts long enough to be killed part-way


@pytest.fixture
def server() -> Iterator[GraphServer]:
    with GraphServer(load_sample(), page_size=3) as srv:
        srv.slow(DELAY, times=None)
        yield srv


def _env(settings: Settings, token: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ARCHIVER_HOME": str(settings.home),
        "ARCHIVER_DB_URL": settings.db_url,
        "ARCHIVER_STORE_URL": settings.store_url,
        "ARCHIVER_INDEX_DIR": str(settings.index_dir),
        TOKEN_ENV: token,
    })
    return env


def _prepare(settings: Settings, server: GraphServer) -> None:
    initialise(settings)
    with open_archive(settings) as archive:
        add_account(archive, AccountSpec(
            platform="facebook", external_id=server.dataset.page_id, handle="springfieldpd",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")


def _capture(settings: Settings, server: GraphServer, kill_after: int | None = None) -> int:
    """Run ``archiver capture``; with ``kill_after``, SIGKILL it once the server saw that many
    more requests. Returns the exit status (-9 when killed)."""
    start = server.request_count
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver.cli", "capture", "--json"],
        env=_env(settings, server.token), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    if kill_after is not None:
        deadline = time.monotonic() + 60
        while server.request_count - start < kill_after and proc.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=120)
    return proc.returncode


def _snapshot(settings: Settings) -> dict[str, object]:
    """What must be identical: every item and its versions, minus times and run ids."""
    with open_archive(settings) as archive, archive.sessions() as s:
        items = {i.id: i for i in s.scalars(select(Item))}
        by_ext = {i.external_id: i for i in items.values()}
        assert len(by_ext) == len(items), "duplicate items"
        versions: dict[str, list[tuple[object, ...]]] = {e: [] for e in by_ext}
        for v in s.scalars(select(ItemVersion).order_by(ItemVersion.item_id, ItemVersion.seq)):
            ext = items[v.item_id].external_id
            versions[ext].append((v.seq, v.status, v.text, v.content_sha256, v.record_sha256,
                                  v.evidence_sha256 is not None))
        parents = {
            e: items[i.parent_id].external_id if i.parent_id else None for e, i in by_ext.items()
        }
        return {"versions": versions, "parents": parents,
                "status": {e: i.status for e, i in by_ext.items()}}


def _reference(
    tmp_path: Path, settings: Settings, srv: GraphServer, second_state: bool
) -> tuple[dict[str, object], int]:
    """The archive an uninterrupted run makes, and how many requests its last capture made.

    It uses the same server (media URLs carry its port), then puts the first state back."""
    ref = replace(settings, home=tmp_path / "ref", db_url=f"sqlite:///{tmp_path / 'ref.db'}",
                  store_url=(tmp_path / "ref" / "blobs").as_uri(),
                  index_dir=tmp_path / "ref" / "index")
    _prepare(ref, srv)
    before = srv.request_count
    assert _capture(ref, srv) == 0
    if second_state:
        srv.apply_second_state()
        before = srv.request_count
        assert _capture(ref, srv) == 0
    requests = srv.request_count - before
    srv.set_dataset(load_sample())
    return _snapshot(ref), requests


@pytest.mark.parametrize(
    ("phase", "fraction"),
    [("first", 0.05), ("first", 0.5), ("first", 0.9), ("second", 0.3), ("second", 0.9)],
)
def test_killed_capture_rerun_equals_uninterrupted(
    settings: Settings, server: GraphServer, tmp_path: Path, phase: str, fraction: float
) -> None:
    expected, total_requests = _reference(tmp_path, settings, server,
                                          second_state=phase == "second")
    kill_after = max(1, int(total_requests * fraction))
    _prepare(settings, server)
    if phase == "second":
        assert _capture(settings, server) == 0
        server.apply_second_state()
    assert _capture(settings, server, kill_after=kill_after) == -signal.SIGKILL
    assert _capture(settings, server) == 0
    assert _snapshot(settings) == expected
    with open_archive(settings) as archive:
        assert verify_archive(archive).ok
        with archive.sessions() as s:
            statuses = [r.status for r in s.scalars(select(CaptureRun).order_by(CaptureRun.id))]
    # The killed run is on record as interrupted (unless it was killed after its run finished,
    # while downloading media), never left 'running' forever.
    assert "running" not in statuses
    killed = statuses[-2]
    assert killed in ("interrupted", "succeeded")
    if fraction < 0.8:
        assert killed == "interrupted"
