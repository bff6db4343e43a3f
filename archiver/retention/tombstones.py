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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.store.canonical import hash_record, iso_utc
from archiver.store.models import AuditEvent, Disposition, Tombstone

# The tombstone columns its ``sha256`` covers as they are; ``disposition_date`` and the two hash
# lists are covered too, in the forms :func:`payload_from_values` gives them.
HASHED_COLUMNS = (
    "item_id", "disposition_id", "account_id", "platform", "external_id", "kind", "series_code",
    "action", "authority", "published_at", "first_captured_at", "last_seen_at", "destroyed_at",
    "last_seq", "chain_head_sha256",
)


def utc_text(value: Any) -> Any:
    """``iso_utc(value)`` for an aware datetime (the text canonical JSON gives it); anything
    else as it is, so a naive datetime is left for canonical JSON to refuse."""
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return iso_utc(value)
    return value


def payload_from_values(values: Mapping[str, Any], version_hashes: list[dict[str, Any]],
                        blob_hashes: list[str]) -> dict[str, Any]:
    """Every field a tombstone's ``sha256`` covers, from its column values (e.g. a row about to
    be inserted) and its two hash lists as Python values (not yet JSON)."""
    payload = {name: utc_text(values[name]) for name in HASHED_COLUMNS}
    payload["disposition_date"] = values["disposition_date"].isoformat()
    payload["version_hashes"] = version_hashes
    payload["blob_hashes"] = blob_hashes
    return payload


def tombstone_payload(t: Tombstone) -> dict[str, Any]:
    """Every field a stored tombstone's ``sha256`` covers."""
    values = {name: getattr(t, name) for name in (*HASHED_COLUMNS, "disposition_date")}
    return payload_from_values(values, json.loads(t.version_hashes_json),
                               json.loads(t.blob_hashes_json))


def seal_tombstone(t: Tombstone) -> str:
    """Compute and set ``t.sha256``; return it."""
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


class VersionFields(Protocol):
    """What the destroyed-version check reads: an ItemVersion, or a Core row of its columns."""

    item_id: int
    seq: int
    sha256: str
    text: str | None
    author_name: str | None
    author_id: str | None
    url: str | None
    record_sha256: str | None
    evidence_sha256: str | None
    media_json: str


def check_destroyed_version(v: VersionFields, chain: DestroyedChain) -> str | None:
    """Why a destroyed version does not match its tombstone, or None if it does."""
    recorded = chain.hashes.get(v.seq)
    if recorded is None:
        return f"item {v.item_id} v{v.seq}: destroyed but not listed in its tombstone"
    if recorded != v.sha256:
        return f"item {v.item_id} v{v.seq}: hash differs from the one its tombstone recorded"
    if any(x is not None for x in (v.text, v.author_name, v.author_id, v.url, v.record_sha256,
                                   v.evidence_sha256)) or v.media_json != "[]":
        return f"item {v.item_id} v{v.seq}: tombstoned but still holds content"
    return None


def check_tombstones(session: Session) -> Iterator[tuple[int, str]]:
    """(tombstone id, reason) for every tombstone whose own hash does not hold."""
    for t in session.scalars(select(Tombstone).order_by(Tombstone.id)
                             .execution_options(yield_per=2000)):
        if hash_record(tombstone_payload(t)) != t.sha256:
            yield t.id, f"tombstone of item {t.item_id}: hash mismatch (altered)"


def item_dispositions(session: Session, item_id: int) -> list[dict[str, Any]]:
    """Every disposition that destroyed the item's content, oldest first: when, who approved it,
    the series and authority it went under, and the certificate that lists it.

    More than one when content captured after a disposition was itself destroyed later.
    ``certificate_path`` is where the purge wrote the certificate (None if it did not say); the
    certificate is also in the blob store under ``certificate_sha256``.
    """
    rows = session.execute(
        select(Tombstone, Disposition).join(Disposition, Disposition.id == Tombstone.disposition_id)
        .where(Tombstone.item_id == item_id).order_by(Tombstone.id)).all()
    out: list[dict[str, Any]] = []
    for tomb, disposition in rows:
        files = _certificate_files(session, disposition.id)
        out.append({
            "disposition_id": disposition.id, "destroyed_at": tomb.destroyed_at.isoformat(),
            "as_of": disposition.as_of.isoformat(), "approved_by": disposition.approved_by,
            "disposition_date": tomb.disposition_date.isoformat(), "series": tomb.series_code,
            "action": tomb.action, "authority": tomb.authority,
            "versions_destroyed": tomb.last_seq, "tombstone_sha256": tomb.sha256,
            "certificate_sha256": disposition.certificate_sha256,
            "certificate_path": files.get("certificate_path"),
            "certificate_pdf_path": files.get("certificate_pdf_path"),
        })
    return out


def _certificate_files(session: Session, disposition_id: int) -> dict[str, Any]:
    """The file paths the purge's completion event recorded for its certificate."""
    details = session.scalar(select(AuditEvent.details_json).where(
        AuditEvent.action == "retention.purge.completed", AuditEvent.target_type == "disposition",
        AuditEvent.target_id == str(disposition_id)).order_by(AuditEvent.id).limit(1))
    data = json.loads(details) if details else {}
    return {key: data.get(key) for key in ("certificate_path", "certificate_pdf_path")}
