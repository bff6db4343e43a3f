"""Fixtures and helpers for the Nextdoor, TikTok and LinkedIn connectors: each ``*_server``
fixture is a started loopback server with its generated sample; :func:`searched_and_exported`
finds and exports what a capture stored, through the same functions the CLI calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.selection import Scope
from archiver.search.interface import SearchFilters
from archiver.search.items import search_items
from archiver.standins.linkedin_server import LinkedInServer
from archiver.standins.nextdoor_server import NextdoorServer
from archiver.standins.tiktok_server import TikTokServer
from archiver.store.archive import Archive
from tests.test_export_open_records import register as register_request
from tests.test_export_open_records import unzip


@pytest.fixture
def tiktok_server() -> Iterator[TikTokServer]:
    """The sample business account, five items a page."""
    with TikTokServer(page_size=5) as server:
        yield server


@pytest.fixture
def linkedin_server() -> Iterator[LinkedInServer]:
    """The sample organization page, five items a page."""
    with LinkedInServer(page_size=5) as server:
        yield server


@pytest.fixture
def nextdoor_server() -> Iterator[NextdoorServer]:
    """The sample agency, five posts a page, the six latest listed."""
    with NextdoorServer(page_size=5) as server:
        yield server


def found_texts(archive: Archive, query: str, account_id: int) -> list[str]:
    """The texts of every item of the account that ``query`` finds."""
    outcome = search_items(archive, query, SearchFilters(account_id=account_id), limit=100)
    return [str(row.get("text") or "") for row in outcome.results]


def exported_items(archive: Archive, query: str, tmp_path: Path) -> tuple[Path, list[str]]:
    """Export an open-records package for ``query``; (the bag, its index.csv lines)."""
    register_request(archive)
    result = export_open_records(archive, Scope(query=query), OpenRecordsOptions(
        request_id="KORA-2024-17", out=tmp_path / "package.zip", actor="clerk"))
    bag = unzip(result.path, tmp_path / "package")
    return bag, (bag / "data" / "index.csv").read_text(encoding="utf-8").splitlines()
