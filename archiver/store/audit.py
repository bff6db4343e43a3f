"""The append-only, hash-chained audit log.

Each event's sha256 covers its own fields and the previous event's hash, so deleting or editing
any event breaks the chain from there on; the one-row ``audit_head`` table records the count and
the last hash, so losing the newest events shows too. Every append first updates the head row,
which takes the row lock on PostgreSQL and the write lock on SQLite: two writers can never fork
the chain.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from archiver.store.canonical import hash_with, seal_scheme
from archiver.store.models import AuditEvent, AuditHead

SYSTEM_ACTOR = "archiver"


def event_payload(event: AuditEvent | Row[Any]) -> dict[str, Any]:
    """The fields an event's hash covers, from the model or a row of ``audit_events``."""
    return {
        "id": event.id,
        "occurred_at": event.occurred_at,
        "actor": event.actor,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "details": json.loads(event.details_json),
        "prev_sha256": event.prev_sha256,
    }


def record_event(
    session: Session,
    *,
    action: str,
    occurred_at: datetime,
    actor: str = SYSTEM_ACTOR,
    target_type: str | None = None,
    target_id: str | int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction and return it."""
    # The UPDATE comes first so the lock is taken before the head is read.
    session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(event_count=AuditHead.event_count + 1)
    )
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    session.refresh(head)
    event = AuditEvent(
        occurred_at=occurred_at,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details_json=json.dumps(details or {}, sort_keys=True, ensure_ascii=False, default=str),
        prev_sha256=head.last_sha256,
        sha256="",
    )
    session.add(event)
    session.flush()  # assigns the id, which the hash covers
    event.sha256, event.hash_scheme = seal_scheme(event_payload(event))
    head.last_event_id = event.id
    head.last_sha256 = event.sha256
    session.flush()
    return event


@dataclass(frozen=True)
class AuditProblem:
    """One place where the audit chain does not hold."""

    event_id: int | None
    reason: str


def check_chain(session: Session, batch: int = 5000) -> Iterator[AuditProblem | int]:
    """Walk the chain oldest first; yield each problem, then the number of events checked."""
    prev_hash: str | None = None
    prev_id: int | None = None
    count = 0
    # Core rows on the session's connection: the walk reads every event once and never
    # changes one, so ORM objects would be pure overhead.
    rows = session.connection().execute(
        select(*AuditEvent.__table__.columns).order_by(AuditEvent.id)
        .execution_options(yield_per=batch))
    for event in rows:
        count += 1
        if event.prev_sha256 != prev_hash:
            missing = "" if prev_id is None else f" after event {prev_id}"
            yield AuditProblem(
                event.id, f"chain broken{missing}: an event before it was deleted or altered"
            )
        if hash_with(event_payload(event), event.hash_scheme) != event.sha256:
            yield AuditProblem(event.id, "hash mismatch: the event was altered")
        prev_hash = event.sha256
        prev_id = event.id
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is None:
        yield AuditProblem(None, "audit head row is missing")
    else:
        if head.event_count != count:
            yield AuditProblem(
                head.last_event_id,
                f"head counts {head.event_count} events but {count} are stored: events deleted",
            )
        if head.last_sha256 != prev_hash:
            yield AuditProblem(head.last_event_id, "the newest events were deleted or altered")
    yield count
