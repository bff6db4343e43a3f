"""The chain-of-custody report of a production: who captured each item and when, the hash of
every version, and every audit event that touched the item (its own events and the capture runs
that wrote its versions)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from archiver.exports.cells import SafeCsvWriter
from archiver.exports.selection import ItemView
from archiver.store.models import AuditEvent, CaptureRun

VERSION_FIELDS = (
    "bates", "item_id", "external_id", "account", "seq", "captured_at", "capture_run_id",
    "capture_trigger", "capture_started_at", "capture_status", "status", "sha256",
    "prev_sha256", "record_sha256", "evidence_sha256",
)
EVENT_FIELDS = (
    "bates", "item_id", "event_id", "occurred_at", "actor", "action", "target_type",
    "target_id", "details", "sha256", "prev_sha256",
)


class CustodyWriter:
    """Appends the versions and events of each family to two CSV files."""

    def __init__(self, versions_out: TextIO, events_out: TextIO) -> None:
        # Handles, actors and event details are typed by people: every cell is guarded.
        self.versions = SafeCsvWriter(versions_out)
        self.events = SafeCsvWriter(events_out)
        self.versions.writerow(VERSION_FIELDS)
        self.events.writerow(EVENT_FIELDS)

    def family(self, session: Session, items: Sequence[tuple[str, ItemView]]) -> None:
        """Write the custody rows of one family (``(bates, item)`` pairs)."""
        run_ids = {v.capture_run_id for _, item in items for v in item.versions
                   if v.capture_run_id is not None}
        runs = {r.id: r for r in session.scalars(
            select(CaptureRun).where(CaptureRun.id.in_(run_ids)))} if run_ids else {}
        item_ids = [str(item.item_id) for _, item in items]
        conditions = [and_(AuditEvent.target_type == "item", AuditEvent.target_id.in_(item_ids))]
        if run_ids:
            conditions.append(and_(AuditEvent.target_type == "capture_run",
                                   AuditEvent.target_id.in_([str(r) for r in run_ids])))
        events = list(session.scalars(
            select(AuditEvent).where(or_(*conditions)).order_by(AuditEvent.id)))
        for bates, item in items:
            mine_runs = {str(v.capture_run_id) for v in item.versions}
            for v in item.versions:
                run = runs.get(v.capture_run_id or -1)
                self.versions.writerow([
                    bates, item.item_id, item.external_id, item.account, v.seq,
                    v.captured_at.isoformat(), v.capture_run_id or "",
                    run.trigger if run else "", run.started_at.isoformat() if run else "",
                    run.status if run else "", v.status, v.sha256, v.prev_sha256 or "",
                    v.record_sha256 or "", v.evidence_sha256 or "",
                ])
            for e in events:
                touches = (e.target_type == "item" and e.target_id == str(item.item_id)) or (
                    e.target_type == "capture_run" and e.target_id in mine_runs)
                if touches:
                    self.events.writerow([
                        bates, item.item_id, e.id, e.occurred_at.isoformat(), e.actor, e.action,
                        e.target_type or "", e.target_id or "",
                        json.dumps(json.loads(e.details_json), sort_keys=True,
                                   ensure_ascii=False),
                        e.sha256, e.prev_sha256 or "",
                    ])
