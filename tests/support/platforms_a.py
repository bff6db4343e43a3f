"""Fixtures for the Instagram and X connectors and their loopback servers.

``FakeClock`` is one clock shared by a server and a connector: the connector's injected ``sleep``
advances it, so a rate-limit window really resets after the connector waited for it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from archiver.connectors.base import ConnectorConfig
from archiver.connectors.instagram import InstagramConnector
from archiver.connectors.x import XConnector
from archiver.standins.instagram_server import InstagramServer
from archiver.standins.x_server import XServer

START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A clock that moves only when something sleeps on it; records every sleep."""

    at: datetime = START
    calls: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.at

    def time(self) -> float:
        return self.at.timestamp()

    def sleep(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.at += timedelta(seconds=seconds)


def _config(account: str, base: str, token: str | None, **overrides: Any) -> ConnectorConfig:
    values: dict[str, Any] = {"account_external_id": account, "api_base": base, "token": token,
                              "timeout": 5.0, "backoff_base": 0.5, "backoff_cap": 30.0}
    values.update(overrides)
    return ConnectorConfig(**values)


def make_instagram_connector(
    server: InstagramServer, clock: FakeClock | None = None, **overrides: Any
) -> InstagramConnector:
    """A connector for ``server`` whose sleeps go to ``clock`` (recorded, not slept)."""
    clock = clock or FakeClock()
    overrides.setdefault("token", server.token)
    return InstagramConnector(
        _config(server.ig.user_id, server.base_url, **overrides),
        sleep=clock.sleep, now=clock.now, rng=random.Random(7),
    )


def make_x_connector(server: XServer, clock: FakeClock, **overrides: Any) -> XConnector:
    """A connector for ``server`` sharing ``clock`` with it."""
    overrides.setdefault("token", server.token)
    return XConnector(
        _config(server.dataset.account.id, server.base_url, **overrides),
        sleep=clock.sleep, now=clock.now, rng=random.Random(7),
    )


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh :class:`FakeClock` at 2024-06-01 12:00 UTC."""
    return FakeClock()


@pytest.fixture
def instagram_server() -> Iterator[InstagramServer]:
    """The sample Instagram account, pages of 3 so paging is exercised."""
    with InstagramServer(page_size=3) as server:
        yield server


@pytest.fixture
def x_server(fake_clock: FakeClock) -> Iterator[XServer]:
    """The sample X account on ``fake_clock``, small pages so paging is exercised."""
    with XServer(clock=fake_clock.time, timeline_page=2, search_page=2) as server:
        yield server
