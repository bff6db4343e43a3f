"""Open the blob store named by the settings (``file://`` folder or ``s3://`` bucket)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from archiver.blobs.interface import BlobStore
from archiver.blobs.local import LocalBlobStore
from archiver.blobs.packs import PACK_BELOW
from archiver.config import Settings, StoreScheme
from archiver.errors import ConfigError


def open_blob_store(settings: Settings, environ: Mapping[str, str] | None = None) -> BlobStore:
    """Build the store named by ``settings.store_url`` (``file://`` or ``s3://bucket/prefix``).

    Nothing is contacted here; call :meth:`BlobStore.check` to find out whether it works. For
    S3, the region comes from ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` in ``environ`` (default
    us-east-1) and credentials from boto3's usual chain (environment, profile, instance role).
    """
    parts = urlsplit(settings.store_url)
    if parts.scheme == StoreScheme.FILE:
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(
                f"ARCHIVER_STORE_URL: file:// URL must be a local path, not host {parts.netloc!r}"
            )
        return LocalBlobStore(Path(unquote(parts.path)), pack_below=PACK_BELOW)
    if parts.scheme == StoreScheme.S3:
        # Imported only for s3:// so that a local store never loads boto3.
        from archiver.blobs.s3 import make_s3_client
        from archiver.blobs.s3_packed import PackedS3BlobStore, pack_cache

        env = os.environ if environ is None else environ
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        client = make_s3_client(endpoint_url=settings.s3_endpoint_url, region=region)
        return PackedS3BlobStore(
            parts.netloc,
            parts.path.strip("/"),
            client=client,
            cache=pack_cache(settings.home, settings.s3_endpoint_url or "aws", parts.netloc,
                             parts.path.strip("/")),
            pack_below=PACK_BELOW,
            lock_mode=settings.s3_object_lock_mode,
            lock_days=settings.s3_object_lock_days,
            endpoint_url=settings.s3_endpoint_url,
        )
    raise ConfigError(
        f"ARCHIVER_STORE_URL: unsupported scheme {parts.scheme!r} (use file:// or s3://)"
    )
