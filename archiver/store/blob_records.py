"""Putting a blob in the store and recording it in the ``blobs`` table, as one step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from archiver.blobs.interface import BlobStore
from archiver.store.db import insert_ignore
from archiver.store.models import Blob


def store_blobs(
    session: Session,
    store: BlobStore,
    blobs: Sequence[bytes],
    media_type: str | None,
    now: datetime,
) -> list[str]:
    """Write a batch (made durable at once by the store), then record the rows in one statement."""
    hashes = store.put_many(blobs, media_type=media_type)
    rows: dict[str, dict[str, object]] = {
        sha: {"sha256": sha, "size": len(data), "media_type": media_type, "created_at": now}
        for sha, data in zip(hashes, blobs, strict=True)
    }
    insert_ignore(session, Blob, list(rows.values()))
    return hashes


def store_blob(
    session: Session, store: BlobStore, data: bytes, media_type: str | None, now: datetime
) -> str:
    """Write ``data`` to the store (before the transaction commits) and record its row."""
    sha = store.put(data, media_type=media_type)
    insert_ignore(
        session,
        Blob,
        [{"sha256": sha, "size": len(data), "media_type": media_type, "created_at": now}],
    )
    return sha
