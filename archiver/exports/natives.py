"""An item's native record as exported: every version with its record as parsed at capture.

Without redaction each record is the captured blob, parsed back unchanged; with redaction
every string in it is redacted, keys included (the archive keeps the original).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from archiver.blobs.interface import BlobStore
from archiver.exports.redaction import Redaction, Redactor
from archiver.exports.selection import ItemView, StoredMedia, read_json_blob
from archiver.store.item_json import ITEM_KEYS, NativeVersionJson, json_time

# Times in packages are written as the one shape writes them.
iso = json_time


def native_record(item: ItemView, store: BlobStore, redactor: Redactor,
                  log: list[Redaction]) -> bytes:
    """The item in the one shape (:mod:`archiver.store.item_json`), values from the redacted
    views, with every version's record as parsed and removal evidence, as JSON."""
    versions: list[NativeVersionJson] = []
    for v in item.versions:
        data = NativeVersionJson(**v.to_json())
        # The platform's own payload: redacted whole (any key, any depth), like the view.
        record = read_json_blob(store, v.record_sha256)
        if redactor.active and record is not None:
            record = redactor.payload(item.item_id, v.seq, record, log, "raw")
        data["record"] = data["raw"] = record
        # Read (and redacted) with the thread, so the renderings show the same proof.
        data["evidence"] = v.evidence
        versions.append(data)
    record = item.to_json(ITEM_KEYS, current=item.current)
    record["redacted"] = redactor.active
    record["versions"] = versions
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
