"""Retention fixtures: a test schedule, and an archive holding the captured sample page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from archiver.capture.account import capture_account
from archiver.capture.results import CaptureResult
from archiver.retention.loading import apply_schedule
from archiver.retention.schedule import load_schedule
from archiver.standins.dataset import GRAPH_TIME, Author, Comment, load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Account

__all__ = ["TEST_SCHEDULE", "TOKEN_ENV", "Captured", "capture_sample", "captured", "set_today",
           "use_schedule", "write_schedule"]

TOKEN_ENV = "ARCHIVER_TEST_RETENTION_TOKEN"

TEST_SCHEDULE = """\
schedule: test-schedule
title: Test schedule
default_series: KEEP
series:
  - code: POSTS
    title: Posts
    retention: {years: 1}
    trigger: published
    action: destroy
    authority: {citation: "Test authority A", url: "https://example.org/a"}
  - code: COMMENTS
    title: Comments
    retention: {days: 30}
    trigger: published
    action: transfer
    authority: {citation: "Test authority B"}
  - code: KEEP
    title: Everything else
    trigger: permanent
    authority: {citation: "Test authority C"}
rules:
  - series: POSTS
    match: {kind: post}
  - series: COMMENTS
    match: {kind: [comment, reply]}
"""


def write_schedule(folder: Path, text: str, name: str = "schedule.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def use_schedule(archive: Archive, folder: Path, text: str = TEST_SCHEDULE) -> None:
    """Make ``text`` the archive's active schedule."""
    path = write_schedule(folder, text)
    apply_schedule(archive, load_schedule(path), str(path), actor="test")


def set_today(archive: Archive, day: date) -> None:
    """Let ``archive``'s clock read noon UTC on ``day`` (the same date in the agency's zone), so
    an approved purge may run as of ``day``."""
    archive.clock = lambda: datetime.combine(day, time(12), UTC)


VISITOR = Author(id="777", name="Visitor")


def comment_on_first_post(server: GraphServer, message: str, *, suffix: str = "99999",
                          author: Author = VISITOR) -> Comment:
    """A visitor comments on the sample's first post (published 2024-06-01 UTC); the new
    comment's external id ends with ``_<suffix>``."""
    dataset = server.dataset
    post = dataset.posts[0]
    new = Comment(id=f"{post.id.split('_')[-1]}_{suffix}", post_id=post.id, message=message,
                  created_time=datetime(2024, 6, 1, tzinfo=UTC).strftime(GRAPH_TIME),
                  author=author)
    server.set_dataset(replace(dataset, comments=(*dataset.comments, new)))
    return new


@dataclass
class Captured:
    archive: Archive
    account: Account
    server: GraphServer

    def comment_later(self, message: str, *, suffix: str = "99999",
                      author: Author = VISITOR) -> CaptureResult:
        """:func:`comment_on_first_post`, then capture runs again; returns the run's result."""
        comment_on_first_post(self.server, message, suffix=suffix, author=author)
        return capture_account(self.archive, self.account, {TOKEN_ENV: self.server.token},
                               sleep=lambda _s: None)


def capture_sample(archive: Archive, server: GraphServer) -> Account:
    """Register the sample page (on ``server``) and capture it once, through the real path."""
    account = add_account(archive, AccountSpec(
        platform="facebook", external_id=server.dataset.page_id, handle="springfield-pd",
        api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
    result = capture_account(archive, account, {TOKEN_ENV: server.token}, sleep=lambda _s: None)
    assert result.status == "succeeded", result.error
    return account


@pytest.fixture
def captured(archive: Archive, tmp_path: Path) -> Iterator[Captured]:
    """The sample page captured into ``archive`` under :data:`TEST_SCHEDULE`."""
    use_schedule(archive, tmp_path / "schedules")
    with GraphServer(load_sample(), page_size=5) as server:
        account = capture_sample(archive, server)
        yield Captured(archive, account, server)
