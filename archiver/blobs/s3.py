"""The blob store in an S3 bucket (AWS or any S3-compatible server), with optional Object Lock.

Keys are ``<prefix>/ab/cd/<sha256>``. Every upload carries its SHA-256 checksum
(``ChecksumAlgorithm="SHA256"`` + ``ChecksumSHA256``): S3 rejects a body that does not match, and
S3 demands a checksum header on any put into an Object Lock bucket with retention. With a lock mode
and days configured, each put sets ``ObjectLockMode`` and ``ObjectLockRetainUntilDate``.

Deleting removes every *version* of the key: Object Lock buckets are always versioned, and a plain
delete there only hides the object behind a delete marker while its bytes live on. S3 itself
refuses to delete a version under retention or legal hold; that refusal becomes :class:`BlobLocked`.

Legal holds use S3's own object legal hold when the bucket has Object Lock. On a bucket without
Object Lock, S3 cannot hold anything, so the hold is recorded as the object tag
``archiver-legal-hold=ON`` and :meth:`S3BlobStore.delete` refuses while it is set (enforced by
this software only, like the local store's marker).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)

from archiver.blobs.interface import (
    BlobStore,
    check_hash,
    fan_out,
    hash_stream,
    is_hash,
    map_chunks,
)
from archiver.config import ObjectLockMode, one_of
from archiver.errors import BlobLocked, BlobNotFound, ConfigError, StoreError

HOLD_TAG = "archiver-legal-hold"
MAX_SINGLE_PUT = 5 * 1024**3  # S3's limit for one PutObject
_MISSING = {"404", "NoSuchKey", "NotFound"}
_LOCK_REFUSALS = {"AccessDenied", "InvalidRequest", "ObjectLocked"}
S3_THREADS = 16  # concurrent round trips for batch reads and deletes
DELETE_OBJECTS_MAX = 1000  # S3's limit of keys per DeleteObjects call


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _public_endpoint(url: str) -> str:
    # An endpoint URL may carry user:password@; messages must never show it.
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def make_s3_client(
    *,
    endpoint_url: str | None,
    region: str = "us-east-1",
    max_attempts: int = 3,
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
) -> Any:
    """A boto3 S3 client from a fresh session (boto3's default session is process-global).

    A custom endpoint (MinIO, Ceph, a test server) gets path-style addressing, since such servers
    rarely have wildcard DNS for virtual-host buckets.
    """
    config = Config(
        region_name=region,
        # Room for the threads of hash_many and delete_many, which share this client.
        max_pool_connections=S3_THREADS,
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) or str(
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "error")
    )


def _error_text(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code = _error_code(exc)
    message = " ".join(str(error.get("Message", "")).split())[:200]
    return f"{code}: {message}" if message and message != code else code


class S3BlobStore(BlobStore):
    """Blobs as objects in ``bucket`` under ``prefix``; see the module docstring."""

    # Every blob is a round trip: many threads, small chunks.
    hash_threads = S3_THREADS
    hash_chunk = 4

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any,
        lock_mode: str | None = None,
        lock_days: int | None = None,
        endpoint_url: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        mode = (None if lock_mode is None
                else one_of(ObjectLockMode, "ARCHIVER_S3_OBJECT_LOCK_MODE", lock_mode))
        if (lock_mode is None) != (lock_days is None) or (lock_days is not None and lock_days <= 0):
            raise ConfigError(
                "ARCHIVER_S3_OBJECT_LOCK_MODE and ARCHIVER_S3_OBJECT_LOCK_DAYS go together: "
                "set both (days > 0)"
            )
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.lock_mode = mode
        self.lock_days = lock_days
        self.endpoint = _public_endpoint(endpoint_url or client.meta.endpoint_url)
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._clock = clock
        self._lock_enabled: bool | None = None  # the bucket's Object Lock state, asked once

    # -- plumbing ----------------------------------------------------------------------------

    def key_for(self, sha256: str) -> str:
        """The object key for a blob; rejects invalid hashes."""
        rel = fan_out(check_hash(sha256))
        return f"{self.prefix}/{rel}" if self.prefix else rel

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn boto errors into one-line StoreErrors that name the bucket and endpoint."""
        try:
            yield
        except ClientError as exc:
            code = _error_code(exc)
            if code == "NoSuchBucket":
                raise StoreError(
                    f"S3 bucket {self.bucket!r} does not exist at {self.endpoint}"
                ) from None
            raise StoreError(f"{doing} in {self.url} failed: {_error_text(exc)}") from None
        except EndpointConnectionError:
            raise StoreError(
                f"cannot reach S3 endpoint {self.endpoint} (bucket {self.bucket!r})"
            ) from None
        except NoCredentialsError:
            raise StoreError(
                f"no AWS credentials found for {self.url} "
                "(set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)"
            ) from None
        except BotoCoreError as exc:
            raise StoreError(
                f"{doing} in {self.url} failed: {exc.__class__.__name__} ({self.endpoint})"
            ) from None

    def _head(self, key: str) -> bool:
        with self._errors("checking a blob"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _error_code(exc) in _MISSING:
                    return False
                raise
        return True

    def _lock_args(self) -> dict[str, Any]:
        if self.lock_mode is None or self.lock_days is None:
            return {}
        return {
            "ObjectLockMode": self.lock_mode,
            "ObjectLockRetainUntilDate": self._clock() + timedelta(days=self.lock_days),
        }

    def _put(self, key: str, sha256: str, body: Any, media_type: str | None, **extra: Any) -> None:
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body,
            "ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": base64.b64encode(bytes.fromhex(sha256)).decode("ascii"),
            **self._lock_args(),
            **extra,
        }
        if media_type:
            kwargs["ContentType"] = media_type
        with self._errors(f"storing blob {sha256}"):
            self.client.put_object(**kwargs)

    def _versions(self, key: str) -> tuple[list[str], list[str]]:
        """(data version ids newest first, delete-marker version ids) of exactly ``key``."""
        data: list[str] = []
        markers: list[str] = []
        with self._errors("listing blob versions"):
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=key
            )
            for page in pages:
                for version in page.get("Versions", []):
                    if version["Key"] == key:
                        data.append(version.get("VersionId") or "null")
                for marker in page.get("DeleteMarkers", []):
                    if marker["Key"] == key:
                        markers.append(marker.get("VersionId") or "null")
        return data, markers

    def has_object_lock(self) -> bool:
        """True if the bucket was created with Object Lock enabled."""
        if self._lock_enabled is None:
            with self._errors("reading the Object Lock configuration"):
                try:
                    conf = self.client.get_object_lock_configuration(Bucket=self.bucket)
                except ClientError as exc:
                    if _error_code(exc) != "ObjectLockConfigurationNotFoundError":
                        raise
                    conf = {}
            enabled = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
            self._lock_enabled = enabled == "Enabled"
        return self._lock_enabled

    # -- writing -----------------------------------------------------------------------------

    def put(self, data: bytes, *, media_type: str | None = None) -> str:
        """Upload ``data`` unless an object with its hash already exists; return the sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        key = self.key_for(sha256)
        if not self._head(key):
            self._put(key, sha256, data, media_type)
        return sha256

    def put_file(self, path: Path, *, media_type: str | None = None) -> tuple[str, int]:
        """Hash the file (one streaming pass), then stream it up in one PUT.

        S3 checks the body against the declared SHA-256, so a file that changes between the two
        passes is rejected rather than stored under the wrong hash.
        """
        try:
            with Path(path).open("rb") as fh:
                sha256, size = hash_stream(fh)
                key = self.key_for(sha256)
                if self._head(key):
                    return sha256, size
                if size > MAX_SINGLE_PUT:
                    raise StoreError(f"{path} is {size} bytes; larger than one S3 upload (5 GiB)")
                fh.seek(0)
                self._put(key, sha256, fh, media_type, ContentLength=size)
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
        return sha256, size

    # -- reading -----------------------------------------------------------------------------

    def _get_object(self, sha256: str) -> dict[str, Any]:
        key = self.key_for(sha256)
        with self._errors(f"reading blob {sha256}"):
            try:
                return cast(dict[str, Any], self.client.get_object(Bucket=self.bucket, Key=key))
            except ClientError as exc:
                if _error_code(exc) in _MISSING:
                    raise BlobNotFound(f"blob {sha256} not found in {self.url}") from None
                raise

    def get(self, sha256: str) -> bytes:
        """The stored bytes (not verified: see ``verify_blob``)."""
        response = self._get_object(sha256)
        with self._errors(f"reading blob {sha256}"), contextlib.closing(response["Body"]) as body:
            return cast(bytes, body.read())

    @contextlib.contextmanager
    def open(self, sha256: str) -> Iterator[BinaryIO]:
        """A streaming reader on the object body (not verified)."""
        with self._stream(sha256, self._get_object(sha256)) as stream:
            yield stream

    @contextlib.contextmanager
    def _stream(self, sha256: str, response: dict[str, Any]) -> Iterator[BinaryIO]:
        body = response["Body"]
        try:
            with self._errors(f"reading blob {sha256}"):
                yield cast(BinaryIO, body)
        finally:
            body.close()

    def exists(self, sha256: str) -> bool:
        """True if the object exists (its latest version is not a delete marker)."""
        return self._head(self.key_for(sha256))

    def iter_hashes(self) -> Iterator[str]:
        """Every blob under the prefix, in key order; stray keys are skipped."""
        root = f"{self.prefix}/" if self.prefix else ""
        with self._errors("listing blobs"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=root
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(root) :]
                    name = rel.rsplit("/", 1)[-1]
                    if is_hash(name) and rel == fan_out(name):
                        yield name

    # -- deleting and holds ------------------------------------------------------------------

    def delete(self, sha256: str) -> None:
        """Delete every version of the blob; ``BlobLocked`` if a hold or retention forbids it."""
        key = self.key_for(sha256)
        data, markers = self._versions(key)
        if not data:
            raise BlobNotFound(f"blob {sha256} not found in {self.url}")
        if self.is_held(sha256):
            raise BlobLocked(f"blob {sha256} is under a legal hold in {self.url}; not deleted")
        # Newest first: the newest version has the latest retention date, so a locked blob
        # usually fails on the first call, before any version is gone.
        for version_id in data + markers:
            with self._errors(f"deleting blob {sha256}"):
                try:
                    self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
                except ClientError as exc:
                    if _error_code(exc) in _LOCK_REFUSALS:
                        raise BlobLocked(self._locked_message(sha256, key, version_id)) from None
                    raise

    def delete_many(self, hashes: Sequence[str]) -> dict[str, Exception | None]:
        """Delete a batch with the same per-blob results as :meth:`delete`, in few round trips.

        Listing versions and checking holds is per key (S3 has no batch form), on threads; the
        deletes themselves go in ``DeleteObjects`` calls of up to 1000 version ids. As in
        :meth:`delete`, each blob's newest version goes first, in one round of calls, and the
        rest only for blobs whose newest version S3 let go: a locked blob fails before any of
        its versions is gone.
        """
        unique = list(dict.fromkeys(hashes))
        outcome: dict[str, Exception | None] = {}
        plans: dict[str, tuple[str, list[str]]] = {}  # sha -> (key, versions newest first)
        for sha256, plan in zip(unique, map_chunks(self._plan_chunk, unique, chunk=4,
                                                  threads=S3_THREADS), strict=True):
            if isinstance(plan, StoreError):
                outcome[sha256] = plan
            else:
                plans[sha256] = plan
        first = {sha: [versions[0]] for sha, (_, versions) in plans.items()}
        refused = self._delete_versions(plans, first, outcome)
        rest = {sha: versions[1:] for sha, (_, versions) in plans.items()
                if sha not in refused and len(versions) > 1}
        self._delete_versions(plans, rest, outcome)
        for sha in plans:
            outcome.setdefault(sha, None)
        return {sha: outcome[sha] for sha in unique}

    def _plan_chunk(self, hashes: list[str]) -> list[tuple[str, list[str]] | StoreError]:
        out: list[tuple[str, list[str]] | StoreError] = []
        for sha256 in hashes:
            try:
                key = self.key_for(sha256)
                data, markers = self._versions(key)
                if not data:
                    raise BlobNotFound(f"blob {sha256} not found in {self.url}")
                if self.is_held(sha256):
                    raise BlobLocked(
                        f"blob {sha256} is under a legal hold in {self.url}; not deleted")
                out.append((key, data + markers))
            except StoreError as exc:
                out.append(exc)
        return out

    def _delete_versions(self, plans: dict[str, tuple[str, list[str]]],
                         versions: dict[str, list[str]],
                         outcome: dict[str, Exception | None]) -> set[str]:
        """Delete the given versions in DeleteObjects calls; record each blob's first failure
        in ``outcome`` and return the blobs that failed."""
        by_key = {plans[sha][0]: sha for sha in versions}
        pairs = [(plans[sha][0], v) for sha, vs in versions.items() for v in vs]
        failed: set[str] = set()
        for start in range(0, len(pairs), DELETE_OBJECTS_MAX):
            batch = pairs[start:start + DELETE_OBJECTS_MAX]
            try:
                with self._errors("deleting blobs"):
                    reply = self.client.delete_objects(Bucket=self.bucket, Delete={
                        "Objects": [{"Key": key, "VersionId": v} for key, v in batch],
                        "Quiet": True,  # only failures are listed
                    })
            except StoreError as exc:
                for key, _ in batch:
                    failed.add(by_key[key])
                    outcome.setdefault(by_key[key], exc)
                continue
            for error in reply.get("Errors", []):
                sha = by_key.get(error.get("Key", ""))
                if sha is None or sha in failed:
                    continue
                failed.add(sha)
                code = str(error.get("Code", ""))
                version_id = str(error.get("VersionId") or "null")
                if code in _LOCK_REFUSALS:
                    outcome[sha] = BlobLocked(
                        self._locked_message(sha, error["Key"], version_id))
                else:
                    message = " ".join(str(error.get("Message", "")).split())[:200]
                    outcome[sha] = StoreError(
                        f"deleting blob {sha} in {self.url} failed: {code}: {message}")
        return failed

    def _locked_message(self, sha256: str, key: str, version_id: str) -> str:
        until = ""
        try:
            # HEAD carries the lock headers and is more widely implemented than GetObjectRetention.
            head = self.client.head_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            if head.get("ObjectLockRetainUntilDate"):
                until = (
                    f" ({head.get('ObjectLockMode', 'retention')} until "
                    f"{head['ObjectLockRetainUntilDate']:%Y-%m-%d})"
                )
        except (ClientError, BotoCoreError):
            pass  # the date is a courtesy; the refusal stands without it
        return f"S3 Object Lock forbids deleting blob {sha256} from {self.url}{until}"

    def set_legal_hold(self, sha256: str, on: bool) -> None:
        """Set the S3 object legal hold on every version (or the hold tag, without Object Lock)."""
        key = self.key_for(sha256)
        data, _ = self._versions(key)
        if not data:
            raise BlobNotFound(f"blob {sha256} not found in {self.url}")
        status = "ON" if on else "OFF"
        with self._errors(f"setting legal hold {status} on blob {sha256}"):
            if self.has_object_lock():
                for version_id in data:
                    self.client.put_object_legal_hold(
                        Bucket=self.bucket,
                        Key=key,
                        VersionId=version_id,
                        LegalHold={"Status": status},
                    )
                return
            tags = self.client.get_object_tagging(Bucket=self.bucket, Key=key).get("TagSet", [])
            tags = [t for t in tags if t.get("Key") != HOLD_TAG]
            if on:
                tags.append({"Key": HOLD_TAG, "Value": "ON"})
            if tags:
                self.client.put_object_tagging(
                    Bucket=self.bucket, Key=key, Tagging={"TagSet": tags}
                )
            else:
                self.client.delete_object_tagging(Bucket=self.bucket, Key=key)

    def is_held(self, sha256: str) -> bool:
        """True if the latest version has a legal hold (or the hold tag)."""
        key = self.key_for(sha256)
        with self._errors(f"reading legal hold of blob {sha256}"):
            try:
                if self.has_object_lock():
                    reply = self.client.get_object_legal_hold(Bucket=self.bucket, Key=key)
                    return bool(reply.get("LegalHold", {}).get("Status") == "ON")
                tags = self.client.get_object_tagging(Bucket=self.bucket, Key=key).get("TagSet", [])
                return any(t.get("Key") == HOLD_TAG and t.get("Value") == "ON" for t in tags)
            except ClientError as exc:
                code = _error_code(exc)
                if code == "NoSuchObjectLockConfiguration":
                    return False  # S3's answer for "this object never had a hold"
                if code in _MISSING:
                    raise BlobNotFound(f"blob {sha256} not found in {self.url}") from None
                raise

    # -- health ------------------------------------------------------------------------------

    def check(self) -> None:
        """The bucket must exist and be reachable, and have Object Lock if a lock mode is set."""
        with self._errors("opening the store"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                code = _error_code(exc)
                if code in ("404", "NoSuchBucket", "NotFound"):
                    raise StoreError(
                        f"ARCHIVER_STORE_URL: S3 bucket {self.bucket!r} does not exist at "
                        f"{self.endpoint}"
                    ) from None
                if code in ("403", "AccessDenied"):
                    raise StoreError(
                        f"ARCHIVER_STORE_URL: access denied to S3 bucket {self.bucket!r} at "
                        f"{self.endpoint}"
                    ) from None
                raise
        if self.lock_mode and not self.has_object_lock():
            raise StoreError(
                f"S3 bucket {self.bucket!r} has no Object Lock, but ARCHIVER_S3_OBJECT_LOCK_MODE "
                f"is {self.lock_mode}: use a bucket created with Object Lock enabled"
            )
