"""The open-records request register (KORA, K.S.A. 45-218(d)).

A request is open until a custodian closes it. Its scope (the queries its exports used, and the
items they covered) is recorded; while it is open those items are protected from disposition:
retention asks :func:`protected_item_ids`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiver.archive import Archive
from archiver.audit import record_event
from archiver.db import insert_ignore
from archiver.errors import ArchiverError, NotFound
from archiver.exports.business_days import KORA_BUSINESS_DAYS, HolidayCalendar
from archiver.models import OpenRecordsRequest, RequestItem, RequestScope

OPEN = "open"
CLOSED = "closed"
MAX_ID = 255


@dataclass(frozen=True)
class RequestView:
    """A request as listed: its deadline in business days relative to ``today``."""

    request_id: str
    received_on: date
    due_on: date
    status: str
    requester: str | None
    description: str | None
    business_days_left: int
    overdue: bool
    scope: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id, "received_on": self.received_on.isoformat(),
            "due_on": self.due_on.isoformat(), "status": self.status,
            "requester": self.requester, "description": self.description,
            "business_days_left": self.business_days_left, "overdue": self.overdue,
            "scope": self.scope,
        }


def due_date(received_on: date, calendar: HolidayCalendar) -> date:
    """The end of the third business day following the day the request was received."""
    return calendar.add_business_days(received_on, KORA_BUSINESS_DAYS)


def add_request(
    archive: Archive, request_id: str, *, received_on: date, calendar: HolidayCalendar,
    actor: str, requester: str | None = None, description: str | None = None,
) -> RequestView:
    """Register a request; its due date is computed from ``calendar``."""
    request_id = request_id.strip()
    if not request_id or len(request_id) > MAX_ID or any(ord(c) < 32 for c in request_id):
        raise ArchiverError("a request id must be 1-255 printable characters")
    now = archive.clock()
    row = OpenRecordsRequest(
        request_id=request_id, received_on=received_on,
        due_on=due_date(received_on, calendar), requester=requester, description=description,
        status=OPEN, created_at=now, created_by=actor,
    )
    try:
        with archive.transaction() as s:
            s.add(row)
            s.flush()
            record_event(
                s, action="request.add", occurred_at=now, actor=actor,
                target_type="open_records_request", target_id=request_id,
                details={"received_on": received_on.isoformat(), "due_on": row.due_on.isoformat(),
                         "requester": requester, "description": description},
            )
    except IntegrityError:
        raise ArchiverError(f"request {request_id!r} is already registered") from None
    return _view(row, [], archive.clock().astimezone(archive.settings.tz).date(), calendar)


def get_request(session: Session, request_id: str) -> OpenRecordsRequest:
    """The request row, or NotFound."""
    row = session.scalar(
        select(OpenRecordsRequest).where(OpenRecordsRequest.request_id == request_id)
    )
    if row is None:
        raise NotFound(f"no open-records request {request_id!r} (add it with 'requests add')")
    return row


def list_requests(
    archive: Archive, calendar: HolidayCalendar, *, include_closed: bool = False,
    today: date | None = None,
) -> list[RequestView]:
    """Open requests (all with ``include_closed``), overdue first, then by due date."""
    today = today or archive.clock().astimezone(archive.settings.tz).date()
    with archive.sessions() as s:
        query = select(OpenRecordsRequest)
        if not include_closed:
            query = query.where(OpenRecordsRequest.status == OPEN)
        rows = list(s.scalars(query))
        scopes: dict[int, list[dict[str, Any]]] = {}
        for scope in s.scalars(select(RequestScope).order_by(RequestScope.id)):
            scopes.setdefault(scope.request_pk, []).append(
                {"query": scope.query, "filters": json.loads(scope.filters_json)}
            )
        views = [_view(r, scopes.get(r.id, []), today, calendar) for r in rows]
    return sorted(views, key=lambda v: (v.status != OPEN, not v.overdue, v.due_on, v.request_id))


def close_request(archive: Archive, request_id: str, *, actor: str) -> None:
    """Close a request: its items are no longer protected by it."""
    now = archive.clock()
    with archive.transaction() as s:
        row = get_request(s, request_id)
        if row.status == CLOSED:
            raise ArchiverError(f"request {request_id!r} is already closed")
        row.status = CLOSED
        row.closed_at = now
        row.closed_by = actor
        record_event(s, action="request.close", occurred_at=now, actor=actor,
                     target_type="open_records_request", target_id=request_id)


def record_scope(
    session: Session, request: OpenRecordsRequest, *, query: str | None,
    filters: dict[str, Any], item_ids: Iterable[int], now: datetime,
) -> None:
    """Remember the query and the items an export for ``request`` covered."""
    if query is not None:
        session.add(RequestScope(request_pk=request.id, query=query,
                                 filters_json=json.dumps(filters, sort_keys=True), added_at=now))
    batch: list[dict[str, object]] = []
    for item_id in item_ids:
        batch.append({"request_pk": request.id, "item_id": item_id})
        if len(batch) >= 1000:
            insert_ignore(session, RequestItem, batch)
            batch = []
    if batch:
        insert_ignore(session, RequestItem, batch)


def protected_item_ids(session: Session) -> set[int]:
    """Items in the recorded scope of any open request: never to be disposed of while open."""
    return set(session.scalars(
        select(RequestItem.item_id).join(
            OpenRecordsRequest, OpenRecordsRequest.id == RequestItem.request_pk
        ).where(OpenRecordsRequest.status == OPEN)
    ))


def _view(row: OpenRecordsRequest, scope: list[dict[str, Any]], today: date,
          calendar: HolidayCalendar) -> RequestView:
    left = calendar.business_days_between(today, row.due_on)
    return RequestView(
        request_id=row.request_id, received_on=row.received_on, due_on=row.due_on,
        status=row.status, requester=row.requester, description=row.description,
        business_days_left=left, overdue=row.status == OPEN and today > row.due_on,
        scope=scope,
    )
