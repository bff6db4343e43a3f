"""Putting a blob in the store and recording it in the ``blobs`` table, as one step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from archiver.blobstore import BlobStore
from archiver.db import insert_ignore
from archiver.models import Blob


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
