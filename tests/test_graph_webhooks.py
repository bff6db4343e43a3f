"""Meta's webhook payloads read by archiver.connectors.graph_webhooks: whatever a signed body
holds, it becomes changes and a count of ignored entries, or one PayloadError line."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from archiver.connectors.graph_webhooks import (
    Action,
    PayloadError,
    parse_body,
    parse_payload,
    signature_ok,
)
from archiver.connectors.records import ROOT_SCOPE
from tests.support.parser_fuzz import FUZZ

ids = st.sampled_from(["104_1", "104_2", "2001_9", "2001_8", "17900", "7", 17])
texts = st.none() | st.text(max_size=20)
times = st.none() | st.integers(-10, 2**34) | st.sampled_from(["2024-06-01T12:00:00+0000",
                                                              "soon", 1.5])
feed_values = st.fixed_dictionaries({}, optional={
    "item": st.sampled_from(["comment", "status", "post", "photo", "video", "share", "like",
                             "reaction", 3]),
    "verb": st.sampled_from(["add", "edit", "edited", "hide", "unhide", "remove", "block", None]),
    "comment_id": ids, "post_id": ids, "parent_id": ids,
    "from": st.fixed_dictionaries({}, optional={"id": ids, "name": texts}) | st.text(max_size=3),
    "sender_id": ids, "sender_name": texts, "message": texts, "created_time": times,
    "permalink_url": texts, "link": texts,
})
ig_values = st.fixed_dictionaries({}, optional={
    "id": ids, "text": texts, "parent_id": ids,
    "from": st.fixed_dictionaries({}, optional={"id": ids, "username": texts}),
    "media": st.fixed_dictionaries({}, optional={"id": ids, "media_product_type": texts}),
})


def envelopes(obj: str, field: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    change = st.fixed_dictionaries({"field": st.sampled_from([field, "mentions", "ratings"]),
                                    "value": values | st.integers()})
    entry = st.fixed_dictionaries(
        {"changes": st.lists(change | st.text(max_size=3), max_size=4)},
        optional={"id": ids | st.none(), "time": times})
    return st.fixed_dictionaries({"object": st.just(obj),
                                  "entry": st.lists(entry | st.integers(), max_size=3)})


def change_count(payload: dict[str, Any]) -> int:
    return sum(len(e["changes"]) for e in payload["entry"] if isinstance(e, dict))


@FUZZ
@given(envelopes("page", "feed", feed_values))
def test_every_facebook_change_is_read_or_counted_as_ignored(payload: dict[str, Any]) -> None:
    changes, ignored = parse_payload("facebook", payload)
    assert len(changes) + ignored == change_count(payload)
    entry_ids = {str(e.get("id")) for e in payload["entry"] if isinstance(e, dict)}
    for change in changes:
        assert change.platform == "facebook" and change.account_external_id in entry_ids
        # A removal is only a report, to be confirmed by a look-up: it carries no record.
        assert (change.record is None) == (change.action is Action.REMOVED)
        if change.record is None:
            continue
        record = change.record
        assert record.external_id == change.external_id and record.status != "removed"
        assert (record.status == "hidden") == (change.action is Action.HIDDEN)
        value = record.raw
        if record.kind == "post":
            assert record.scope == ROOT_SCOPE and record.parent_external_id is None
        else:
            post = str(value["post_id"])
            assert record.scope == post
            assert (record.kind == "comment") == (record.parent_external_id == post)
        assert change.event_time is None or change.event_time.tzinfo is not None


@FUZZ
@given(envelopes("instagram", "comments", ig_values))
def test_every_instagram_comment_is_read_or_counted_as_ignored(payload: dict[str, Any]) -> None:
    changes, ignored = parse_payload("instagram", payload)
    assert len(changes) + ignored == change_count(payload)
    for change in changes:
        record = change.record
        assert change.action is Action.ADDED and record is not None
        media = str(record.raw["media"]["id"])
        assert record.scope == media and record.status == "active"
        assert (record.kind == "reply") == ("parent_id" in record.raw)
        assert record.parent_external_id == str(record.raw.get("parent_id", media))


@FUZZ
@given(st.sampled_from(["facebook", "instagram"]),
       st.one_of(st.binary(max_size=200),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                              lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                                  st.sampled_from(["object", "entry", "changes", "field",
                                                   "value", "id", "time", "page",
                                                   "instagram"]), inner, max_size=4),
                              max_leaves=20).map(lambda v: json.dumps(v).encode())))
def test_any_body_is_changes_or_one_payload_error(platform: str, body: bytes) -> None:
    try:
        changes, ignored = parse_body(platform, body)
    except PayloadError as exc:
        assert "\n" not in str(exc)
    else:
        assert ignored >= 0 and all(c.platform == platform for c in changes)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@FUZZ
@given(st.text(min_size=1, max_size=20), st.binary(max_size=100), st.binary(max_size=100),
       st.none() | st.text(max_size=80))
def test_only_the_body_signed_with_the_secret_passes(
    secret: str, body: bytes, other: bytes, header: str | None
) -> None:
    assert signature_ok(secret, body, sign(secret, body))
    assert signature_ok(secret, body, sign(secret, body).upper().replace("SHA256=", "sha256="))
    assert signature_ok(secret, other, sign(secret, body)) == (other == body)
    assert not signature_ok(secret + "x", body, sign(secret, body))
    assert not signature_ok(secret, body, sign(secret, body).removeprefix("sha256="))
    signature_ok(secret, body, header)  # anything a client sends is a plain no


def test_meta_feed_examples() -> None:
    sent = 1717243200
    payload = {"object": "page", "entry": [{"id": "104", "time": sent, "changes": [
        {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "2001_9",
                                    "post_id": "104_2001", "parent_id": "104_2001",
                                    "from": {"id": "55", "name": "Ana"}, "message": "hi",
                                    "created_time": sent - 5}},
        {"field": "feed", "value": {"item": "comment", "verb": "hide", "comment_id": "2001_8",
                                    "post_id": "104_2001", "parent_id": "2001_9"}},
        {"field": "feed", "value": {"item": "status", "verb": "remove", "post_id": "104_2002"}},
        {"field": "feed", "value": {"item": "reaction", "verb": "add", "post_id": "104_2001"}},
    ]}]}
    changes, ignored = parse_payload("facebook", payload)
    assert ignored == 1
    added, hidden, removed = changes
    assert added.action is Action.ADDED and added.record is not None
    assert added.record.kind == "comment" and added.record.author_name == "Ana"
    assert added.event_time == datetime.fromtimestamp(sent, UTC)
    assert hidden.action is Action.HIDDEN and hidden.record is not None
    assert hidden.record.kind == "reply" and hidden.record.status == "hidden"
    assert hidden.record.parent_external_id == "2001_9"
    assert removed.action is Action.REMOVED and removed.record is None
    assert removed.external_id == "104_2002" and removed.verb == "remove"
