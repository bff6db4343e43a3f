"""Canonical JSON and the hashes built on it.

Every hash in the archive (a version's record, an audit event) is the sha256 of canonical JSON:
keys sorted, no insignificant white space, UTF-8, datetimes as ISO 8601 UTC with microseconds.
The same value always gives the same bytes, on any machine and either database.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not canonical JSON: {type(value).__name__}")


def iso_utc(value: datetime) -> str:
    """``2024-05-01T14:03:22.000000Z`` for an aware datetime; naive datetimes are refused."""
    if value.tzinfo is None:
        raise ValueError("naive datetime in a canonical record")
    utc = value.astimezone(UTC)
    if utc.year < 1000:
        # strftime's %Y is not zero-padded everywhere; those bytes are what older hashes cover.
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as the strftime above for four-digit years, at a third of the cost (verify
    # re-hashes every version).
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 bytes of ``value``."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_record(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
