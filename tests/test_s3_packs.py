"""Small blobs in pack objects on S3 (moto on loopback): round trip, other hosts see the packs,
verify reads a pack per request, deletes leave no version of any object with destroyed bytes,
a killed rewrite is finished from the bucket's journal, held and locked blobs are refused, and
``upgrade`` / ``archiver init`` move single objects into packs with verify passing throughout."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.blobs.factory import open_blob_store
from archiver.blobs.packs import INDEX, PACK_BELOW
from archiver.blobs.s3 import S3BlobStore
from archiver.blobs.s3_packed import PackedS3BlobStore
from archiver.config import Settings
from archiver.errors import BlobLocked
from archiver.initialise import initialise
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.archive import Archive, open_archive
from archiver.store.models import Blob
from archiver.verify import verify_archive
from tests.support.retention import capture_sample, use_schedule
from tests.test_packs import ROOT, _kill_when, payloads, sha


def packed(client: Any, bucket: str, cache: Path, **options: Any) -> PackedS3BlobStore:
    return PackedS3BlobStore(bucket, "blobs", client=client, cache=cache,
                             pack_below=PACK_BELOW, **options)


def every_version(client: Any, bucket: str) -> Iterator[tuple[str, bytes]]:
    """(key, bytes) of every version of every object in the bucket."""
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            body = client.get_object(Bucket=bucket, Key=version["Key"],
                                     VersionId=version["VersionId"])["Body"].read()
            yield version["Key"], body


def keys(client: Any, bucket: str, prefix: str) -> list[str]:
    reply = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in reply.get("Contents", [])]


def test_round_trip_through_packs_seen_by_another_host(s3_client: Any, s3_bucket: str,
                                                       tmp_path: Path) -> None:
    store = packed(s3_client, s3_bucket, tmp_path / "a")
    small = payloads(50)
    big = os.urandom(PACK_BELOW)  # at the threshold: its own object
    assert store.put_many([*small, big, small[0]]) == [sha(b) for b in [*small, big, small[0]]]
    assert store.put(b"one more") == sha(b"one more")
    (tmp_path / "f").write_bytes(b"from a file")
    assert store.put_file(tmp_path / "f") == (sha(b"from a file"), 11)
    packs = keys(s3_client, s3_bucket, "blobs/packs/")
    assert len(packs) == 3
    assert keys(s3_client, s3_bucket, f"blobs/{sha(big)[:2]}") == [f"blobs/{sha(big)[:2]}/"
                                                                    f"{sha(big)[2:4]}/{sha(big)}"]
    everything = [*small, big, b"one more", b"from a file"]
    expected = sorted(sha(b) for b in everything)
    # Another host: an empty cache, filled from the bucket's pack listing on the first miss.
    other = packed(s3_client, s3_bucket, tmp_path / "b")
    for data in everything:
        assert other.exists(sha(data)) and other.get(sha(data)) == data
        with other.open(sha(data)) as fh:
            assert fh.read() == data
    assert list(other.iter_hashes()) == expected
    assert all(c.digest == c.sha256 for c in other.hash_many(expected))
    assert not other.exists(sha(b"never stored"))


def test_verify_reads_a_pack_per_request_not_a_blob(s3_client: Any, s3_bucket: str,
                                                   tmp_path: Path) -> None:
    store = packed(s3_client, s3_bucket, tmp_path / "cache")
    blobs = payloads(600)
    for at in range(0, 600, 200):
        store.put_many(blobs[at:at + 200])
    gets: list[str] = []
    store.client.meta.events.register(
        "before-call.s3.GetObject", lambda params, **_: gets.append(params["url_path"]))
    checks = list(store.hash_many(sorted(sha(b) for b in blobs)))
    assert all(c.digest == c.sha256 for c in checks) and len(checks) == 600
    assert len(gets) == 3  # one ranged GET per pack


def test_a_flipped_byte_in_a_pack_object_is_reported_for_exactly_that_blob(
        s3_client: Any, s3_bucket: str, tmp_path: Path) -> None:
    store = packed(s3_client, s3_bucket, tmp_path / "cache")
    blobs = payloads(40)
    store.put_many(blobs)
    victim = sha(blobs[17])
    where = store.packs.locate(victim)
    assert where is not None
    name, record = where
    key = store.backend.key(name)
    data = bytearray(s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
    data[record.start + record.length // 2] ^= 0x01
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=bytes(data))
    bad = [c.sha256 for c in store.hash_many(sorted(sha(b) for b in blobs))
           if c.digest != c.sha256]
    assert bad == [victim]


def test_delete_leaves_no_version_of_any_object_with_destroyed_bytes(
        s3_client: Any, s3_lock_bucket: str, tmp_path: Path) -> None:
    store = packed(s3_client, s3_lock_bucket, tmp_path / "cache")
    doomed, kept = payloads(60, "doomed"), payloads(60, "kept")
    for at in range(0, 60, 20):  # three packs, each with doomed and kept blobs
        store.put_many(doomed[at:at + 20] + kept[at:at + 20])
    old_packs = keys(s3_client, s3_lock_bucket, "blobs/packs/")
    assert store.delete_many([sha(d) for d in doomed]) == {sha(d): None for d in doomed}
    found = list(every_version(s3_client, s3_lock_bucket))
    for data in doomed:
        assert not [k for k, body in found if data in body], data
    assert not set(old_packs) & {k for k, _ in found}
    other = packed(s3_client, s3_lock_bucket, tmp_path / "other")
    for data in kept:
        assert other.get(sha(data)) == data
    assert not any(other.exists(sha(d)) for d in doomed)
    assert not keys(s3_client, s3_lock_bucket, "blobs/pack-journal/")


KILLED_DELETE = """
import sys
from pathlib import Path
from archiver.blobs.packs import PACK_BELOW
from archiver.blobs.s3 import make_s3_client
from archiver.blobs.s3_packed import PackedS3BlobStore
endpoint, bucket, cache, *hashes = sys.argv[1:]
store = PackedS3BlobStore(bucket, "blobs", client=make_s3_client(endpoint_url=endpoint),
                          cache=Path(cache), pack_below=PACK_BELOW)
store.delete_many(hashes)
"""


@pytest.mark.parametrize("resume", ["delete", "upgrade"])
def test_killed_rewrite_is_finished_by_another_host_from_the_bucket_journal(
        s3_client: Any, s3_lock_bucket: str, moto_endpoint: str, tmp_path: Path,
        resume: str) -> None:
    store = packed(s3_client, s3_lock_bucket, tmp_path / "writer")
    doomed, kept = payloads(80, "doomed"), payloads(80, "kept")
    for d, k in zip(doomed, kept, strict=True):  # 80 packs to rewrite
        store.put_many([d, k])
    killer_cache = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_DELETE, moto_endpoint, s3_lock_bucket,
                             str(killer_cache), *(sha(b) for b in doomed)], cwd=ROOT)
    killed = _kill_when(proc, killer_cache / "packs" / INDEX,
                        "SELECT 1 FROM rewrite LIMIT 1 OFFSET 20")
    assert killed, "the rewrite finished before it could be killed"
    assert keys(s3_client, s3_lock_bucket, "blobs/pack-journal/")
    # Another host, which never saw the killed process's cache, finishes it on its next delete
    # or its next ``archiver init``.
    other = packed(s3_client, s3_lock_bucket, tmp_path / "other")
    if resume == "delete":
        other.delete_many([sha(doomed[0])])
    else:
        assert other.upgrade()["objects_packed"] == 0
    assert other.packs.finish_rewrites() == 0
    assert not keys(s3_client, s3_lock_bucket, "blobs/pack-journal/")
    found = list(every_version(s3_client, s3_lock_bucket))
    for data in doomed:
        assert not [k for k, body in found if data in body], data
    for data in kept:
        assert other.get(sha(data)) == data
    assert len(keys(s3_client, s3_lock_bucket, "blobs/packs/")) == len(kept)


def test_held_blob_is_refused_and_carried_with_its_hold(s3_client: Any, s3_lock_bucket: str,
                                                        tmp_path: Path) -> None:
    store = packed(s3_client, s3_lock_bucket, tmp_path / "cache")
    a, b, c = b'{"a": "held text"}', b'{"b": "doomed text"}', b'{"c": "kept text"}'
    store.put_many([a, b, c])
    (old,) = keys(s3_client, s3_lock_bucket, "blobs/packs/")
    store.set_legal_hold(sha(a), True)
    assert store.is_held(sha(a)) and not store.is_held(sha(b))
    assert s3_client.get_object_legal_hold(Bucket=s3_lock_bucket, Key=old)[
        "LegalHold"]["Status"] == "ON"
    result = store.delete_many([sha(a), sha(b)])
    assert isinstance(result[sha(a)], BlobLocked) and result[sha(b)] is None
    (new,) = keys(s3_client, s3_lock_bucket, "blobs/packs/")
    assert new != old
    assert s3_client.get_object_legal_hold(Bucket=s3_lock_bucket, Key=new)[
        "LegalHold"]["Status"] == "ON"
    assert not [k for k, body in every_version(s3_client, s3_lock_bucket) if b in body]
    assert store.get(sha(a)) == a and store.get(sha(c)) == c
    store.set_legal_hold(sha(a), False)
    assert s3_client.get_object_legal_hold(Bucket=s3_lock_bucket, Key=new)[
        "LegalHold"]["Status"] == "OFF"
    assert store.delete_many([sha(a)]) == {sha(a): None}
    assert not [k for k, body in every_version(s3_client, s3_lock_bucket) if a in body]


def test_a_pack_under_retention_is_reported_locked_not_bypassed(
        s3_client: Any, s3_lock_bucket: str, tmp_path: Path) -> None:
    store = packed(s3_client, s3_lock_bucket, tmp_path / "cache", lock_mode="GOVERNANCE",
                   lock_days=1)
    a, b = b'{"a": 1}', b'{"b": 2}'
    store.put_many([a, b])
    result = store.delete_many([sha(a)])
    assert isinstance(result[sha(a)], BlobLocked), result
    assert "Object Lock" in str(result[sha(a)])
    assert store.get(sha(a)) == a and store.get(sha(b)) == b
    assert not keys(s3_client, s3_lock_bucket, "blobs/pack-journal/")


def test_upgrade_moves_single_objects_into_packs(s3_client: Any, s3_lock_bucket: str,
                                                 tmp_path: Path) -> None:
    old = S3BlobStore(s3_lock_bucket, "blobs", client=s3_client)  # one object per blob
    small = payloads(120)
    big = os.urandom(PACK_BELOW + 1)
    old.put_many([*small, big])
    before = list(old.iter_hashes())
    old.set_legal_hold(sha(small[0]), True)  # a held object stays where its hold is
    store = packed(s3_client, s3_lock_bucket, tmp_path / "cache")
    assert all(c.digest == c.sha256 for c in store.hash_many(before))
    assert store.upgrade() == {"packs_recovered": 0, "objects_packed": 119}
    assert list(store.iter_hashes()) == before
    assert all(c.digest == c.sha256 for c in store.hash_many(before))
    versions = {k for k, _ in every_version(s3_client, s3_lock_bucket)}
    for data in small[1:]:
        assert old.key_for(sha(data)) not in versions and store.get(sha(data)) == data
    assert old.key_for(sha(small[0])) in versions and store.is_held(sha(small[0]))
    assert old.key_for(sha(big)) in versions
    assert store.upgrade() == {"packs_recovered": 0, "objects_packed": 0}


@pytest.fixture
def s3_settings(db_url: str, tmp_path: Path, s3_lock_bucket: str,
                moto_endpoint: str, aws_env: None) -> Settings:
    home = tmp_path / "home"
    return Settings(home=home, db_url=db_url, store_url=f"s3://{s3_lock_bucket}/blobs",
                    index_dir=home / "index", s3_endpoint_url=moto_endpoint)


def test_init_packs_an_old_layout_s3_archive_and_verify_passes_before_and_after(
        s3_settings: Settings, tmp_path: Path) -> None:
    initialise(s3_settings, environ={})
    archive: Archive
    with open_archive(s3_settings) as archive:
        use_schedule(archive, tmp_path / "sched")
        with GraphServer(load_sample(), page_size=5) as server:
            capture_sample(archive, server)
        store = archive.store
        assert isinstance(store, PackedS3BlobStore)
        with archive.sessions() as s:
            shas = list(s.scalars(select(Blob.sha256)))
        single = S3BlobStore(store.bucket, store.prefix, client=store.client)
        for h in shas:  # back to one object per blob, as an S3 archive made before packs has
            if store.packs.locate(h) is not None:
                data = store.get(h)
                assert store.delete_many([h]) == {h: None}
                single.put(data)
        assert not store.backend.names()
        report = verify_archive(archive)
        assert report.ok, report.problems
    initialise(s3_settings, environ={})
    with open_archive(s3_settings) as archive:
        store = archive.store
        assert isinstance(store, PackedS3BlobStore) and store.backend.names()
        small = [h for h in shas if store.packs.locate(h) is not None]
        assert small and not [h for h in small if single.exists(h)]
        report = verify_archive(archive)
        assert report.ok, report.problems
        assert report.blobs == len(shas)


def test_open_blob_store_keeps_the_s3_pack_index_under_archiver_home(
        s3_settings: Settings) -> None:
    store = open_blob_store(s3_settings, environ={})
    assert isinstance(store, PackedS3BlobStore)
    store.put(b"x")
    assert (store.packs.folder / INDEX).is_file()
    assert s3_settings.home in store.packs.folder.parents
    digest = hashlib.sha256(b"x").hexdigest()
    assert store.get(digest) == b"x"
