"""Reading the audit log: events newest first, filtered by action, actor, target and time, a
page at a time (the records desk's audit page and its ``/api/`` twin)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from archiver.store.archive import Archive
from archiver.store.models import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    """Which events to show; every field left None matches everything.

    ``action`` matches that action and the actions under it (``retention.purge`` also matches
    ``retention.purge.start``); ``since`` and ``until`` are inclusive."""

    action: str | None = None
    actor: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.action:
            out.append(or_(AuditEvent.action == self.action,
                           AuditEvent.action.startswith(self.action + ".", autoescape=True)))
        if self.actor:
            out.append(AuditEvent.actor == self.actor)
        if self.target_type:
            out.append(AuditEvent.target_type == self.target_type)
        if self.target_id:
            out.append(AuditEvent.target_id == self.target_id)
        if self.since is not None:
            out.append(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            out.append(AuditEvent.occurred_at <= self.until)
        return out


@dataclass(frozen=True)
class AuditEntry:
    event_id: int
    occurred_at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    sha256: str

    @property
    def detail_pairs(self) -> list[tuple[str, str]]:
        """The details as (key, text) by key: text as is, anything else as JSON."""
        return [(k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                for k, v in sorted(self.details.items())]

    def as_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "occurred_at": self.occurred_at.isoformat(),
                "actor": self.actor, "action": self.action, "target_type": self.target_type,
                "target_id": self.target_id, "details": self.details, "sha256": self.sha256}


@dataclass(frozen=True)
class AuditPage:
    total: int  # events matching the filter
    offset: int
    limit: int
    entries: list[AuditEntry] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "offset": self.offset, "limit": self.limit,
                "events": [e.as_json() for e in self.entries]}


def audit_events(archive: Archive, filters: AuditFilter = AuditFilter(), *, limit: int = 50,
                 offset: int = 0) -> AuditPage:
    """One page of the events ``filters`` matches, newest first."""
    limit = max(1, min(limit, 1000))
    offset = max(0, offset)
    where = filters.conditions()
    with archive.sessions() as s:
        total = s.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
        rows = s.scalars(select(AuditEvent).where(*where).order_by(AuditEvent.id.desc())
                         .limit(limit).offset(offset))
        entries = [AuditEntry(event_id=e.id, occurred_at=e.occurred_at, actor=e.actor,
                              action=e.action, target_type=e.target_type,
                              target_id=e.target_id, details=json.loads(e.details_json),
                              sha256=e.sha256) for e in rows]
    return AuditPage(total=total, offset=offset, limit=limit, entries=entries)


def audit_actions(archive: Archive) -> list[str]:
    """Every action the log holds and the families they belong to (``user`` for
    ``user.add``), sorted: the choices of the action filter."""
    with archive.sessions() as s:
        actions = set(s.scalars(select(AuditEvent.action).distinct()))
    families = {a.rsplit(".", n)[0] for a in actions for n in range(1, a.count(".") + 1)}
    return sorted(actions | families)
