"""Tombstones: what stays of a destroyed item, and how ``verify`` checks destroyed versions.

Purge keeps every destroyed version's row, seq, ``sha256`` and ``prev_sha256`` (so the item's
chain still links from the first version to the head) but nulls what it held: text, author,
URL, media and the blob references. Such a version can no longer be re-hashed, so ``verify``
checks it against the item's tombstone instead: the tombstone lists every destroyed version's
hash in order and is itself hashed (its hash is in the disposition's certificate, whose hash is
in the audit log). A version newer than the tombstone's ``last_seq`` is checked normally.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.canonical import hash_record
from archiver.models import ItemVersion, Tombstone


def tombstone_payload(t: Tombstone) -> dict[str, Any]:
    """Every field a tombstone's ``sha256`` covers."""
    return {
        "item_id": t.item_id, "disposition_id": t.disposition_id, "account_id": t.account_id,
        "platform": t.platform, "external_id": t.external_id, "kind": t.kind,
        "series_code": t.series_code, "action": t.action, "authority": t.authority,
        "published_at": t.published_at, "first_captured_at": t.first_captured_at,
        "last_seen_at": t.last_seen_at, "disposition_date": t.disposition_date.isoformat(),
        "destroyed_at": t.destroyed_at, "last_seq": t.last_seq,
        "chain_head_sha256": t.chain_head_sha256,
        "version_hashes": json.loads(t.version_hashes_json),
        "blob_hashes": json.loads(t.blob_hashes_json),
    }


def seal_tombstone(t: Tombstone) -> str:
    t.sha256 = hash_record(tombstone_payload(t))
    return t.sha256


@dataclass(frozen=True)
class DestroyedChain:
    """For one item: the highest destroyed seq and the recorded hash of each destroyed version."""

    last_seq: int
    hashes: dict[int, str]


def destroyed_chains(session: Session) -> dict[int, DestroyedChain]:
    """item id -> what its tombstones say was destroyed (all tombstones of the item merged)."""
    out: dict[int, DestroyedChain] = {}
    rows = session.execute(select(Tombstone.item_id, Tombstone.last_seq,
                                  Tombstone.version_hashes_json).order_by(Tombstone.id))
    for item_id, last_seq, hashes_json in rows:
        known = dict(out[item_id].hashes) if item_id in out else {}
        for entry in json.loads(hashes_json):
            known[int(entry["seq"])] = entry["sha256"]
        previous = out[item_id].last_seq if item_id in out else 0
        out[item_id] = DestroyedChain(max(previous, last_seq), known)
    return out


def check_destroyed_version(v: ItemVersion, chain: DestroyedChain) -> str | None:
    """Why a destroyed version does not match its tombstone, or None if it does."""
    recorded = chain.hashes.get(v.seq)
    if recorded is None:
        return f"item {v.item_id} v{v.seq}: destroyed but not listed in its tombstone"
    if recorded != v.sha256:
        return f"item {v.item_id} v{v.seq}: hash differs from the one its tombstone recorded"
    if any(x is not None for x in (v.text, v.author_name, v.author_id, v.url, v.raw_sha256,
                                   v.evidence_sha256)) or v.media_json != "[]":
        return f"item {v.item_id} v{v.seq}: tombstoned but still holds content"
    return None


def check_tombstones(session: Session) -> Iterator[tuple[int, str]]:
    """(tombstone id, reason) for every tombstone whose own hash does not hold."""
    for t in session.scalars(select(Tombstone).order_by(Tombstone.id)
                             .execution_options(yield_per=2000)):
        if hash_record(tombstone_payload(t)) != t.sha256:
            yield t.id, f"tombstone of item {t.item_id}: hash mismatch (altered)"
