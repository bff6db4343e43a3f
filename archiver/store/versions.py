"""Item versions: what a version's hash covers, and how a new one is sealed onto the chain.

A version's ``content_sha256`` is the fingerprint capture compares to decide whether anything
changed (text, media, status, author: the things the capture contract says make a new version;
not like counts, and not Facebook's ``updated_time``, which moves whenever someone comments). Its
``sha256`` covers every stored field of the version plus the previous version's hash, so the
versions of an item form a chain that ``verify`` can re-walk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from archiver.connectors.records import Record
from archiver.store.canonical import HashScheme, hash_record, hash_with, seal_scheme
from archiver.store.models import ItemVersion


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
    """The hash capture compares to tell a changed item from an unchanged one.

    Media count by the path of their URL only: CDNs (Facebook's, Instagram's) sign their links
    with expiring query parameters and rotate host names, so the full URL changes on every read
    while the file stays the same. A different file has a different path.
    """
    return hash_record(
        {
            "text": text,
            "status": status,
            "platform_status": platform_status,
            "author_name": author_name,
            "author_id": author_id,
            "media": [
                {"path": urlsplit(m.get("url") or "").path, "media_type": m.get("media_type")}
                for m in json.loads(media)
            ],
        }
    )


def record_fingerprint(record: Record) -> tuple[str, str]:
    """A record's content fingerprint and its stored media list, as capture compares them."""
    media = media_json([{"url": m.url, "media_type": m.media_type} for m in record.media])
    fingerprint = content_fingerprint(
        text=record.text, status=record.status, platform_status=record.platform_status,
        author_name=record.author_name, author_id=record.author_id, media=media,
    )
    return fingerprint, media


# The stored columns a version's ``sha256`` covers (``media_json`` is hashed as parsed JSON;
# ``secrets_scrubbed`` only when not 0, so versions sealed before it existed keep their hash).
# ``record_sha256`` is hashed under the key ``raw_sha256``, its name when the hash scheme was
# fixed: renaming the column must not change a single version's hash.
HASHED_FIELDS = (
    "item_id", "seq", "capture_run_id", "captured_at", "status", "platform_status", "text",
    "author_name", "author_id", "created_at", "updated_at", "url", "media_json", "record_sha256",
    "evidence_sha256", "content_sha256", "prev_sha256", "secrets_scrubbed",
)
_SPECIAL = ("media_json", "secrets_scrubbed")
HASHED_AS = {"record_sha256": "raw_sha256"}


def version_payload(v: ItemVersion | Mapping[str, Any]) -> dict[str, Any]:
    """Every field a version's ``sha256`` covers, from a row or from the dict about to be one."""
    get = v.get if isinstance(v, Mapping) else v.__getattribute__
    payload = {name: get(name) for name in HASHED_FIELDS if name not in _SPECIAL}
    payload[HASHED_AS["record_sha256"]] = payload.pop("record_sha256")
    payload["media"] = json.loads(get("media_json") or "[]")
    scrubbed = get("secrets_scrubbed")
    if scrubbed:
        payload["secrets_scrubbed"] = scrubbed
    return payload


def version_sha256(v: ItemVersion | Mapping[str, Any]) -> str:
    """The hash a version with these fields has (its ``prev_sha256`` included), under the hash
    scheme it names (``hash_scheme``; legacy when it names none)."""
    get = v.get if isinstance(v, Mapping) else v.__getattribute__
    return hash_with(version_payload(v), get("hash_scheme") or HashScheme.LEGACY)


def version_row(*, prev_sha256: str | None, **fields: Any) -> dict[str, Any]:
    """A new version as the row to insert, sealed: ``fields`` are the hashed columns but
    ``prev_sha256`` (the chain head before it; empty for a first version) and ``sha256``.
    The record writer's :func:`~archiver.store.writer.seal` calls it for every version; it is
    sealed over JCS bytes when JCS can express it
    (:func:`~archiver.store.canonical.seal_scheme`)."""
    row = {**fields, "prev_sha256": prev_sha256 or None}
    row["sha256"], row["hash_scheme"] = seal_scheme(version_payload(row))
    return row
