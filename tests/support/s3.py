"""S3 fixtures: moto's standalone server on loopback, talked to over real HTTP by boto3.

- ``moto_endpoint`` (session): starts ``moto.server.ThreadedMotoServer`` on 127.0.0.1 with a free
  port and yields its URL, e.g. ``http://127.0.0.1:43121``.
- ``aws_env``: dummy credentials and region in the *environment* (and no profile/config files), so
  any boto3 client built by the code under test authenticates against moto and never against AWS.
- ``s3_client``: a boto3 S3 client for the server (one attempt, short timeouts).
- ``s3_bucket``: a fresh plain bucket per test; ``s3_lock_bucket``: a fresh bucket created with
  ``ObjectLockEnabledForBucket=True`` (so versioned).
- ``s3_store_env``: ``aws_env`` plus ``ARCHIVER_STORE_URL=s3://<s3_bucket>/blobs`` and
  ``ARCHIVER_S3_ENDPOINT_URL`` set, for tests that drive the CLI against S3.

Buckets get unique names and are not emptied afterwards: locked objects cannot be deleted, and the
server (and everything in it) goes away with the session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from archiver.blobs.s3 import make_s3_client

__all__ = [
    "aws_env",
    "moto_endpoint",
    "s3_bucket",
    "s3_client",
    "s3_lock_bucket",
    "s3_store_env",
]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto S3 server on loopback, shared by the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Dummy AWS credentials in the environment; real profiles and config files are hidden."""
    nowhere = tmp_path_factory.mktemp("no-aws-config") / "absent"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_client(moto_endpoint: str, aws_env: None) -> Any:
    """A boto3 S3 client talking HTTP to the moto server."""
    return make_s3_client(endpoint_url=moto_endpoint, max_attempts=1, connect_timeout=2.0)


def _unique_bucket(kind: str) -> str:
    return f"test-{kind}-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """Name of a new, empty, unversioned bucket."""
    name = _unique_bucket("plain")
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_lock_bucket(s3_client: Any) -> str:
    """Name of a new, empty bucket created with Object Lock enabled (and so versioned)."""
    name = _unique_bucket("lock")
    s3_client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


@pytest.fixture
def s3_store_env(
    monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, s3_bucket: str, aws_env: None
) -> str:
    """Point ARCHIVER_STORE_URL at a fresh moto bucket; returns the store URL."""
    url = f"s3://{s3_bucket}/blobs"
    monkeypatch.setenv("ARCHIVER_STORE_URL", url)
    monkeypatch.setenv("ARCHIVER_S3_ENDPOINT_URL", moto_endpoint)
    return url
