"""The Bluesky connector against Bluesky's own reference server: ``@atproto/pds`` with an
in-process PLC directory (``@atproto/dev-env``'s ``TestNetworkNoAppView``), on loopback, offline.

The PDS alone serves ``com.atproto.*`` (sessions, repositories) but not the ``app.bsky.*`` views
(those are the AppView's, which dev-env runs only with PostgreSQL and Redis). So this checks what
the PDS can answer: signing in with an app password, a wrong one refused in one line, the
account's own posts looked up in its repository (kept: present; deleted: gone, with the PDS's
``RecordNotFound`` as evidence), and a feed read without an AppView failing in one line.

Needs node >= 18.7 and ``npm install @atproto/dev-env@0.3.215`` (the last release that runs on
node 20; later ones need node 22) in the folder ``ARCHIVER_TEST_ATPROTO_DIR`` names.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archiver.connectors.errors import AuthError, TransientError
from archiver.connectors.records import ROOT_SCOPE, Gone, ItemRef, Present
from tests.support.platforms_b import make_connector

SCRIPT = Path(__file__).parent / "support" / "bluesky_pds.js"
DIR_VAR = "ARCHIVER_TEST_ATPROTO_DIR"


def _missing() -> str | None:
    """Why the reference PDS cannot run here, or None."""
    node = shutil.which("node")
    folder = os.environ.get(DIR_VAR)
    if node is None:
        return "node is not installed"
    if not folder or not (Path(folder) / "node_modules" / "@atproto" / "dev-env").is_dir():
        return (f"{DIR_VAR} does not name a folder where `npm install @atproto/dev-env@0.3.215` "
                "ran")
    return None


pytestmark = pytest.mark.skipif(_missing() is not None,
                                reason=f"Bluesky's reference PDS: {_missing()}")


@pytest.fixture(scope="module")
def pds() -> Iterator[dict[str, Any]]:
    """A running PDS with one account; its address, DID, handle, app password and two posts."""
    folder = Path(os.environ[DIR_VAR])
    env = {**os.environ, "NODE_PATH": str(folder / "node_modules")}
    proc = subprocess.Popen(["node", str(SCRIPT)], cwd=folder, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline() if proc.stdout else ""),
                     daemon=True).start()
    try:
        first = lines.get(timeout=120)
        if not first:
            pytest.fail(f"the PDS did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield json.loads(first)
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_app_password_session_and_repository_lookups(pds: dict[str, Any]) -> None:
    # Registered by handle: the session names the DID that makes a post the account's own.
    c = make_connector("bluesky", pds["handle"], pds["url"], pds["appPassword"])
    assert isinstance(c.lookup(ItemRef(pds["kept"], "post", ROOT_SCOPE)), Present)
    gone = c.lookup(ItemRef(pds["deleted"], "post", ROOT_SCOPE))
    assert isinstance(gone, Gone), gone
    assert gone.evidence["response"]["error"] == "RecordNotFound"
    assert gone.evidence["account_check"]["http_status"] == 200
    assert c.stats.extra["sessions"] == 1
    assert pds["appPassword"] not in json.dumps(gone.evidence)


def test_wrong_app_password_is_refused_in_one_line(pds: dict[str, Any]) -> None:
    c = make_connector("bluesky", pds["did"], pds["url"], "wrong-app-password")
    with pytest.raises(AuthError) as info:
        list(c.read())
    message = str(info.value)
    assert "\n" not in message and "AuthenticationRequired" in message
    assert "wrong-app-password" not in message


def test_feed_without_an_appview_fails_in_one_line(pds: dict[str, Any]) -> None:
    c = make_connector("bluesky", pds["did"], pds["url"], pds["appPassword"], max_retries=1)
    with pytest.raises(TransientError) as info:
        list(c.read())
    assert "getAuthorFeed" in str(info.value) and "\n" not in str(info.value)
