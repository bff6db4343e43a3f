"""Holds and purge on S3 with Object Lock (moto on loopback), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.config import Settings
from archiver.initialise import initialise
from archiver.retention.holds import HoldSpec, create_hold, hold_detail, release_hold
from archiver.retention.purge import purge
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.archive import Archive, open_archive
from archiver.store.models import ItemVersion, Tombstone
from archiver.verify import verify_archive
from tests.support.retention import capture_sample, set_today, use_schedule

LATE = date(2030, 1, 1)


@pytest.fixture
def s3_archive(db_url: str, tmp_path: Path, s3_lock_bucket: str,
               moto_endpoint: str) -> Iterator[Archive]:
    home = tmp_path / "home"
    cfg = Settings(home=home, db_url=db_url, store_url=f"s3://{s3_lock_bucket}/blobs",
                   index_dir=home / "index", s3_endpoint_url=moto_endpoint)
    initialise(cfg, environ={})
    with open_archive(cfg) as archive:
        yield archive


def _raw(archive: Archive, ids: list[int]) -> list[str]:
    with archive.sessions() as s:
        return [h for h in s.scalars(select(ItemVersion.record_sha256)
                                     .where(ItemVersion.item_id.in_(ids))) if h]


def test_s3_legal_hold_follows_the_hold_and_purge_deletes(s3_archive: Archive, tmp_path: Path,
                                                          s3_client: Any) -> None:
    archive = s3_archive
    use_schedule(archive, tmp_path / "sched")
    with GraphServer(load_sample(), page_size=5) as server:
        capture_sample(archive, server)
    create_hold(archive, HoldSpec(name="h", matter="m", created_by="c", query="*"))
    held = hold_detail(archive, "h")["item_ids"]
    hashes = _raw(archive, held)
    set_today(archive, LATE)
    assert hashes and all(archive.store.is_held(h) for h in hashes)
    first = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "o1")
    assert first.destroyed == 0
    release_hold(archive, "h", released_by="c", reason="settled")
    assert not any(archive.store.is_held(h) for h in hashes)
    second = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "o2")
    assert second.destroyed > 0 and not second.blobs_locked
    with archive.sessions() as s:
        assert set(s.scalars(select(Tombstone.item_id))) == set(held)
    for h in hashes:  # records are per item: every one was deleted from the bucket
        assert not archive.store.exists(h)
    assert verify_archive(archive).ok
