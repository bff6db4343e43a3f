"""Item versions: what a version's hash covers, and how a new one is sealed onto the chain.

A version's ``content_sha256`` is the fingerprint capture compares to decide whether anything
changed (text, media, status, author: the things the capture contract says make a new version;
not like counts, and not Facebook's ``updated_time``, which moves whenever someone comments). Its
``sha256`` covers every stored field of the version plus the previous version's hash, so the
versions of an item form a chain that ``verify`` can re-walk.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from archiver.canonical import hash_record
from archiver.models import ItemVersion


def media_json(media: Sequence[dict[str, Any]]) -> str:
    """The stored form of a version's media list (canonical, so it hashes the same every time)."""
    return json.dumps(list(media), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_fingerprint(
    *,
    text: str | None,
    status: str,
    platform_status: str | None,
    author_name: str | None,
    author_id: str | None,
    media: str,
) -> str:
    """The hash capture compares to tell a changed item from an unchanged one."""
    return hash_record(
        {
            "text": text,
            "status": status,
            "platform_status": platform_status,
            "author_name": author_name,
            "author_id": author_id,
            "media": json.loads(media),
        }
    )


def version_payload(v: ItemVersion) -> dict[str, Any]:
    """Every field a version's ``sha256`` covers."""
    return {
        "item_id": v.item_id,
        "seq": v.seq,
        "capture_run_id": v.capture_run_id,
        "captured_at": v.captured_at,
        "status": v.status,
        "platform_status": v.platform_status,
        "text": v.text,
        "author_name": v.author_name,
        "author_id": v.author_id,
        "created_at": v.created_at,
        "updated_at": v.updated_at,
        "url": v.url,
        "media": json.loads(v.media_json),
        "raw_sha256": v.raw_sha256,
        "evidence_sha256": v.evidence_sha256,
        "content_sha256": v.content_sha256,
        "prev_sha256": v.prev_sha256,
    }


def seal(version: ItemVersion) -> str:
    """Compute and set the version's ``sha256`` (its ``prev_sha256`` must already be set)."""
    version.sha256 = hash_record(version_payload(version))
    return version.sha256
