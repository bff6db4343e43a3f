"""Fixtures and helpers for the Bluesky and Threads connectors: their loopback servers on a shared
:class:`~tests.support.platforms_a.FakeClock`, connectors whose sleeps go to it, and the search
and export of a captured account through the library's real paths."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archiver.connectors import get_connector_class
from archiver.connectors.base import Connector
from archiver.exports.selection import Scope
from archiver.search.interface import SearchFilters
from archiver.search.items import search_items
from archiver.standins.bluesky_server import BlueskyServer
from archiver.standins.threads_server import ThreadsServer
from archiver.store.archive import Archive
from tests.support.platforms_a import FakeClock, _config
from tests.support.platforms_b import make_connector
from tests.support.redaction import export_redacted, zip_texts


def server_connector(platform: str, external_id: str, base: str, token: str | None,
                     clock: FakeClock | None = None, **overrides: Any) -> Connector:
    """A connector for a loopback server: its sleeps advance ``clock`` (and are recorded), or
    are only recorded without one."""
    if clock is None:
        return make_connector(platform, external_id, base, token, **overrides)
    return get_connector_class(platform)(
        _config(external_id, base, token, **overrides),
        sleep=clock.sleep, now=clock.now, rng=random.Random(7))


def bluesky_connector(server: BlueskyServer, clock: FakeClock | None = None,
                      **overrides: Any) -> Connector:
    """A Bluesky connector signed in with the server's app password unless ``token`` is given."""
    return server_connector("bluesky", server.dataset.did, server.base_url,
                            overrides.pop("token", server.password), clock, **overrides)


@pytest.fixture
def bluesky_server(fake_clock: FakeClock) -> Iterator[BlueskyServer]:
    """The sample Bluesky account on ``fake_clock``, feed pages of 4 so paging is exercised."""
    with BlueskyServer(page_size=4, clock=fake_clock.time) as server:
        yield server


def search_and_export(archive: Archive, folder: Path, query: str) -> tuple[list[dict[str, Any]],
                                                                          dict[str, str]]:
    """The search rows for ``query`` and every member of an open-records package of it (PDFs
    as text)."""
    found = search_items(archive, query, SearchFilters())
    package = export_redacted(archive, folder / "package.zip", Scope(query=query))
    return found.results, zip_texts(package, folder)


def threads_connector(server: ThreadsServer, clock: FakeClock | None = None,
                      **overrides: Any) -> Connector:
    """A Threads connector with the server's token unless ``token`` is given."""
    return server_connector("threads", server.th.user_id, server.base_url,
                            overrides.pop("token", server.token), clock, **overrides)


@pytest.fixture
def threads_server() -> Iterator[ThreadsServer]:
    """The sample Threads account, pages of 3 so paging is exercised."""
    with ThreadsServer(page_size=3) as server:
        yield server
