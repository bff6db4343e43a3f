"""A hold or a request scope made while a purge batch runs protects what it covers.

Two processes. This one runs an approved purge and stops inside its first batch, after the batch
has checked holds and requests and before it destroys anything (the purge's ``checkpoint``
"checked"). At that moment a second process creates a hold, or registers a request with a scope,
covering everything. Whatever the order the database lets them run in, no item may end up both
destroyed and covered by the new hold or request.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.retention.purge import purge
from archiver.store.models import Hold, HoldItem, Item, OpenRecordsRequest, RequestItem, Tombstone
from tests.support.retention import Captured, captured, set_today  # noqa: F401

LATE = date(2030, 1, 1)
# How long the paused batch waits for the second process once it is ready: ample for it to
# finish if nothing stops it (a few tenths of a second on an idle machine).
GRACE_SECONDS = 6.0

OPEN_ARCHIVE = """
from archiver.cli.support import archive_from_env
archive = archive_from_env().__enter__()
print("ready", flush=True)
"""

HOLD = OPEN_ARCHIVE + """
from archiver.retention.holds import HoldSpec, create_hold
create_hold(archive, HoldSpec(name="late-hold", matter="M", created_by="Counsel", query="*"))
archive.close()
"""

REQUEST = OPEN_ARCHIVE + """
from datetime import date
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.requests import add_request
from archiver.retention.scope import ProtectionScope
add_request(archive, "late-request", received_on=date(2029, 12, 31), calendar=HolidayCalendar(),
            actor="clerk", scope=ProtectionScope(everything=True))
archive.close()
"""


@dataclass
class Intruder:
    """The checkpoint: at the first batch's "checked" step, start the second process and give it
    time to finish (it cannot while the batch keeps others from adding protection)."""

    script: str
    env: dict[str, str]
    proc: subprocess.Popen[str] | None = None
    finished_during_pause: bool = False
    steps: list[str] = field(default_factory=list)

    def __call__(self, name: str, count: int) -> None:
        self.steps.append(name)
        if name != "checked" or self.proc is not None:
            return
        self.proc = subprocess.Popen([sys.executable, "-c", self.script], env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            _out, err = self.proc.communicate(timeout=60)
            pytest.fail(f"the second process did not start: {err}")
        try:
            self.proc.wait(timeout=GRACE_SECONDS)
            self.finished_during_pause = True
        except subprocess.TimeoutExpired:
            self.finished_during_pause = False

    def finish(self) -> str:
        assert self.proc is not None, f"the purge never reached its checked step: {self.steps}"
        _out, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, err
        return err


@pytest.mark.parametrize("what", ["hold", "request"])
def test_protection_added_during_a_purge_batch_is_respected(
        captured: Captured, settings_env: dict[str, str], tmp_path: Path,  # noqa: F811
        what: str) -> None:
    archive = captured.archive
    set_today(archive, LATE)
    intruder = Intruder(HOLD if what == "hold" else REQUEST, {**os.environ, **settings_env})
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path, batch=5,
                   checkpoint=intruder)
    intruder.finish()
    with archive.sessions() as s:
        if what == "hold":
            covered = set(s.scalars(select(HoldItem.item_id).join(Hold)
                                    .where(Hold.name == "late-hold")))
        else:
            covered = set(s.scalars(select(RequestItem.item_id).join(OpenRecordsRequest).where(
                OpenRecordsRequest.request_id == "late-request")))
        destroyed = set(s.scalars(select(Tombstone.item_id)))
        every = set(s.scalars(select(Item.id)))
    assert not covered & destroyed, sorted(covered & destroyed)
    # The batch that was running when the protection came went through; everything still
    # there afterwards is covered.
    assert result.destroyed >= 5 and covered | destroyed == every
    # The second process had to wait for the batch: it could not commit in between.
    assert not intruder.finished_during_pause
