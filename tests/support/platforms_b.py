"""Fixtures and helpers for the YouTube, WordPress, MediaWiki and feed connectors.

Each ``*_server`` fixture is a started loopback server with its generated sample; the
``capture_platform`` helper registers an account for it and runs the real capture path.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from archiver.capture.account import capture_account
from archiver.capture.results import CaptureResult
from archiver.connectors import get_connector_class
from archiver.connectors.base import Connector, ConnectorConfig
from archiver.standins.feed_server import FeedServer
from archiver.standins.mediawiki_server import MediaWikiServer
from archiver.standins.wordpress_server import WordPressServer
from archiver.standins.youtube_server import YouTubeServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Account, Item, ItemVersion
from tests.support.graph import FIXED_NOW, SleepRecorder

TOKEN_ENV = "ARCHIVER_TEST_PLATFORM_TOKEN"


def make_connector(
    platform: str, external_id: str, api_base: str, token: str | None, **overrides: Any
) -> Connector:
    """A connector for a loopback server, sleeps recorded, fast timeouts and back-off."""
    extra = {k: overrides.pop(k) for k in ("validators", "recorder") if k in overrides}
    values: dict[str, Any] = {
        "account_external_id": external_id,
        "api_base": api_base,
        "token": token,
        "timeout": 5.0,
        "backoff_base": 0.5,
        "backoff_cap": 30.0,
        **overrides,
    }
    cls = get_connector_class(platform)
    return cls(
        ConnectorConfig(**values),
        sleep=SleepRecorder(),
        now=lambda: FIXED_NOW,
        rng=random.Random(7),
        **extra,
    )


@dataclass
class PlatformAccount:
    """An archive account for a loopback server and how to capture it."""

    archive: Archive
    account: Account
    token: str | None

    def capture(self, sleep: SleepRecorder | None = None) -> CaptureResult:
        """One run through :func:`archiver.capture.account.capture_account`."""
        env = {TOKEN_ENV: self.token} if self.token else {TOKEN_ENV: "unused"}
        return capture_account(self.archive, self.account, env, sleep=sleep or SleepRecorder())

    def items(self) -> dict[str, Item]:
        with self.archive.sessions() as s:
            return {i.external_id: i for i in s.scalars(select(Item))}

    def versions(self) -> int:
        with self.archive.sessions() as s:
            return s.scalar(select(func.count()).select_from(ItemVersion)) or 0


def register(
    archive: Archive, platform: str, external_id: str, api_base: str, token: str | None
) -> PlatformAccount:
    """Register the account with :func:`archiver.store.accounts.add_account`."""
    account = add_account(
        archive,
        AccountSpec(
            platform=platform,
            external_id=external_id,
            handle=f"pd-{platform}",
            api_base=api_base,
            token_env=TOKEN_ENV,
        ),
        actor="test",
    )
    return PlatformAccount(archive, account, token)


def timed_capture(acct: PlatformAccount, server: Any, label: str) -> CaptureResult:
    """Capture, printing items/s and the requests made (benchmark numbers, not asserted)."""
    before = server.request_count
    start = time.perf_counter()
    result = acct.capture()
    elapsed = max(time.perf_counter() - start, 1e-9)
    print(
        f"{label}: {result.seen} items in {elapsed:.2f}s ({result.seen / elapsed:.0f} items/s), "
        f"{server.request_count - before} requests"
    )
    return result


@pytest.fixture
def youtube_server() -> Iterator[YouTubeServer]:
    """The sample channel, five items a page."""
    with YouTubeServer(page_size=5) as server:
        yield server


@pytest.fixture
def wordpress_server() -> Iterator[WordPressServer]:
    """The sample site."""
    with WordPressServer() as server:
        yield server


@pytest.fixture
def mediawiki_server() -> Iterator[MediaWikiServer]:
    """The sample wiki, four results a page (continuation always exercised)."""
    with MediaWikiServer(page_size=4) as server:
        yield server


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """The sample news feed (not declared complete)."""
    with FeedServer() as server:
        yield server
