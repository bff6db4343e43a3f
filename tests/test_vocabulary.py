"""The closed vocabularies are StrEnums whose members are their words: stored, hashed and printed
as the same strings as before, and refused when a word is not one of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from archiver.connectors.records import ItemKind, ItemRef, ItemStatus, Platform, Record
from archiver.search.interface import SearchFilters
from archiver.store.canonical import canonical_json
from archiver.store.versions import content_fingerprint


def test_a_member_is_its_word_in_json_hashes_and_text() -> None:
    assert json.dumps({"status": ItemStatus.REMOVED}) == '{"status": "removed"}'
    assert canonical_json([ItemKind.PAGE_REVISION, Platform.X]) == b'["page_revision","x"]'
    assert f"{ItemStatus.HIDDEN}" == str(ItemStatus.HIDDEN) == "hidden"
    fields = {"text": "t", "platform_status": None, "author_name": None, "author_id": None,
              "media": "[]"}
    assert content_fingerprint(status=ItemStatus.REMOVED, **fields) == \
        content_fingerprint(status="removed", **fields)
    assert {"post": 1}[ItemKind.POST] == 1  # the same key in a dict


def record(**changes: object) -> Record:
    fields: dict[str, object] = {
        "external_id": "1", "kind": "comment", "scope": "", "text": "t", "status": "active",
        "platform_status": None, "author_name": None, "author_id": None,
        "created_at": datetime(2024, 1, 1, tzinfo=UTC), "updated_at": None, "url": None,
        "raw": {}}
    return Record(**{**fields, **changes})


def test_words_become_members_and_strange_words_are_refused() -> None:
    made = record()
    assert made.kind is ItemKind.COMMENT and made.status is ItemStatus.ACTIVE
    assert ItemRef("1", "post", "").kind is ItemKind.POST
    with pytest.raises(ValueError, match="unknown kind 'video'"):
        record(kind="video")
    with pytest.raises(ValueError, match="cannot assert status 'removed'"):
        record(status="removed")

    filters = SearchFilters(platform="YouTube", kind="reply", status="hidden")  # any case
    assert (filters.platform, filters.kind, filters.status) == \
        (Platform.YOUTUBE, ItemKind.REPLY, ItemStatus.HIDDEN)
    with pytest.raises(ValueError):
        SearchFilters(status="deleted")
