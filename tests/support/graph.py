"""Pytest fixtures and helpers around the loopback Graph API server.

``graph_server`` serves the bundled Springfield PD sample with pages of 5 (so paging is always
exercised); ``make_facebook_connector(server)`` builds a connector pointed at it whose sleeps are
recorded instead of slept.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from archiver.connectors.base import ConnectorConfig
from archiver.connectors.facebook import FacebookConnector
from archiver.standins.dataset import PageDataset, load_sample
from archiver.standins.graph_server import GraphServer

FIXED_NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class SleepRecorder:
    """A ``sleep`` that records what it was asked to wait instead of waiting."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    @property
    def total(self) -> float:
        """Everything asked for so far."""
        return sum(self.calls)


def facebook_config(server: GraphServer, **overrides: Any) -> ConnectorConfig:
    """A config for the sample page on ``server`` (fast timeouts and back-off for tests)."""
    values: dict[str, Any] = {
        "account_external_id": server.dataset.page_id,
        "api_base": server.base_url,
        "token": server.token,
        "timeout": 5.0,
        "backoff_base": 0.5,
        "backoff_cap": 30.0,
    }
    values.update(overrides)
    return ConnectorConfig(**values)


def make_facebook_connector(
    server: GraphServer, *, now: datetime = FIXED_NOW, **overrides: Any
) -> FacebookConnector:
    """A connector for ``server`` with a :class:`SleepRecorder` as its ``sleep``."""
    return FacebookConnector(
        facebook_config(server, **overrides),
        sleep=SleepRecorder(),
        now=lambda: now,
        rng=random.Random(1234),
    )


@pytest.fixture
def sample_dataset() -> PageDataset:
    """The bundled sample page (first state)."""
    return load_sample()


@pytest.fixture
def graph_server(sample_dataset: PageDataset) -> Iterator[GraphServer]:
    """A started loopback Graph server with the sample page, stopped afterwards."""
    with GraphServer(sample_dataset, page_size=5) as server:
        yield server


@pytest.fixture
def facebook_connector(graph_server: GraphServer) -> Iterator[FacebookConnector]:
    """A Facebook connector on ``graph_server`` (sleeps recorded in ``connector.sleep.calls``)."""
    with make_facebook_connector(graph_server) as connector:
        yield connector
