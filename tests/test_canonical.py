"""Canonical JSON and timestamps: the bytes every version and audit hash covers never change."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from archiver.store.canonical import (
    HashScheme,
    canonical_json,
    hash_record,
    is_safe_text,
    iso_utc,
    jcs_json,
    safe_text,
    scheme_bytes,
    seal_scheme,
)

ZONES = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 30),
                    timezones=ZONES))
def test_iso_utc_is_the_original_strftime_form(moment: datetime) -> None:
    assert iso_utc(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_iso_utc_example() -> None:
    moment = datetime(2024, 5, 1, 9, 3, 22, tzinfo=timezone(timedelta(hours=-5)))
    assert iso_utc(moment) == "2024-05-01T14:03:22.000000Z"


def _old_canonical_json(value: object) -> bytes:
    """The canonical form as it always was for values without lone surrogates."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=lambda v: iso_utc(v)).encode("utf-8")


TEXT = st.text(st.characters(blacklist_categories=("Cs",)))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(JSONISH)
def test_values_without_lone_surrogates_keep_their_bytes(value: object) -> None:
    assert canonical_json(value) == _old_canonical_json(value)


@given(st.text(), st.text())
def test_any_text_has_valid_utf8_canonical_bytes_that_parse_back(key: str, text: str) -> None:
    data = canonical_json({key: [text]})
    assert data.decode("utf-8") and json.loads(data) == {key: [text]}
    assert canonical_json({key: [text]}) == data
    assert is_safe_text(safe_text(text))


def test_lone_surrogate_is_escaped_as_json_wrote_it() -> None:
    value = json.loads('{"message": "Thanks \\ud83d", "k\\udc00": "\\u0000"}')
    assert canonical_json(value) == b'{"k\\udc00":"\\u0000","message":"Thanks \\ud83d"}'
    assert hash_record(value) == hash_record(json.loads(canonical_json(value)))
    assert safe_text(value["message"]) == "Thanks \ufffd"
    assert safe_text("a\x00b") == "a\ufffdb"
    # A known record keeps its known hash.
    assert hash_record({"text": "Gracias, se\u00f1or \u2615", "n": 1}) == (
        hashlib.sha256('{"n":1,"text":"Gracias, se\u00f1or \u2615"}'.encode()).hexdigest())


# -- RFC 8785 (JCS) and the hash schemes ------------------------------------------------------


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT | st.integers(-(2**53) - 2, -(2**53) + 2) | st.integers(2**53 - 2, 2**53 + 2),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(ANY_JSON)
def test_jcs_bytes_are_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)  # type: ignore[arg-type]  # JSONISH is JSON values
    except rfc8785.CanonicalizationError:
        assert seal_scheme(value)[1] == HashScheme.LEGACY  # beyond 2**53: sealed legacy
        return
    assert jcs_json(value) == expected
    assert seal_scheme(value) == (hashlib.sha256(expected).hexdigest(), HashScheme.JCS)


def test_what_jcs_cannot_express_is_sealed_legacy() -> None:
    lone = json.loads('{"message": "Thanks \\ud83d"}')
    assert seal_scheme(lone) == (hash_record(lone), HashScheme.LEGACY)
    assert seal_scheme({"n": 2**60}) == (hash_record({"n": 2**60}), HashScheme.LEGACY)
    # Where the two differ, each scheme keeps its own bytes.
    assert scheme_bytes({"d": 1.0}, "legacy") == b'{"d":1.0}'
    assert scheme_bytes({"d": 1.0}, "jcs") == b'{"d":1}'
    assert scheme_bytes({"\ufb33": 1, "\U0001f600": 2}, "jcs") == rfc8785.dumps(
        {"\ufb33": 1, "\U0001f600": 2})  # UTF-16 order: the emoji's surrogates sort first
    when = datetime(2024, 5, 1, 14, 3, 22, tzinfo=UTC)
    assert jcs_json({"at": when}) == b'{"at":"2024-05-01T14:03:22.000000Z"}'
