"""Canonical JSON and the hashes built on it.

Every hash in the archive (a version's record, an audit event) is the sha256 of canonical JSON:
keys sorted, no insignificant white space, UTF-8, datetimes as ISO 8601 UTC with microseconds.
The same value always gives the same bytes, on any machine and either database.

Lone surrogates: JSON lets a string hold half of a UTF-16 pair (``"\\ud83d"``), and platforms do
send them (a comment cut in the middle of an emoji). UTF-8 cannot encode one, so canonical JSON
writes each as JSON's own six-character escape ``\\udxxx`` (lower-case hex): the bytes are
valid UTF-8, parse back to the very value the platform sent and hash the same every time. A
value without lone surrogates has the same bytes as always, so no existing hash changes. What
the database and the search index hold instead is :func:`safe_text`.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Text a database column and the index can hold: no lone surrogate (not UTF-8) and no NUL
# (PostgreSQL refuses it in text).
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")
REPLACEMENT = "\ufffd"


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
    """The canonical UTF-8 bytes of ``value`` (lone surrogates escaped, see above)."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Surrogates can only stand inside string literals here (everything structural is
        # ASCII), where an escape means the same code unit.
        return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


def safe_text(value: str) -> str:
    """``value`` with every lone surrogate and NUL replaced by U+FFFD: the text to store, search
    and show. The exact value stays in the item's record blob (:func:`canonical_json`)."""
    return _UNSTORABLE.sub(REPLACEMENT, value)


def is_safe_text(value: str) -> bool:
    """True when :func:`safe_text` would leave ``value`` as it is."""
    return _UNSTORABLE.search(value) is None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_record(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
