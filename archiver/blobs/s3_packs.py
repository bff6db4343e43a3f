"""Packs as S3 objects: the :class:`archiver.blobs.packs.PackBackend` of a bucket.

Keys under the store's prefix:

- ``packs/<name>``: a sealed pack, uploaded whole in one PUT (S3 checks its SHA-256), never
  appended to. Reads of blobs are ranged GETs.
- ``pack-journal/<old pack>.json``: a rewrite in progress (the pack, the name of its
  replacement, the hashes to leave out), written before any pack is touched and removed once
  every version of the old pack is gone. The index is only a local cache, so the journal must
  live here: any process on any host finishes a rewrite that another one was killed in.
- ``pack-holds/<sha256>``: a legal hold on one packed blob. S3 holds whole objects, so on an
  Object Lock bucket the pack object also carries S3's legal hold while any blob in it is held.

Object Lock: a pack of new blobs gets the store's lock (now + lock days), as a single object
would. A pack written by a rewrite carries its old pack's hold and whatever retention of the old
pack is still running (none, in practice: a pack under retention is never rewritten, its blobs
are reported locked). A removal that S3 refuses becomes :class:`BlobLocked`, never bypassed.
Rewrites are serialised per host by a lock file beside the cache.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from archiver.blobs.pack_backend import Journal, folder_lock
from archiver.blobs.pack_format import PACK_SUFFIX
from archiver.blobs.s3 import _LOCK_REFUSALS, _MISSING, _error_code
from archiver.errors import BlobLocked, BlobNotFound

if TYPE_CHECKING:
    from archiver.blobs.s3 import S3BlobStore

PACKS = "packs"
JOURNAL = "pack-journal"
HOLDS = "pack-holds"


class S3Packs:
    """Sealed packs as objects of ``store``'s bucket; see the module docstring."""

    def __init__(self, store: S3BlobStore, cache: Path) -> None:
        self.store = store
        self.url = store.url
        self.cache = cache
        base = f"{store.prefix}/" if store.prefix else ""
        self._packs = f"{base}{PACKS}/"
        self._journal = f"{base}{JOURNAL}/"
        self.holds = f"{base}{HOLDS}/"

    def key(self, name: str) -> str:
        """The object key of a pack."""
        return self._packs + name

    def _call(self, doing: str, method: str, **kwargs: Any) -> Any:
        with self.store._errors(doing):
            return getattr(self.store.client, method)(Bucket=self.store.bucket, **kwargs)

    def _get(self, name: str, **kwargs: Any) -> bytes:
        with self.store._errors(f"reading pack {name}"):
            try:
                reply = self.store.client.get_object(
                    Bucket=self.store.bucket, Key=self.key(name), **kwargs)
            except ClientError as exc:
                if _error_code(exc) in _MISSING:
                    raise BlobNotFound(f"pack {name} cannot be read from {self.url}: "
                                       "no such object") from None
                if _error_code(exc) == "InvalidRange":
                    return b""  # the range starts past the end: the pack is cut short
                raise
            with contextlib.closing(reply["Body"]) as body:
                return bytes(body.read())

    def read(self, name: str, start: int, length: int) -> bytes:
        """A ranged GET."""
        if length <= 0:
            return b""
        return self._get(name, Range=f"bytes={start}-{start + length - 1}")

    def read_all(self, name: str) -> bytes:
        return self._get(name)

    def put_object(self, key: str, data: bytes, doing: str, **extra: Any) -> None:
        """One PUT with the body's SHA-256 (S3 rejects a body that does not match it, and an
        Object Lock bucket demands a checksum)."""
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        self._call(doing, "put_object", Key=key, Body=data, ChecksumAlgorithm="SHA256",
                   ChecksumSHA256=checksum, **extra)

    def _head(self, name: str) -> dict[str, Any] | None:
        with self.store._errors(f"reading pack {name}"):
            try:
                return dict(self.store.client.head_object(
                    Bucket=self.store.bucket, Key=self.key(name)))
            except ClientError as exc:
                if _error_code(exc) in _MISSING:
                    return None
                raise

    def _running_retention(self, head: dict[str, Any] | None) -> datetime | None:
        until = (head or {}).get("ObjectLockRetainUntilDate")
        return until if isinstance(until, datetime) and until > self.store._clock() else None

    def seal(self, name: str, data: bytes, *, like: str | None, new_blobs: bool) -> None:
        extra: dict[str, Any] = {}
        if new_blobs:
            extra.update(self.store._lock_args())
        elif like is not None and self.store.has_object_lock():
            head = self._head(like)
            until = self._running_retention(head)
            if head is not None and until is not None:
                extra.update(ObjectLockMode=head.get("ObjectLockMode", "GOVERNANCE"),
                             ObjectLockRetainUntilDate=until)
            if head is not None and head.get("ObjectLockLegalHoldStatus") == "ON":
                extra["ObjectLockLegalHoldStatus"] = "ON"
        self.put_object(self.key(name), data, f"storing pack {name}", **extra)

    def set_pack_hold(self, name: str, on: bool) -> None:
        """S3's legal hold on every version of a pack (Object Lock buckets only)."""
        if not self.store.has_object_lock():
            return
        data, _ = self.store._versions(self.key(name))
        for version_id in data:
            self._call(f"setting legal hold on pack {name}", "put_object_legal_hold",
                       Key=self.key(name), VersionId=version_id,
                       LegalHold={"Status": "ON" if on else "OFF"})

    def remove(self, name: str) -> None:
        """Every version of the pack, newest first. Called only once the pack's survivors are
        in its replacement (with their hold re-applied there), so the pack's own hold goes."""
        key = self.key(name)
        data, markers = self.store._versions(key)
        if data and self.store.has_object_lock():
            self.set_pack_hold(name, False)
        for version_id in data + markers:
            with self.store._errors(f"deleting pack {name}"):
                try:
                    self.store.client.delete_object(Bucket=self.store.bucket, Key=key,
                                                    VersionId=version_id)
                except ClientError as exc:
                    if _error_code(exc) in _LOCK_REFUSALS:
                        raise BlobLocked(self.refusal(name) or (
                            f"S3 Object Lock forbids deleting pack {name} from {self.url}"
                        )) from None
                    raise

    def refusal(self, name: str) -> str | None:
        if not self.store.has_object_lock():
            return None
        head = self._head(name)
        until = self._running_retention(head)
        if head is None or until is None:
            return None
        return (f"S3 Object Lock forbids deleting pack {name} from {self.url} "
                f"({head.get('ObjectLockMode', 'retention')} until {until:%Y-%m-%d})")

    def _list(self, prefix: str) -> Iterator[str]:
        with self.store._errors("listing packs"):
            pages = self.store.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.store.bucket, Prefix=prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    yield str(obj["Key"])[len(prefix):]

    def names(self) -> list[str]:
        return sorted(n for n in self._list(self._packs)
                      if "/" not in n and n.startswith("pack-") and n.endswith(PACK_SUFFIX))

    def lock(self) -> AbstractContextManager[None]:
        return folder_lock(self.cache)

    def journal_put(self, jobs: Sequence[Journal]) -> None:
        for job in jobs:
            body = json.dumps({"old": job.old_name, "new": job.new_name,
                               "doomed": list(job.doomed)}).encode()
            self.put_object(f"{self._journal}{job.old_name}.json", body,
                            f"journalling the rewrite of pack {job.old_name}")

    def journal_list(self) -> list[Journal]:
        out: list[Journal] = []
        for rel in self._list(self._journal):
            with self.store._errors("reading the pack journal"):
                try:
                    reply = self.store.client.get_object(Bucket=self.store.bucket,
                                                         Key=self._journal + rel)
                except ClientError as exc:
                    if _error_code(exc) in _MISSING:
                        continue  # finished by another process since the listing
                    raise
                entry = json.loads(reply["Body"].read())
            out.append(Journal(str(entry["old"]), str(entry["new"]),
                               tuple(str(sha) for sha in entry["doomed"])))
        return out

    def delete_every_version(self, key: str, doing: str) -> None:
        """Remove every version and delete marker of a small bookkeeping object."""
        data, markers = self.store._versions(key)
        for version_id in data + markers:
            self._call(doing, "delete_object", Key=key, VersionId=version_id)

    def journal_drop(self, old_name: str) -> None:
        self.delete_every_version(f"{self._journal}{old_name}.json",
                                  f"finishing the rewrite of pack {old_name}")

    def held(self) -> set[str]:
        """Hashes of the packed blobs under a legal hold (one listing: holds are few)."""
        return set(self._list(self.holds))
