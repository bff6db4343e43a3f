"""An item's native record as exported: every version with its raw payload as captured.

Without redaction each raw payload is the captured blob, parsed back unchanged; with redaction
every string in it is redacted, keys included (the archive keeps the original).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from archiver.blobs.interface import BlobStore
from archiver.exports.redaction import Redaction, Redactor
from archiver.exports.selection import ItemView, StoredMedia, VersionView, read_json_blob


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def version_record(v: VersionView) -> dict[str, Any]:
    return {
        "seq": v.seq, "captured_at": iso(v.captured_at), "capture_run_id": v.capture_run_id,
        "status": v.status, "platform_status": v.platform_status, "text": v.text,
        "author": v.author, "created_at": iso(v.created_at), "updated_at": iso(v.updated_at),
        "url": v.url, "media": v.media, "raw_sha256": v.raw_sha256,
        "evidence_sha256": v.evidence_sha256, "sha256": v.sha256, "prev_sha256": v.prev_sha256,
    }


def native_record(item: ItemView, store: BlobStore, redactor: Redactor,
                  log: list[Redaction]) -> bytes:
    """The item and every version (with its raw payload and any removal evidence) as JSON."""
    versions = []
    for v in item.versions:
        data = version_record(v)
        # The platform's own payload: redacted whole (any key, any depth), like the view.
        data["raw"] = read_json_blob(store, v.raw_sha256)
        if redactor.active and data["raw"] is not None:
            data["raw"] = redactor.payload(item.item_id, v.seq, data["raw"], log, "raw")
        # Read (and redacted) with the thread, so the renderings show the same proof.
        data["evidence"] = v.evidence
        versions.append(data)
    record = {
        "item_id": item.item_id, "platform": item.platform, "account": item.account,
        "account_id": item.account_id, "external_id": item.external_id, "kind": item.kind,
        "status": item.status, "parent_id": item.parent_id,
        "first_captured_at": iso(item.first_captured_at), "last_seen_at": iso(item.last_seen_at),
        "removed_detected_at": iso(item.removed_detected_at), "redacted": redactor.active,
        "versions": versions,
    }
    return json.dumps(record, indent=2, ensure_ascii=False).encode("utf-8")


def media_files(item: ItemView, store: BlobStore) -> Iterator[StoredMedia]:
    """Media the item showed in any version whose bytes the archive holds, each file once."""
    seen: set[str] = set()
    for v in item.versions:
        for media in v.media_files:
            if media.sha256 in seen or not store.exists(media.sha256):
                continue
            seen.add(media.sha256)
            yield media


def extracted_text(item: ItemView) -> str:
    """The plain text of an item for TEXT/: header lines, then every version's text."""
    lines = [
        f"Item: {item.item_id} ({item.platform} {item.kind} {item.external_id})",
        f"Account: {item.account}",
        f"Author: {item.current.author or ''}",
        f"Published: {iso(item.current.created_at) or ''}",
        f"Status: {item.status}",
        f"URL: {item.current.url or ''}",
        "",
    ]
    for v in item.versions:
        lines.append(f"--- version {v.seq} captured {iso(v.captured_at)} status {v.status}")
        lines.append(v.text or "")
        lines.append("")
    return "\n".join(lines)
