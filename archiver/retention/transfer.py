"""Transfer to an archives: a BagIt (RFC 8493) package written before anything is destroyed.

Payload files are written into a staging folder batch by batch, before that batch's records are
destroyed (re-running a killed purge rewrites the same files). When the disposition completes
the folder becomes a bag (``bagit.make_bag``, SHA-256 and SHA-512 manifests) and is validated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import bagit

from archiver.errors import ArchiverError

SOURCE = "archiver (social media records archive)"


def staging_dir(root: Path, disposition_id: int) -> Path:
    return root / f"disposition-{disposition_id}-transfer"


def write_payload(folder: Path, records: Sequence[Mapping[str, Any]],
                  blobs: dict[str, bytes]) -> None:
    """Write each item's record (JSON) and its versions' record blobs into the staging folder."""
    if (folder / "bagit.txt").exists():
        raise ArchiverError(f"transfer package {folder} is already finalised")
    items = folder / "items"
    raw = folder / "blobs"
    items.mkdir(parents=True, exist_ok=True)
    raw.mkdir(parents=True, exist_ok=True)
    for record in records:
        path = items / f"{int(record['item_id'])}.json"
        path.write_text(json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False,
                                   default=str), encoding="utf-8")
    for sha, data in blobs.items():
        (raw / f"{sha}.json").write_bytes(data)


def finalise(folder: Path, *, disposition_id: int, approved_by: str,
             description: str) -> dict[str, Any]:
    """Turn the staging folder into a validated bag (idempotent); its summary."""
    if not folder.exists():
        return {}
    if not (folder / "bagit.txt").exists():
        bag = bagit.make_bag(str(folder), {
            "Source-Organization": SOURCE,
            "External-Description": description,
            "External-Identifier": f"disposition-{disposition_id}",
            "Internal-Sender-Identifier": f"disposition-{disposition_id}",
            "Internal-Sender-Description": f"approved by {approved_by}",
        }, checksums=["sha256", "sha512"])
    else:
        bag = bagit.Bag(str(folder))
    try:
        bag.validate()
    except bagit.BagError as exc:
        raise ArchiverError(f"transfer package {folder} does not validate: {exc}") from None
    return {"path": str(folder), "payload_oxum": bag.info.get("Payload-Oxum"),
            "bagging_date": bag.info.get("Bagging-Date")}
