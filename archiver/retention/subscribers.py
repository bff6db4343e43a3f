"""Retention's subscribers to "versions stored" (the writer that calls them is built by
:func:`archiver.capture.writer.record_writer`, with every duty subscribed).

* :class:`RetentionSubscriber` gives stored items their record series and disposition date.
  When the schedule allows computing them from the item alone (no thread-activity trigger), the
  fields ride along in the writer's own head-row statement; otherwise they are recomputed
  set-based afterwards (:func:`~archiver.retention.assign.assign_items`). An item destroyed
  earlier that shows new content is a live record again: it is assigned and can be held and
  disposed anew (its earlier versions stay tombstoned).
* :class:`ProtectionSubscriber` holds stored items that an active legal hold's scope covers and
  protects those in an open records request's scope, in the transaction that stores them.

How a hold's saved query is tested against items that are not yet in the search index: as a
compiled predicate over the documents the index would get (:mod:`archiver.search.predicate`),
not against the index once the items are indexed. The predicate runs inside the storing
transaction, so the hold's link to the item commits with the item: no purge (which takes the
protection lock and reads the links) can ever see the item without it, even an old post captured
today whose disposition date is long past. Testing against the index afterwards would leave a
window between the commit and the indexing in which such an item is unprotected, and closing it
would mean every purge re-testing every recently stored item under the lock. The predicate's
equivalence with both engines is tested (``tests/test_scope_predicate.py``), and a query the
configured engine cannot run covers every item its other filters admit, as before.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import update

from archiver.retention.assign import (
    CaptureAssigner,
    active_schedule,
    assign_items,
    needs_thread_activity,
)
from archiver.retention.holds import active_holds, hold_new_items
from archiver.retention.protection import open_request_scopes, request_new_items
from archiver.search.indexing import build_docs
from archiver.search.predicate import DocView
from archiver.store.archive import Archive
from archiver.store.models import Item
from archiver.store.writer import Duty, Subscriber, VersionsStored


class RetentionSubscriber(Subscriber):
    """Series, publication time and disposition date for every item stored."""

    duty = Duty.RETENTION

    def __init__(self, tz: ZoneInfo) -> None:
        self.assigner = CaptureAssigner(tz)

    def head_fields(self, event: VersionsStored) -> list[dict[str, object]] | None:
        schedule = self.assigner.schedule(event.session)
        if schedule is None or needs_thread_activity(schedule):
            return None
        return [
            {"disposed_at": None,
             **self.assigner.fields(schedule, event.account, v.kind, published=v.published_at,
                                    captured=v.first_captured_at, removed=v.removed_detected_at)}
            for v in event.versions
        ]

    def versions_stored(self, event: VersionsStored, *, head_fields_written: bool) -> None:
        if head_fields_written:
            return
        session, ids = event.session, event.item_ids
        session.execute(update(Item).where(Item.id.in_(ids), Item.disposed_at.is_not(None))
                        .values(disposed_at=None))
        assign_items(session, active_schedule(session), self.assigner.tz, ids)


class ProtectionSubscriber(Subscriber):
    """Holds and records-request protection for every item stored that a scope covers.

    Called after :class:`RetentionSubscriber`, so an item destroyed earlier is already live
    again and is tested like any other.
    """

    duty = Duty.PROTECTION

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def versions_stored(self, event: VersionsStored, *, head_fields_written: bool) -> None:
        session = event.session
        holds = active_holds(session)
        scopes = open_request_scopes(session)
        if not holds and not scopes:
            return
        engine = self.archive.settings.index_engine
        docs = [DocView(doc, engine) for doc in build_docs(session, event.item_ids)]
        hold_new_items(session, self.archive, holds, docs, engine)
        request_new_items(session, scopes, docs, engine, self.archive.clock())

