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

Hash schemes. Records sealed from now on are hashed over RFC 8785 (JSON Canonicalization Scheme,
https://www.rfc-editor.org/rfc/rfc8785) bytes, so an examiner's own JCS library recomputes every
hash: :data:`HashScheme.JCS`. Records sealed before keep their ``legacy`` bytes (the form above),
and each row says which scheme its hash uses. Both write datetimes as the ``iso_utc`` text and
agree byte for byte on most records; they differ on floats, on keys ordered differently by UTF-16
code units than by code points, and on what JCS cannot express at all: a lone surrogate (I-JSON,
RFC 7493, forbids it) or an integer beyond 2**53. A record holding one of those is sealed with the
legacy scheme and marked so (:func:`seal_scheme`): its bytes are still valid UTF-8 that any JSON
parser reads back to the exact value, but no JCS library will produce them.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import rfc8785

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


class HashScheme(StrEnum):
    """Which canonical bytes a stored hash covers (see the module's docstring)."""

    LEGACY = "legacy"
    JCS = "jcs"


def _plain(value: Any) -> Any:
    """``value`` with datetimes and dates as the text canonical JSON gives them (JCS has none)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return _default(value)
    return value


# The largest integer JCS writes exactly (an IEEE 754 double's 53 bits, RFC 8785 §3.2.2.3).
_JCS_MAX_INT = 2**53 - 1
# Below U+D800 code-point order is UTF-16 order, the order JCS sorts keys in.
_BMP_LOW_END = "\ud7ff"


def _jcs_is_legacy(value: Any) -> bool:
    """True when ``value``'s JCS bytes are its legacy bytes, which the C encoder writes many
    times faster: no floats, integers JCS holds exactly, and keys that sort the same either way.
    (Escapes agree: both write only ``"``, ``\\`` and controls, the same way.)"""
    stack = [value]
    while stack:
        v = stack.pop()
        kind = type(v)
        if kind is str or v is None or kind is bool or kind is datetime or kind is date:
            continue
        if kind is int:
            if -_JCS_MAX_INT <= v <= _JCS_MAX_INT:
                continue
            return False
        if kind is dict:
            for key, item in v.items():
                if type(key) is not str or (key and max(key) > _BMP_LOW_END):
                    return False
                stack.append(item)
            continue
        if kind is list or kind is tuple:
            stack.extend(v)
            continue
        return False
    return True


def jcs_json(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value`` (datetimes as :func:`iso_utc` text); raises ValueError for
    a value JCS cannot express (a lone surrogate, an integer beyond 2**53, NaN)."""
    if _jcs_is_legacy(value):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=_default)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a lone surrogate: JCS (I-JSON) cannot express it") from None
    return rfc8785.dumps(_plain(value))


def scheme_bytes(value: Any, scheme: HashScheme | str) -> bytes:
    """The canonical bytes of ``value`` under ``scheme``."""
    if scheme == HashScheme.JCS:
        return jcs_json(value)
    if scheme == HashScheme.LEGACY:
        return canonical_json(value)
    raise ValueError(f"unknown hash scheme {scheme!r}")


def hash_with(value: Any, scheme: HashScheme | str) -> str:
    """sha256 of ``value``'s canonical bytes under ``scheme``."""
    return sha256_hex(scheme_bytes(value, scheme))


def seal_scheme(value: Any) -> tuple[str, HashScheme]:
    """The hash a new record is sealed with and its scheme: JCS, or legacy for a value JCS cannot
    express (see the module's docstring)."""
    try:
        return sha256_hex(jcs_json(value)), HashScheme.JCS
    except ValueError:
        return sha256_hex(canonical_json(value)), HashScheme.LEGACY
