"""Disposition reaches the WARC files: a purge leaves no destroyed text in any stored WARC byte,
held items keep their records, and a purge killed in the middle finishes when run again."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.blobs.pack_format import scan_pack
from archiver.retention.holds import HoldSpec, create_hold
from archiver.retention.purge import purge
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.archive import Archive
from archiver.store.models import Item, ItemVersion, WarcFile, WarcRecord
from archiver.store.warcs import payload_digest, read_record_at
from archiver.verify import verify_archive
from tests.support.retention import (  # noqa: F401
    Captured,
    capture_sample,
    captured,
    set_today,
    use_schedule,
)
from tests.support.warc import inflated, stored_warcs, warc_bytes
from tests.test_purge import LATE
from tests.test_retention_s3 import s3_archive  # noqa: F401


class Crash(Exception):
    pass


def texts_of(c: Captured, item_ids: list[int]) -> list[str]:
    with c.archive.sessions() as s:
        return sorted({t for t in s.scalars(select(ItemVersion.text).where(
            ItemVersion.item_id.in_(item_ids))) if t and len(t) >= 16 and " " in t})


def hold_first_post(c: Captured) -> list[int]:
    """Hold the first post (by its publication time): it survives, the rest is destroyed."""
    with c.archive.sessions() as s:
        post = s.scalars(select(Item).where(Item.kind == "post").order_by(Item.published_at)
                         ).first()
        assert post is not None and post.published_at is not None
        when = post.published_at
    create_hold(c.archive, HoldSpec(name="smith-v-city", matter="Smith v. City",
                                    created_by="Counsel", account_id=c.account.id,
                                    since=when - timedelta(seconds=1),
                                    until=when + timedelta(seconds=1)))
    with c.archive.sessions() as s:
        return list(s.scalars(select(Item.id).where(
            Item.published_at >= when - timedelta(seconds=1),
            Item.published_at <= when + timedelta(seconds=1))))


def spellings(text: str) -> list[bytes]:
    return [text.encode(), json.dumps(text)[1:-1].encode(),
            json.dumps(text, ensure_ascii=False)[1:-1].encode()]


def check_after_purge(c: Captured, held: list[int], destroyed_texts: list[str],
                      old_blobs: set[str]) -> None:
    archive = c.archive
    for row in stored_warcs(archive):
        plain = inflated(warc_bytes(archive, row))
        for text in destroyed_texts:
            assert not any(s in plain for s in spellings(text)), text[:30]
    for sha in old_blobs - {r.sha256 for r in stored_warcs(archive)}:
        assert not archive.store.exists(sha)
    # Held items keep a record that carries them, read back at its recorded place.
    with archive.sessions() as s:
        kept = s.execute(select(Item.external_id, WarcRecord, WarcFile.sha256)
                         .join(ItemVersion, ItemVersion.item_id == Item.id)
                         .join(WarcRecord, WarcRecord.id == ItemVersion.warc_record_id)
                         .join(WarcFile, WarcFile.id == WarcRecord.warc_file_id)
                         .where(Item.id.in_(held))).all()
    assert kept
    for external_id, record, sha in kept:
        assert record.file_offset is not None and record.removed_at is None
        read = read_record_at(archive.store.get(sha), record.file_offset)
        assert read.header("WARC-Record-ID") == record.record_id
        assert payload_digest(read.payload) == record.payload_digest
        assert external_id.encode() in read.payload
        if record.record_type == "conversion":
            assert read.header("WARC-Refers-To") == record.original_record_id
            assert record.original_payload_digest
    report = verify_archive(archive)
    assert report.ok, report.problems


def test_purge_leaves_no_destroyed_text_in_any_warc_byte(captured: Captured,  # noqa: F811
                                                        tmp_path: Path) -> None:
    archive = captured.archive
    captured.comment_later("A second capture run brings this visitor comment along")
    held = hold_first_post(captured)
    with archive.sessions() as s:
        doomed = [i for i in s.scalars(select(Item.id)) if i not in held]
    destroyed_texts = texts_of(captured, doomed)
    held_texts = texts_of(captured, held)
    assert destroyed_texts and held
    before = stored_warcs(archive)
    assert len(before) == 2
    plain = b"".join(inflated(warc_bytes(archive, r)) for r in before)
    assert all(any(s in plain for s in spellings(t)) for t in destroyed_texts)
    set_today(archive, LATE)
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "out")
    assert result.destroyed == len(doomed)
    assert result.warc is not None
    assert result.warc["records_removed"] > 0 and result.warc["records_converted"] > 0
    check_after_purge(captured, held, destroyed_texts, {r.sha256 for r in before if r.sha256})
    after = b"".join(inflated(warc_bytes(archive, r)) for r in stored_warcs(archive))
    assert all(any(s in after for s in spellings(t)) for t in held_texts)
    certificate = json.loads(Path(result.certificate_path or "").read_bytes())
    assert certificate["warc"]["records_converted"] == result.warc["records_converted"]


def test_purge_killed_in_the_warc_step_finishes_when_run_again(
        captured: Captured, tmp_path: Path) -> None:  # noqa: F811
    archive = captured.archive
    captured.comment_later("A second capture run brings this visitor comment along")
    held = hold_first_post(captured)
    with archive.sessions() as s:
        doomed = [i for i in s.scalars(select(Item.id)) if i not in held]
    destroyed_texts = texts_of(captured, doomed)
    before = {r.sha256 for r in stored_warcs(archive) if r.sha256}
    set_today(archive, LATE)

    def killed(name: str, count: int) -> None:
        if name == "warc":
            raise Crash("killed after the first WARC file")

    with pytest.raises(Crash):
        purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "out",
              checkpoint=killed)
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "out")
    assert result.resumed
    check_after_purge(captured, held, destroyed_texts, before)


def test_purge_leaves_no_destroyed_text_in_any_s3_object_version(
        s3_archive: Archive, tmp_path: Path, s3_client: Any,  # noqa: F811
        s3_lock_bucket: str) -> None:
    archive = s3_archive
    use_schedule(archive, tmp_path / "sched")
    with GraphServer(load_sample(), page_size=5) as server:
        c = Captured(archive, capture_sample(archive, server), server)
        c.comment_later("A second capture run brings this visitor comment along")
    held = hold_first_post(c)
    with archive.sessions() as s:
        doomed = [i for i in s.scalars(select(Item.id)) if i not in held]
    destroyed_texts = texts_of(c, doomed)
    before = {r.sha256 for r in stored_warcs(archive) if r.sha256}
    set_today(archive, LATE)
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "out")
    assert result.warc is not None and not result.warc["old_files_locked"]
    check_after_purge(c, held, destroyed_texts, before)
    # Every version of every object left in the bucket, and every blob in a pack object: no
    # WARC member holds destroyed text.
    pages = s3_client.get_paginator("list_object_versions").paginate(Bucket=s3_lock_bucket)
    warcs = 0
    for page in pages:
        for version in page.get("Versions", []):
            body = s3_client.get_object(Bucket=s3_lock_bucket, Key=version["Key"],
                                        VersionId=version["VersionId"])["Body"].read()
            blobs = [body[r.start:r.start + r.length] for r in scan_pack(body, version["Key"])
                     ] if "/packs/" in version["Key"] else [body]
            for blob in blobs:
                if not blob.startswith(b"\x1f\x8b"):
                    continue
                plain = inflated(blob)
                if not plain.startswith(b"WARC/1.1"):
                    continue
                warcs += 1
                for text in destroyed_texts:
                    assert not any(sp in plain for sp in spellings(text)), text[:30]
    assert warcs == len(stored_warcs(archive))
