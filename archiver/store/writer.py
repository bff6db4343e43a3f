"""The one writer of the record store: items, their versions and chain heads, sealed and told.

Capture applies the capture rules (what is new, changed, unchanged or gone) and hands the outcome
here; nothing else inserts items or versions. In the caller's transaction the writer

* marks the unchanged items seen by the run,
* inserts the new items and links them to their parents (also parents arriving in the same
  batch),
* seals each new version onto its item's hash chain with :func:`seal`, the one function that
  makes a version row, for a changed record as for a removal,
* writes the versions and moves the chain heads, set-based (one insert of items, one of
  versions, one executemany of heads per batch: capture's hot path),
* records ``item.removed`` on the audit log for a removal (``item.expired`` for a story whose
  day is over: expiry is not deletion, the item keeps its status), and
* tells its subscribers: "versions stored" (:class:`VersionsStored`).

A records system must never store an item that escapes its retention schedule or a legal hold,
so subscribers are not optional: a writer is built with a subscriber for every :class:`Duty`,
or not at all (:class:`MissingSubscriber`). The archiver builds its writers in one place,
:func:`archiver.capture.writer.record_writer`; this room cannot name retention or monitoring
(they are above it), so it names the duties instead.

A subscriber can also add columns to the head rows before they are written
(:meth:`Subscriber.head_fields`): retention's series and disposition dates ride along in the
same statement instead of costing a second pass over the items.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from archiver.connectors.records import ItemStatus, Record
from archiver.store.audit import record_event
from archiver.store.db import table_of
from archiver.store.heads import Head, Removable
from archiver.store.models import Account, Item, ItemVersion
from archiver.store.versions import content_fingerprint, version_row


class Duty(StrEnum):
    """What must happen to every version stored, each done by a subscriber."""

    RETENTION = "retention"  # record series and disposition dates
    PROTECTION = "protection"  # legal holds and open records requests
    MONITORING = "monitoring"  # the comment monitoring rules (General Order 80.11 review)


class MissingSubscriber(RuntimeError):
    """A writer was built without a subscriber for some duty."""


@dataclass(frozen=True)
class VersionContent:
    """What a version says: every hashed column but its place in the chain and its capture
    (item, number, previous hash, run, time)."""

    status: str
    platform_status: str | None
    text: str | None
    author_name: str | None
    author_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    url: str | None
    media_json: str
    record_sha256: str | None
    evidence_sha256: str | None
    content_sha256: str
    secrets_scrubbed: int


def record_content(record: Record, *, fingerprint: str, media_json: str, record_sha256: str,
                   secrets_scrubbed: int) -> VersionContent:
    """A record's new version (``fingerprint`` and ``media_json`` from
    :func:`~archiver.store.versions.record_fingerprint`, its record blob already stored)."""
    return VersionContent(
        status=record.status, platform_status=record.platform_status, text=record.text,
        author_name=record.author_name, author_id=record.author_id,
        created_at=record.created_at, updated_at=record.updated_at, url=record.url,
        media_json=media_json, record_sha256=record_sha256, evidence_sha256=None,
        content_sha256=fingerprint, secrets_scrubbed=secrets_scrubbed)


def removal_content(latest: Row[Any], *, evidence_sha256: str,
                    secrets_scrubbed: int) -> VersionContent:
    """The removal version: the latest version's content, status ``removed``, and the
    platform's answer (the evidence blob)."""
    return carried_content(latest, status=ItemStatus.REMOVED, platform_status=None,
                           evidence_sha256=evidence_sha256, secrets_scrubbed=secrets_scrubbed)


def carried_content(latest: Row[Any], *, status: str, platform_status: str | None,
                    evidence_sha256: str | None, secrets_scrubbed: int) -> VersionContent:
    """A version that carries the latest version's content on with a new status and platform
    status (a removal, a story's expiry)."""
    fingerprint = content_fingerprint(
        text=latest.text, status=status, platform_status=platform_status,
        author_name=latest.author_name,
        author_id=latest.author_id, media=latest.media_json)
    return VersionContent(
        status=status, platform_status=platform_status, text=latest.text,
        author_name=latest.author_name,
        author_id=latest.author_id, created_at=latest.created_at, updated_at=latest.updated_at,
        url=latest.url, media_json=latest.media_json, record_sha256=latest.record_sha256,
        evidence_sha256=evidence_sha256, content_sha256=fingerprint,
        secrets_scrubbed=secrets_scrubbed)


def seal(head: Head, content: VersionContent, *, run_id: int,
         captured_at: datetime) -> dict[str, Any]:
    """The next version of ``head``'s item as the row to insert, sealed onto its chain."""
    return version_row(item_id=head.id, seq=head.current_seq + 1,
                       prev_sha256=head.current_sha256, capture_run_id=run_id,
                       captured_at=captured_at, **vars(content))


@dataclass(frozen=True)
class StoredVersion:
    """One version just stored, with what its subscribers ask about its item."""

    item_id: int
    kind: str
    published_at: datetime | None  # the version's publication time
    first_captured_at: datetime
    removed_detected_at: datetime | None
    new_item: bool
    removal: bool


@dataclass(frozen=True)
class VersionsStored:
    """The event: these versions were stored, in ``session``'s transaction, by run ``run_id``."""

    session: Session
    account: Account
    run_id: int
    at: datetime
    versions: tuple[StoredVersion, ...]

    @property
    def item_ids(self) -> list[int]:
        return [v.item_id for v in self.versions]

    @property
    def new_ids(self) -> list[int]:
        """The items stored for the first time."""
        return [v.item_id for v in self.versions if v.new_item]

    @property
    def removed_ids(self) -> list[int]:
        """The items whose new version is their removal."""
        return [v.item_id for v in self.versions if v.removal]


class Subscriber(ABC):
    """Something that must happen, in the same transaction, to every version stored."""

    duty: ClassVar[Duty]

    def head_fields(self, event: VersionsStored) -> list[dict[str, object]] | None:
        """Columns to write into each item's row with its new chain head: one dict per entry of
        ``event.versions``, the same keys in each; None to add nothing."""
        return None

    @abstractmethod
    def versions_stored(self, event: VersionsStored, *, head_fields_written: bool) -> None:
        """The versions and heads are written (``head_fields_written``: with this subscriber's
        :meth:`head_fields`)."""


@dataclass(frozen=True)
class PendingVersion:
    """A record capture found new or changed, and the version it becomes."""

    record: Record
    content: VersionContent
    # The WARC response record whose page carried the record (``warc_records.id``), if any.
    warc_record_id: int | None = None


class RecordWriter:
    """Writes items and versions and tells ``subscribers`` (one for every :class:`Duty`, called
    in the order given)."""

    def __init__(self, subscribers: Sequence[Subscriber]) -> None:
        missing = [d.value for d in Duty if d not in {s.duty for s in subscribers}]
        if missing:
            raise MissingSubscriber(
                f"a record writer needs a subscriber for {', '.join(missing)}: build it with "
                "archiver.capture.writer.record_writer")
        self.subscribers = tuple(subscribers)

    def store(self, session: Session, account: Account, run_id: int, now: datetime, *,
              seen: Sequence[int], changes: Sequence[PendingVersion],
              heads: dict[str, Head]) -> VersionsStored | None:
        """Mark ``seen`` items seen by the run, and store ``changes`` (``heads`` holds the
        chain heads of those already archived; the new items' heads are added to it)."""
        if seen:
            session.execute(update(Item).where(Item.id.in_(list(seen)))
                            .values(last_seen_at=now, last_seen_run_id=run_id))
        if not changes:
            return None
        new = [c.record for c in changes if c.record.external_id not in heads]
        if new:
            self._insert_items(session, account.id, new, heads, now, run_id)
        fresh = {r.external_id for r in new}
        versions: list[dict[str, Any]] = []
        head_rows: list[dict[str, object]] = []
        stored: list[StoredVersion] = []
        for change in changes:
            record, head = change.record, heads[change.record.external_id]
            version = seal(head, change.content, run_id=run_id, captured_at=now)
            version["warc_record_id"] = change.warc_record_id
            versions.append(version)
            head_rows.append({
                "b_id": head.id, "current_seq": version["seq"],
                "current_sha256": version["sha256"], "content_sha256": version["content_sha256"],
                "status": version["status"], "last_seen_at": now, "last_seen_run_id": run_id,
            })
            stored.append(StoredVersion(
                head.id, record.kind, record.created_at, head.first_captured_at or now,
                head.removed_detected_at, new_item=record.external_id in fresh, removal=False))
        event = VersionsStored(session, account, run_id, now, tuple(stored))
        self._notify(event, self._write(event, versions, head_rows))
        return event

    def remove(self, session: Session, account: Account, run_id: int, now: datetime,
               target: Removable, *, evidence_sha256: str, secrets_scrubbed: int,
               warc_record_id: int | None = None) -> None:
        """Store ``target``'s removal version (its evidence blob already stored; the look-up's
        answer in WARC record ``warc_record_id``) and audit it."""
        content = removal_content(target.latest, evidence_sha256=evidence_sha256,
                                  secrets_scrubbed=secrets_scrubbed)
        self._carry(session, account, run_id, now, target, content,
                    {"removed_detected_at": now, "removal_evidence_sha256": evidence_sha256},
                    action="item.removed",
                    details={"run_id": run_id, "evidence_sha256": evidence_sha256},
                    warc_record_id=warc_record_id)

    def expire(self, session: Session, account: Account, run_id: int, now: datetime,
               target: Removable, *, platform_status: str) -> None:
        """Store the version that records ``target`` as expired (a story whose 24 hours are
        over): its latest content and status, ``platform_status`` the word for it; audited as
        ``item.expired``. Nothing is removed: expiry is not deletion."""
        latest = target.latest
        content = carried_content(latest, status=latest.status, platform_status=platform_status,
                                  evidence_sha256=None, secrets_scrubbed=0)
        self._carry(session, account, run_id, now, target, content, {}, action="item.expired",
                    details={"run_id": run_id, "platform_status": platform_status})

    def _carry(self, session: Session, account: Account, run_id: int, now: datetime,
               target: Removable, content: VersionContent, head_extra: dict[str, object], *,
               action: str, details: dict[str, Any], warc_record_id: int | None = None) -> None:
        """Seal ``content`` onto ``target``'s chain (from WARC record ``warc_record_id``, if
        any), move its head, audit ``action`` and tell the subscribers."""
        head = target.head
        removal = content.status == ItemStatus.REMOVED
        version = seal(head, content, run_id=run_id, captured_at=now)
        version["warc_record_id"] = warc_record_id
        head_row: dict[str, object] = {
            "b_id": head.id, "current_seq": version["seq"], "current_sha256": version["sha256"],
            "content_sha256": content.content_sha256, "status": content.status, **head_extra,
        }
        stored = StoredVersion(head.id, target.kind, content.created_at,
                               head.first_captured_at or now,
                               now if removal else head.removed_detected_at,
                               new_item=False, removal=removal)
        event = VersionsStored(session, account, run_id, now, (stored,))
        contributed = self._write(event, [version], [head_row])
        record_event(session, action=action, occurred_at=now, target_type="item",
                     target_id=head.id, details=details)
        self._notify(event, contributed)

    def _write(self, event: VersionsStored, versions: list[dict[str, Any]],
               head_rows: list[dict[str, object]]) -> set[int]:
        """Insert the versions and move the heads, with the subscribers' head fields; returns
        the positions of the subscribers whose fields were written."""
        contributed: set[int] = set()
        for position, subscriber in enumerate(self.subscribers):
            fields = subscriber.head_fields(event)
            if fields is not None:
                for row, extra in zip(head_rows, fields, strict=True):
                    row.update(extra)
                contributed.add(position)
        session = event.session
        session.execute(insert(table_of(ItemVersion)), versions)
        items = table_of(Item)
        # One key set per call (every row gets the same fields), so one executemany.
        session.execute(items.update().where(items.c.id == bindparam("b_id")), head_rows)
        return contributed

    def _notify(self, event: VersionsStored, contributed: set[int]) -> None:
        event.session.flush()
        for position, subscriber in enumerate(self.subscribers):
            subscriber.versions_stored(event, head_fields_written=position in contributed)

    @staticmethod
    def _insert_items(session: Session, account_id: int, records: list[Record],
                      heads: dict[str, Head], now: datetime, run_id: int) -> None:
        """Insert new items (chain heads empty until their first version) and link parents.

        A plain executemany and one read of the new ids: a RETURNING insert that must keep
        parameter order falls back to one statement per row on SQLite."""
        parents = {r.parent_external_id for r in records if r.parent_external_id}
        unknown = [p for p in parents if p not in heads]
        known = {ext: head.id for ext, head in heads.items()}
        if unknown:
            for ext, item_id in session.execute(
                select(Item.external_id, Item.id)
                .where(Item.account_id == account_id, Item.external_id.in_(unknown))
            ):
                known[ext] = item_id
        rows: list[dict[str, object]] = [
            {"account_id": account_id, "external_id": r.external_id, "kind": r.kind,
             "scope": r.scope, "parent_external_id": r.parent_external_id,
             "parent_id": known.get(r.parent_external_id or ""), "status": r.status,
             "first_captured_at": now, "last_seen_at": now, "last_seen_run_id": run_id,
             "current_seq": 0, "current_sha256": "", "content_sha256": ""}
            for r in records
        ]
        session.execute(insert(table_of(Item)), rows)
        ids: dict[str, int] = {ext: item_id for ext, item_id in session.execute(
            select(Item.external_id, Item.id)
            .where(Item.account_id == account_id,
                   Item.external_id.in_([r.external_id for r in records])))}
        for record in records:
            heads[record.external_id] = Head(ids[record.external_id], 0, "", "", now, None)
            known[record.external_id] = ids[record.external_id]
        # Parents that arrived in this same batch (a new post and its new comments).
        late = [
            {"b_id": known[str(row["external_id"])],
             "parent_id": known[str(row["parent_external_id"])]}
            for row in rows
            if row["parent_id"] is None and row["parent_external_id"] in known
            and known[str(row["parent_external_id"])] != known[str(row["external_id"])]
        ]
        if late:
            items = table_of(Item)
            session.execute(items.update().where(items.c.id == bindparam("b_id")), late)
