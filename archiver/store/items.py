"""An item version as JSON, the shape ``items show`` and purge certificates print."""

from __future__ import annotations

import json
from typing import Any

from archiver.store.models import ItemVersion


def version_json(v: ItemVersion) -> dict[str, Any]:
    return {
        "seq": v.seq,
        "captured_at": v.captured_at.isoformat(),
        "status": v.status,
        "platform_status": v.platform_status,
        "text": v.text,
        "author": v.author_name,
        "updated_at": v.updated_at.isoformat() if v.updated_at else None,
        "media": json.loads(v.media_json),
        "raw_sha256": v.raw_sha256,
        "evidence_sha256": v.evidence_sha256,
        "capture_run_id": v.capture_run_id,
        "sha256": v.sha256,
        "prev_sha256": v.prev_sha256,
        "secrets_scrubbed": v.secrets_scrubbed or 0,
    }
