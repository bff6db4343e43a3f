"""The blob stores, a local folder and S3 (moto's server over loopback HTTP), via one interface.

S3 fixtures (moto_endpoint, aws_env, s3_client, s3_bucket, s3_lock_bucket) come from
tests/support/s3.py, registered in tests/conftest.py.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.blobs.factory import open_blob_store
from archiver.blobs.interface import BlobStore, verify_blob
from archiver.blobs.local import LocalBlobStore
from archiver.blobs.s3 import S3BlobStore, make_s3_client
from archiver.config import load_settings
from archiver.errors import BlobLocked, BlobNotFound, ConfigError, StoreError

BIG = 3 * 1024 * 1024 + 12345  # more than one 1 MiB chunk, not a multiple of it


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "s3", "s3-lock"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each store kind, empty: a folder, a plain bucket, an Object Lock bucket (no retention)."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    client = request.getfixturevalue("s3_client")
    bucket_fixture = "s3_lock_bucket" if request.param == "s3-lock" else "s3_bucket"
    return S3BlobStore(request.getfixturevalue(bucket_fixture), "blobs", client=client)


def corrupt(store: BlobStore, digest: str, client: Any = None) -> None:
    """Change the stored bytes behind the store's back."""
    if isinstance(store, LocalBlobStore):
        path = store.path_for(digest)
        os.chmod(path, 0o644)
        raw = bytearray(path.read_bytes())
        raw[0] ^= 0x01
        path.write_bytes(bytes(raw))
    else:
        assert isinstance(store, S3BlobStore)
        store.client.put_object(
            Bucket=store.bucket, Key=store.key_for(digest), Body=b"X" + store.get(digest)[1:]
        )


# -- the common contract ---------------------------------------------------------------------


def test_put_get_exists_roundtrip(store: BlobStore) -> None:
    data = b"Road closure on Main St.\x00\xff"
    assert not store.exists(sha(data))
    digest = store.put(data, media_type="text/plain")
    assert digest == sha(data)
    assert store.exists(digest)
    assert store.get(digest) == data
    with store.open(digest) as fh:
        assert fh.read(4) + fh.read() == data


def test_put_is_idempotent_and_does_not_rewrite(store: BlobStore) -> None:
    data = b"same bytes twice"
    digest = store.put(data)
    if isinstance(store, LocalBlobStore):
        before = os.stat(store.path_for(digest))
    assert store.put(data) == digest
    assert list(store.iter_hashes()) == [digest]
    if isinstance(store, LocalBlobStore):
        after = os.stat(store.path_for(digest))
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    else:
        assert isinstance(store, S3BlobStore)
        listing = store.client.list_object_versions(
            Bucket=store.bucket, Prefix=store.key_for(digest)
        )
        assert len(listing.get("Versions", [])) == 1


def test_iter_hashes_lists_every_blob_sorted(store: BlobStore) -> None:
    assert list(store.iter_hashes()) == []
    digests = {store.put(f"blob {i}".encode()) for i in range(12)}
    assert list(store.iter_hashes()) == sorted(digests)


def test_get_missing_raises_blob_not_found(store: BlobStore) -> None:
    missing = sha(b"never stored")
    with pytest.raises(BlobNotFound, match=missing):
        store.get(missing)
    with pytest.raises(BlobNotFound), store.open(missing):
        pass
    with pytest.raises(BlobNotFound):
        store.delete(missing)


def test_delete_removes_blob(store: BlobStore) -> None:
    keep = store.put(b"keep")
    gone = store.put(b"gone")
    store.delete(gone)
    assert not store.exists(gone)
    assert list(store.iter_hashes()) == [keep]
    with pytest.raises(BlobNotFound):
        store.get(gone)
    with pytest.raises(BlobNotFound):
        store.delete(gone)
    # Deleted content can be stored again.
    assert store.put(b"gone") == gone
    assert store.get(gone) == b"gone"


def test_put_file_streams_large_file(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(BIG)
    src = tmp_path / "video.mp4"
    src.write_bytes(data)
    digest, size = store.put_file(src, media_type="video/mp4")
    assert (digest, size) == (sha(data), BIG)
    assert store.get(digest) == data
    with store.open(digest) as fh:
        chunks = []
        while chunk := fh.read(100_000):
            chunks.append(chunk)
    assert b"".join(chunks) == data
    assert store.put_file(src) == (digest, size)
    assert list(store.iter_hashes()) == [digest]


def test_put_file_unreadable_source_is_one_line_store_error(
    store: BlobStore, tmp_path: Path
) -> None:
    with pytest.raises(StoreError) as info:
        store.put_file(tmp_path / "no-such-file.jpg")
    assert "\n" not in str(info.value)
    assert list(store.iter_hashes()) == []


def test_get_returns_damaged_bytes_and_verify_detects(store: BlobStore) -> None:
    data = b"an exact record of a removed comment"
    digest = store.put(data)
    assert verify_blob(store, digest) is True
    corrupt(store, digest)
    damaged = store.get(digest)
    assert damaged != data and len(damaged) == len(data)  # returned as stored, not "fixed"
    assert verify_blob(store, digest) is False
    assert store.verify(digest) is False


def test_verify_missing_blob_raises_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        verify_blob(store, sha(b"absent"))


BAD_HASHES = [
    "../../../etc/passwd",
    "a" * 63,
    "a" * 65,
    "A" * 64,
    "g" * 64,
    "",
    "a" * 64 + "\n",
    "../" + "a" * 61,
    "ab/cd/" + "a" * 58,
]


@pytest.mark.parametrize("bad", BAD_HASHES)
def test_invalid_hashes_are_rejected(store: BlobStore, bad: str) -> None:
    for call in (
        store.get,
        store.exists,
        store.delete,
        store.is_held,
        lambda h: store.set_legal_hold(h, True),
        lambda h: store.open(h).__enter__(),
        lambda h: verify_blob(store, h),
    ):
        with pytest.raises(StoreError, match="invalid blob hash") as info:
            call(bad)
        assert type(info.value) is StoreError
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["local", "s3", "s3-lock"])
def test_legal_hold_blocks_delete_until_released(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "local":
        store: BlobStore = LocalBlobStore(tmp_path / "blobs")
    else:
        bucket = request.getfixturevalue("s3_lock_bucket" if kind == "s3-lock" else "s3_bucket")
        store = S3BlobStore(bucket, "p", client=request.getfixturevalue("s3_client"))
    digest = store.put(b"evidence")
    assert store.is_held(digest) is False
    store.set_legal_hold(digest, True)
    store.set_legal_hold(digest, True)  # idempotent
    assert store.is_held(digest) is True
    with pytest.raises(BlobLocked, match="legal hold"):
        store.delete(digest)
    assert store.get(digest) == b"evidence"
    assert list(store.iter_hashes()) == [digest]  # the hold marker is not a blob
    store.set_legal_hold(digest, False)
    assert store.is_held(digest) is False
    store.delete(digest)
    assert not store.exists(digest)


def test_delete_many_reports_each_blob(store: BlobStore) -> None:
    gone, held, kept = store.put(b"to destroy"), store.put(b"under hold"), store.put(b"other")
    store.set_legal_hold(held, True)
    missing = sha(b"never stored")
    outcome = store.delete_many([gone, held, missing])
    assert outcome[gone] is None
    assert isinstance(outcome[held], BlobLocked)
    assert isinstance(outcome[missing], BlobNotFound)
    assert not store.exists(gone) and store.exists(held) and store.exists(kept)


def test_hash_many_reports_each_blob_in_order(store: BlobStore) -> None:
    # Enough blobs for several chunks on several threads, so ordering across chunks is tested.
    count = 40 if isinstance(store, S3BlobStore) else 700
    payloads = [f"payload {i}".encode() * (1 + i % 7) for i in range(count)]
    digests = store.put_many(payloads)
    damaged = digests[count // 2]
    corrupt(store, damaged)
    missing = sha(b"never stored")
    wanted = [*digests[: count // 3], missing, *digests[count // 3 :], "not-a-hash"]
    checks = list(store.hash_many(wanted))
    assert [c.sha256 for c in checks] == wanted
    by_sha = {c.sha256: c for c in checks}
    for digest, data in zip(digests, payloads, strict=True):
        if digest != damaged:
            assert by_sha[digest].error is None
            assert (by_sha[digest].digest, by_sha[digest].length) == (digest, len(data))
    assert by_sha[damaged].error is None and by_sha[damaged].digest != damaged
    assert isinstance(by_sha[missing].error, BlobNotFound) and by_sha[missing].digest is None
    bad = by_sha["not-a-hash"].error
    assert type(bad) is StoreError and "invalid blob hash" in str(bad)
    assert list(store.hash_many([])) == []


def test_delete_many_batch_with_repeats(store: BlobStore) -> None:
    count = 12 if isinstance(store, S3BlobStore) else 100  # local: past the threaded cut-off
    digests = store.put_many([f"batch {i}".encode() for i in range(count)])
    held = digests[3]
    store.set_legal_hold(held, True)
    missing = sha(b"not here")
    outcome = store.delete_many([*digests, digests[0], missing, "../../etc/passwd"])
    assert list(outcome) == [*digests, missing, "../../etc/passwd"]
    assert isinstance(outcome[held], BlobLocked)
    assert isinstance(outcome[missing], BlobNotFound)
    assert type(outcome["../../etc/passwd"]) is StoreError
    assert all(outcome[d] is None for d in digests if d != held)
    assert list(store.iter_hashes()) == [held]
    assert store.get(held) == b"batch 3"


def test_legal_hold_on_missing_blob(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.set_legal_hold(sha(b"nothing"), True)


# -- local folder specifics ------------------------------------------------------------------


def test_local_layout_and_read_only_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    digest = store.put(b"x")
    path = tmp_path / "blobs" / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == b"x"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert store.url == (tmp_path / "blobs").resolve().as_uri()


def test_local_leftover_temp_files_are_ignored_and_cleaned(tmp_path: Path) -> None:
    now = 1_700_000_000.0
    store = LocalBlobStore(tmp_path / "blobs", clock=lambda: now)
    digest = store.put(b"real")
    fan = store.path_for(digest).parent
    # What a crash mid-write leaves behind: a partial temp file, never a partial final name.
    (fan / ".tmp-abc123").write_bytes(b"rea")
    (tmp_path / "blobs" / ".staging").mkdir()
    (tmp_path / "blobs" / ".staging" / ".tmp-def456").write_bytes(b"half a video")
    fresh = fan / ".tmp-inprogress"
    fresh.write_bytes(b"being written")
    for old in (fan / ".tmp-abc123", tmp_path / "blobs" / ".staging" / ".tmp-def456"):
        os.utime(old, (now - 7200, now - 7200))
    os.utime(fresh, (now - 10, now - 10))
    (fan / ("0" * 64)).write_bytes(b"stray: wrong fan-out folder")

    assert list(store.iter_hashes()) == [digest]
    assert store.cleanup_temp() == 2  # only the ones older than an hour
    assert fresh.exists()
    assert store.cleanup_temp(older_than=0) == 1
    assert not fresh.exists()
    assert list(store.iter_hashes()) == [digest]
    assert store.get(digest) == b"real"


def test_local_put_many_batch(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    first = store.put(b"already here")
    before = os.stat(store.path_for(first))
    batch = [b"already here", b"new one", b"new one", b"", b"another"]
    assert store.put_many(batch) == [sha(b) for b in batch]
    after = os.stat(store.path_for(first))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    assert list(store.iter_hashes()) == sorted({sha(b) for b in batch})
    for data in batch:
        path = store.path_for(sha(data))
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert list((tmp_path / "blobs").rglob(".tmp-*")) == []
    assert store.put_many([]) == []


def test_local_put_many_failure_is_one_line_and_leaves_no_temp(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = b"cannot land"
    digest = sha(data)
    # A file where the fan-out folder should be: the write fails, nothing half-written stays.
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / digest[:2]).write_bytes(b"in the way")
    with pytest.raises(StoreError, match=f"cannot write blob {digest}") as info:
        store.put_many([b"fine", data])
    assert "\n" not in str(info.value)
    assert list((tmp_path / "blobs").rglob(".tmp-*")) == []
    assert not store.exists(digest)


def test_local_write_failure_leaves_no_temp(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.check()
    with pytest.raises(StoreError):
        store.put_file(tmp_path)  # a folder, not a file: the read fails
    assert list((tmp_path / "blobs").rglob(".tmp-*")) == []


def test_local_check(tmp_path: Path) -> None:
    LocalBlobStore(tmp_path / "new" / "blobs").check()
    assert (tmp_path / "new" / "blobs").is_dir()
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match="not a folder") as info:
        LocalBlobStore(tmp_path / "file").check()
    assert "\n" not in str(info.value)
    with pytest.raises(StoreError, match="cannot create"):
        LocalBlobStore(tmp_path / "file" / "blobs").check()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=2048), max_size=6))
def test_local_roundtrip_property(blobs: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalBlobStore(Path(tmp))
        digests = [store.put(b) for b in blobs]
        assert digests == [sha(b) for b in blobs]
        assert all(store.get(d) == b for d, b in zip(digests, blobs, strict=True))
        assert list(store.iter_hashes()) == sorted(set(digests))


# -- S3 specifics ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_s3_object_lock_retention_blocks_delete(
    mode: str, s3_client: Any, s3_lock_bucket: str
) -> None:
    fixed = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    store = S3BlobStore(
        s3_lock_bucket, "blobs", client=s3_client, lock_mode=mode, lock_days=30, clock=lambda: fixed
    )
    store.check()
    digest = store.put(b"retained record")
    # (moto's GetObjectRetention answers 500 in server mode; HEAD shows the same lock.)
    head = s3_client.head_object(Bucket=s3_lock_bucket, Key=store.key_for(digest))
    assert head["ObjectLockMode"] == mode
    assert head["ObjectLockRetainUntilDate"] == fixed + timedelta(days=30)
    with pytest.raises(BlobLocked, match="Object Lock") as info:
        store.delete(digest)
    assert "2031-02-01" in str(info.value) and "\n" not in str(info.value)
    assert store.get(digest) == b"retained record"


def test_s3_delete_removes_all_versions(s3_client: Any, s3_lock_bucket: str) -> None:
    store = S3BlobStore(s3_lock_bucket, "blobs", client=s3_client)
    digest = store.put(b"versioned")
    key = store.key_for(digest)
    # A second version of the same key (as a re-upload after a plain delete would make).
    s3_client.delete_object(Bucket=s3_lock_bucket, Key=key)
    assert not store.exists(digest)
    store.put(b"versioned")
    listing = s3_client.list_object_versions(Bucket=s3_lock_bucket, Prefix=key)
    assert len(listing["Versions"]) == 2 and len(listing["DeleteMarkers"]) == 1
    store.delete(digest)
    listing = s3_client.list_object_versions(Bucket=s3_lock_bucket, Prefix=key)
    assert listing.get("Versions", []) == [] and listing.get("DeleteMarkers", []) == []


def test_s3_delete_many_removes_all_versions_and_respects_retention(
    s3_client: Any, s3_lock_bucket: str
) -> None:
    plain = S3BlobStore(s3_lock_bucket, "blobs", client=s3_client)
    versioned = plain.put(b"two versions")
    key = plain.key_for(versioned)
    s3_client.delete_object(Bucket=s3_lock_bucket, Key=key)  # a delete marker
    plain.put(b"two versions")  # and a second data version
    single = plain.put(b"one version")
    locked_store = S3BlobStore(s3_lock_bucket, "blobs", client=s3_client, lock_mode="GOVERNANCE",
                               lock_days=30)
    locked = locked_store.put(b"retained")
    outcome = plain.delete_many([versioned, locked, single])
    assert outcome[versioned] is None and outcome[single] is None
    assert isinstance(outcome[locked], BlobLocked) and "Object Lock" in str(outcome[locked])
    listing = s3_client.list_object_versions(Bucket=s3_lock_bucket, Prefix=key)
    assert listing.get("Versions", []) == [] and listing.get("DeleteMarkers", []) == []
    assert not plain.exists(single)
    assert plain.get(locked) == b"retained"


def test_s3_keys_and_media_type(s3_client: Any, s3_bucket: str) -> None:
    store = S3BlobStore(s3_bucket, "/archive/blobs/", client=s3_client)
    digest = store.put(b"<p>hi</p>", media_type="text/html")
    key = f"archive/blobs/{digest[:2]}/{digest[2:4]}/{digest}"
    assert store.key_for(digest) == key
    assert s3_client.head_object(Bucket=s3_bucket, Key=key)["ContentType"] == "text/html"
    assert store.url == f"s3://{s3_bucket}/archive/blobs"
    # Keys outside the layout are not blobs.
    s3_client.put_object(Bucket=s3_bucket, Key="archive/blobs/README", Body=b"x")
    s3_client.put_object(Bucket=s3_bucket, Key=f"archive/blobs/00/00/{digest}", Body=b"x")
    s3_client.put_object(Bucket=s3_bucket, Key=f"elsewhere/{key}", Body=b"x")
    assert list(store.iter_hashes()) == [digest]


def test_s3_check_missing_bucket(s3_client: Any, moto_endpoint: str) -> None:
    store = S3BlobStore("no-such-bucket-here", "p", client=s3_client)
    with pytest.raises(StoreError, match="no-such-bucket-here.*does not exist") as info:
        store.check()
    assert moto_endpoint in str(info.value)
    with pytest.raises(StoreError, match="no-such-bucket-here"):
        store.put(b"x")


def test_s3_check_lock_mode_needs_object_lock_bucket(
    s3_client: Any, s3_bucket: str, s3_lock_bucket: str
) -> None:
    S3BlobStore(s3_bucket, "p", client=s3_client).check()
    S3BlobStore(s3_lock_bucket, "p", client=s3_client, lock_mode="COMPLIANCE", lock_days=1).check()
    store = S3BlobStore(s3_bucket, "p", client=s3_client, lock_mode="GOVERNANCE", lock_days=1)
    with pytest.raises(StoreError, match="has no Object Lock"):
        store.check()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_s3_unreachable_endpoint_is_one_line_without_secrets(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "SECRET-never-show-this"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    port = _closed_port()
    endpoint = f"http://user:{secret}@127.0.0.1:{port}"
    client = make_s3_client(endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1)
    store = S3BlobStore("bucket", "p", client=client, endpoint_url=endpoint)
    for call in (store.check, lambda: store.put(b"x"), lambda: store.get(sha(b"x"))):
        with pytest.raises(StoreError, match="cannot reach S3 endpoint") as info:
            call()
        message = str(info.value)
        assert f"127.0.0.1:{port}" in message and "bucket" in message
        assert secret not in message and "\n" not in message
    with pytest.raises(StoreError):
        list(store.iter_hashes())


def test_s3_rejects_bad_lock_settings(s3_client: Any) -> None:
    with pytest.raises(ConfigError, match="OBJECT_LOCK"):
        S3BlobStore("b", client=s3_client, lock_mode="GOVERNANCE")
    with pytest.raises(ConfigError, match="OBJECT_LOCK_MODE"):
        S3BlobStore("b", client=s3_client, lock_mode="FOREVER", lock_days=1)


# -- the factory -----------------------------------------------------------------------------


def test_open_blob_store_local(tmp_path: Path) -> None:
    settings_ = load_settings({"ARCHIVER_HOME": str(tmp_path)})
    store = open_blob_store(settings_)
    assert isinstance(store, LocalBlobStore)
    store.check()
    digest = store.put(b"hello")
    # Small blobs go into a pack; big ones stay single files.
    assert store.packs.locate(digest) is not None
    assert not (tmp_path / "blobs" / digest[:2] / digest[2:4] / digest).exists()
    big = store.put(b"x" * store.pack_below)
    assert (tmp_path / "blobs" / big[:2] / big[2:4] / big).exists()


def test_open_blob_store_s3(
    tmp_path: Path, moto_endpoint: str, s3_lock_bucket: str, aws_env: None
) -> None:
    env = {
        "ARCHIVER_HOME": str(tmp_path),
        "ARCHIVER_STORE_URL": f"s3://{s3_lock_bucket}/site/blobs",
        "ARCHIVER_S3_ENDPOINT_URL": moto_endpoint,
        "ARCHIVER_S3_OBJECT_LOCK_MODE": "governance",
        "ARCHIVER_S3_OBJECT_LOCK_DAYS": "7",
        "AWS_REGION": "us-east-1",
    }
    store = open_blob_store(load_settings(env), environ=env)
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix, store.lock_mode, store.lock_days) == (
        s3_lock_bucket,
        "site/blobs",
        "GOVERNANCE",
        7,
    )
    store.check()
    digest = store.put(b"via settings")
    assert store.get(digest) == b"via settings"
    with pytest.raises(BlobLocked):
        store.delete(digest)


def test_the_interface_imports_no_store_and_a_local_store_no_boto3(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "import archiver.blobs.interface\n"
        "assert 'archiver.blobs.local' not in sys.modules, 'interface imported local'\n"
        "assert 'archiver.blobs.s3' not in sys.modules, 'interface imported s3'\n"
        "from dataclasses import replace\n"
        "from archiver.blobs.factory import open_blob_store\n"
        "from archiver.config import load_settings\n"
        f"settings = replace(load_settings({{}}), store_url='file://{tmp_path}')\n"
        "open_blob_store(settings)\n"
        "assert 'boto3' not in sys.modules, 'a local store imported boto3'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
