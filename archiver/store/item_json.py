"""The one JSON shape of an item and its versions.

``archiver items show --json``, ``archiver search --json``, the native records of export
packages, transfer packages and destruction certificates all describe items with these keys,
each value meaning the same everywhere. Each output takes the subset it may show (the README
lists which): a search result has no versions, a certificate names what was destroyed but
carries none of its content, a native record takes its values from the redacted views.

Times are ISO 8601 in UTC (``2024-06-01T12:58:20+00:00``), days ``YYYY-MM-DD``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypedDict, cast

from archiver.store.models import Item


def json_time(moment: datetime | None) -> str | None:
    """A stored (aware, UTC) time as the shape writes it."""
    return moment.isoformat() if moment is not None else None


def json_day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


class VersionJson(TypedDict):
    """One captured version: what the platform showed then, and its place in the hash chain."""

    seq: int  # 1, 2, ... in capture order
    captured_at: str
    capture_run_id: int | None  # None for a version real-time capture or a purge wrote
    status: str  # active | hidden | removed
    platform_status: str | None  # the platform's own word (published, spam, heldForReview...)
    text: str | None
    author: str | None
    created_at: str | None  # when the platform says it was published
    updated_at: str | None  # when the platform says it was last edited
    url: str | None
    media: list[Any]  # the platform's media entries as captured
    # The blob of the item's record as parsed: the platform's payload read back out as canonical
    # JSON (the bytes the platform sent are in the version's WARC record).
    record_sha256: str | None
    raw_sha256: str | None  # the same value under its former name, kept for readers of it
    evidence_sha256: str | None  # the blob of the proof of a removal
    secrets_scrubbed: int  # credentials taken out of the payload before it was stored
    sha256: str  # the version's record hash (archiver.store.versions)
    prev_sha256: str | None  # the record hash of the version before


class NativeVersionJson(VersionJson, total=False):
    """A version in a package's native record: with the payloads its hashes name."""

    record: Any  # the item's record as parsed (redacted with the package)
    raw: Any  # the same value under its former name, kept for readers of it
    evidence: Any  # the proof of removal itself (redacted with the package)


class ItemJson(TypedDict, total=False):
    """An item. Keys a given output leaves out are listed in the README."""

    item_id: int
    account_id: int
    account: str  # the account's handle
    platform: str
    external_id: str  # the platform's id of the item
    kind: str  # post | comment | reply | media | page_revision
    parent_id: int | None  # the item it answers, when the archive linked it
    thread_id: int  # the item heading its thread (archiver.store.threads)
    status: str  # active | hidden | removed, as of its newest version
    platform_status: str | None  # the newest version's platform_status
    version_count: int
    author: str | None  # author, created_at, text, url: the newest version's
    created_at: str | None
    text: str | None
    url: str | None
    first_captured_at: str
    last_seen_at: str  # the last capture that saw it
    removed_detected_at: str | None
    removal_evidence_sha256: str | None
    series: str | None  # the record series retention assigned
    published_at: str | None  # the publication time retention counts from
    disposition_date: str | None  # the first day it may be disposed (None: permanent or not yet)
    disposed_at: str | None  # when its content was destroyed
    versions: Sequence[VersionJson]  # oldest first (natives: NativeVersionJson)
    # Keys one output adds to the shape:
    removal_evidence: Any  # items show: the proof of removal itself
    dispositions: list[dict[str, Any]]  # items show: the destructions that took its content
    review: dict[str, Any]  # items show: monitoring flags on its versions, reviewers' decisions
    # items show: per version, the WARC record of the platform's answer that carried it
    warc_records: list[dict[str, Any]]
    matched_versions: list[int]  # search: the versions whose text holds a word of the query
    redacted: bool  # natives: whether the package's redaction rules were applied
    series_title: str  # transfer packages: the series' title
    authority: str  # transfer packages and certificates: the series' legal authority
    tombstone_sha256: str  # certificates: the hash of what stays of the item


# The keys of the shape in groups, for the outputs to choose from.
NAMING = ("item_id", "account_id", "account", "platform", "external_id", "kind", "parent_id",
          "thread_id")
STATE = ("status", "platform_status", "version_count")
# The newest version's own words: never in a certificate, whose items were destroyed.
CONTENT = ("author", "created_at", "text", "url")
CAPTURE = ("first_captured_at", "last_seen_at", "removed_detected_at", "removal_evidence_sha256")
RETENTION = ("series", "published_at", "disposition_date", "disposed_at")
ITEM_KEYS = NAMING + STATE + CONTENT + CAPTURE + RETENTION
# What a destruction certificate says of each item: which it was and under what it went.
CERTIFICATE_KEYS = NAMING + ("series", "published_at", "disposition_date")
_FROM_CURRENT = frozenset({"platform_status", *CONTENT})


@dataclass(frozen=True)
class VersionRecord:
    """A version's values for the shape (redacted ones in a package's views)."""

    seq: int
    captured_at: datetime
    capture_run_id: int | None
    status: str
    platform_status: str | None
    text: str | None
    author: str | None
    created_at: datetime | None
    updated_at: datetime | None
    url: str | None
    media: list[Any]
    record_sha256: str | None
    evidence_sha256: str | None
    sha256: str
    prev_sha256: str | None
    secrets_scrubbed: int

    def to_json(self) -> VersionJson:
        """The version in the shape."""
        return {
            "seq": self.seq, "captured_at": self.captured_at.isoformat(),
            "capture_run_id": self.capture_run_id, "status": self.status,
            "platform_status": self.platform_status, "text": self.text, "author": self.author,
            "created_at": json_time(self.created_at), "updated_at": json_time(self.updated_at),
            "url": self.url, "media": self.media, "record_sha256": self.record_sha256,
            "raw_sha256": self.record_sha256,
            "evidence_sha256": self.evidence_sha256, "secrets_scrubbed": self.secrets_scrubbed,
            "sha256": self.sha256, "prev_sha256": self.prev_sha256,
        }


def version_record(v: Any) -> VersionRecord:
    """The record of a stored version: an ``ItemVersion`` or a row of its columns."""
    return VersionRecord(
        seq=v.seq, captured_at=v.captured_at, capture_run_id=v.capture_run_id,
        status=v.status, platform_status=v.platform_status, text=v.text, author=v.author_name,
        created_at=v.created_at, updated_at=v.updated_at, url=v.url,
        media=json.loads(v.media_json), record_sha256=v.record_sha256,
        evidence_sha256=v.evidence_sha256, sha256=v.sha256, prev_sha256=v.prev_sha256,
        secrets_scrubbed=v.secrets_scrubbed or 0)


def version_json(v: Any) -> VersionJson:
    """A stored version (an ``ItemVersion`` or a row of its columns) in the shape."""
    return version_record(v).to_json()


@dataclass(frozen=True)
class ItemRecord:
    """An item's own values for the shape; its versions are given to :meth:`to_json`."""

    item_id: int
    account_id: int
    account: str
    platform: str
    external_id: str
    kind: str
    parent_id: int | None
    thread_id: int
    status: str
    version_count: int
    first_captured_at: datetime
    last_seen_at: datetime
    removed_detected_at: datetime | None
    removal_evidence_sha256: str | None
    series: str | None
    published_at: datetime | None
    disposition_date: date | None
    disposed_at: datetime | None

    def to_json(self, keys: Iterable[str] = ITEM_KEYS, *, current: VersionRecord | None = None,
                versions: Sequence[VersionRecord] | None = None) -> ItemJson:
        """The item in the shape, with ``keys`` only (in that order) and ``versions`` if
        given. The newest version's keys (text, author, ...) come from ``current``, which
        must then be given: a caller that must not show content gives no version at all."""
        wanted = list(keys)
        if current is None and _FROM_CURRENT.intersection(wanted):
            raise ValueError("the newest version's keys need the newest version")
        values: dict[str, Any] = {
            "item_id": self.item_id, "account_id": self.account_id, "account": self.account,
            "platform": self.platform, "external_id": self.external_id, "kind": self.kind,
            "parent_id": self.parent_id, "thread_id": self.thread_id, "status": self.status,
            "version_count": self.version_count,
            "first_captured_at": self.first_captured_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "removed_detected_at": json_time(self.removed_detected_at),
            "removal_evidence_sha256": self.removal_evidence_sha256, "series": self.series,
            "published_at": json_time(self.published_at),
            "disposition_date": json_day(self.disposition_date),
            "disposed_at": json_time(self.disposed_at),
        }
        if current is not None:
            values.update(platform_status=current.platform_status, author=current.author,
                          created_at=json_time(current.created_at), text=current.text,
                          url=current.url)
        shaped = {key: values[key] for key in wanted}
        if versions is not None:
            shaped["versions"] = [v.to_json() for v in versions]
        # Keys and values as ItemJson declares them (built above); mypy cannot follow a
        # TypedDict through a comprehension.
        return cast(ItemJson, shaped)


def item_record(item: Any, account: Any, thread_id: int) -> ItemRecord:
    """The record of a stored item: an ``Item`` or a row of its columns, with its account (an
    ``Account`` or a row with ``platform`` and ``handle``) and the item heading its thread."""
    return ItemRecord(
        item_id=item.id, account_id=item.account_id, account=account.handle,
        platform=account.platform, external_id=item.external_id, kind=item.kind,
        parent_id=item.parent_id, thread_id=thread_id, status=item.status,
        version_count=item.current_seq, first_captured_at=item.first_captured_at,
        last_seen_at=item.last_seen_at, removed_detected_at=item.removed_detected_at,
        removal_evidence_sha256=item.removal_evidence_sha256, series=item.series_code,
        published_at=item.published_at, disposition_date=item.disposition_date,
        disposed_at=item.disposed_at)


# The item columns item_record reads (and thread_key), for callers that select plain rows.
ITEM_COLUMNS = (Item.id, Item.account_id, Item.external_id, Item.kind, Item.scope, Item.parent_id,
                Item.status, Item.current_seq, Item.first_captured_at, Item.last_seen_at,
                Item.removed_detected_at, Item.removal_evidence_sha256, Item.series_code,
                Item.published_at, Item.disposition_date, Item.disposed_at)
