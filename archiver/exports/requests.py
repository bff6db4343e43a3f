"""The open-records request register (KORA, K.S.A. 45-218(d)).

A request is open until a custodian closes it. Its scope is given when it is registered (the
same options as a hold: ``--query --account --since --until``, or ``--all``), or later with
``requests scope``; the queries its exports use are added to it. While it is open, every item a
scope matched (when the scope was given, and whatever capture stores later) and every item its
exports covered is protected from disposition, and a request with no scope yet stops every
disposition (:mod:`archiver.retention.protection`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiver.errors import ArchiverError, NotFound
from archiver.exports.business_days import KORA_BUSINESS_DAYS, HolidayCalendar
from archiver.exports.selection import Scope
from archiver.retention.protection import link_request_items, lock_protection
from archiver.retention.scope import (
    ProtectionScope,
    describe_filters_json,
    filters_from_json,
    live_ids,
    matching_ids,
)
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit, ids_within
from archiver.store.models import OpenRecordsRequest, RequestItem, RequestScope

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
    protected_items: int = 0

    @property
    def blocks_disposition(self) -> bool:
        """Open and without a scope: nothing may be disposed of until it has one."""
        return self.status == OPEN and not self.scope

    def as_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id, "received_on": self.received_on.isoformat(),
            "due_on": self.due_on.isoformat(), "status": self.status,
            "requester": self.requester, "description": self.description,
            "business_days_left": self.business_days_left, "overdue": self.overdue,
            "scope": self.scope, "protected_items": self.protected_items,
            "blocks_disposition": self.blocks_disposition,
        }


def due_date(received_on: date, calendar: HolidayCalendar) -> date:
    """The end of the third business day following the day the request was received."""
    return calendar.add_business_days(received_on, KORA_BUSINESS_DAYS)


def add_request(
    archive: Archive, request_id: str, *, received_on: date, calendar: HolidayCalendar,
    actor: str, requester: str | None = None, description: str | None = None,
    scope: ProtectionScope | None = None,
) -> RequestView:
    """Register a request; its due date is computed from ``calendar``.

    With ``scope`` every item it matches is protected from now on; without one the request stops
    every disposition until :func:`add_request_scope` gives it one.
    """
    request_id = request_id.strip()
    if not request_id or len(request_id) > MAX_ID or any(ord(c) < 32 for c in request_id):
        raise ArchiverError("a request id must be 1-255 printable characters")
    if scope is not None:
        scope.check("a records request")
    item_ids = _scope_candidates(archive, scope)
    now = archive.clock()
    row = OpenRecordsRequest(
        request_id=request_id, received_on=received_on,
        due_on=due_date(received_on, calendar), requester=requester, description=description,
        status=OPEN, created_at=now, created_by=actor,
    )
    try:
        with archive.transaction() as s:
            # Even without a scope the new request changes what a purge may destroy.
            lock_protection(s, f"request.add {request_id}", now)
            s.add(row)
            s.flush()
            if scope is not None:
                _add_scope(s, row, scope, item_ids, actor, now)
            record_event(
                s, action="request.add", occurred_at=now, actor=actor,
                target_type="open_records_request", target_id=request_id,
                details={"received_on": received_on.isoformat(), "due_on": row.due_on.isoformat(),
                         "requester": requester, "description": description,
                         "scope": scope.describe() if scope else None},
            )
    except IntegrityError:
        raise ArchiverError(f"request {request_id!r} is already registered") from None
    return _one_view(archive, request_id, calendar)


def add_request_scope(archive: Archive, request_id: str, scope: ProtectionScope, *,
                      calendar: HolidayCalendar, actor: str) -> RequestView:
    """Add a scope to an open request: what it matches is protected from now on."""
    scope.check("a records request")
    with archive.sessions() as s:
        if get_request(s, request_id).status != OPEN:
            raise ArchiverError(f"request {request_id!r} is closed: it protects nothing")
    item_ids = _scope_candidates(archive, scope)
    now = archive.clock()
    with archive.transaction() as s:
        lock_protection(s, f"request.scope {request_id}", now)
        row = get_request(s, request_id)
        if row.status != OPEN:
            raise ArchiverError(f"request {request_id!r} is closed: it protects nothing")
        _add_scope(s, row, scope, item_ids, actor, now)
    return _one_view(archive, request_id, calendar)


def _scope_candidates(archive: Archive, scope: ProtectionScope | None) -> list[int]:
    return [] if scope is None else matching_ids(archive, scope.search_query(), scope.filters())


def _add_scope(session: Session, request: OpenRecordsRequest, scope: ProtectionScope,
               item_ids: list[int], actor: str, now: datetime) -> None:
    """Record ``scope`` and protect the items it matched that still exist (under the lock).

    The audit event comes last: the audit head is locked after the items, as capture does.
    """
    session.add(RequestScope(request_pk=request.id, query=scope.search_query(),
                             filters_json=scope.filters_json(), added_at=now))
    live = live_ids(session, item_ids)
    link_request_items(session, request.id, live)
    record_event(session, action="request.scope", occurred_at=now, actor=actor,
                 target_type="open_records_request", target_id=request.request_id,
                 details={"scope": scope.describe(), "query": scope.search_query(),
                          "filters": json.loads(scope.filters_json()), "items": len(live)})


def _one_view(archive: Archive, request_id: str, calendar: HolidayCalendar) -> RequestView:
    today = archive.clock().astimezone(archive.settings.tz).date()
    with archive.sessions() as s:
        row = get_request(s, request_id)
        return _views(s, [row], today, calendar)[0]


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
        views = _views(s, list(s.scalars(query)), today, calendar)
    return sorted(views, key=lambda v: (v.status != OPEN, not v.overdue, v.due_on, v.request_id))


def _views(s: Session, rows: list[OpenRecordsRequest], today: date,
           calendar: HolidayCalendar) -> list[RequestView]:
    pks = [r.id for r in rows]
    scopes: dict[int, list[dict[str, Any]]] = {}
    for scope in s.scalars(select(RequestScope).where(RequestScope.request_pk.in_(pks))
                           .order_by(RequestScope.id)):
        scopes.setdefault(scope.request_pk, []).append(
            {"query": scope.query, "filters": json.loads(scope.filters_json),
             "describe": describe_filters_json(scope.query, scope.filters_json)})
    counts = dict(s.execute(select(RequestItem.request_pk, func.count())
                            .where(RequestItem.request_pk.in_(pks))
                            .group_by(RequestItem.request_pk)).all())
    return [_view(r, scopes.get(r.id, []), today, calendar, counts.get(r.id, 0)) for r in rows]


def get_request_view(archive: Archive, request_id: str, calendar: HolidayCalendar) -> RequestView:
    """One request as listed (open or closed), or NotFound."""
    return _one_view(archive, request_id, calendar)


def package_scope(archive: Archive, request_id: str,
                  within: AccountLimit = EVERY_ACCOUNT) -> Scope:
    """What a package for the request covers: every query of its recorded scope with its
    filters, only items of the accounts ``within`` allows. One query stays a query (the
    package records it); several become the items they match together."""
    with archive.sessions() as s:
        row = get_request(s, request_id)
        pairs = list(dict.fromkeys((query, filters) for query, filters in s.execute(
            select(RequestScope.query, RequestScope.filters_json)
            .where(RequestScope.request_pk == row.id).order_by(RequestScope.id))))
    if not pairs:
        raise ArchiverError(f"request {request_id!r} has no scope yet: give it one before "
                            "building its package")
    if len(pairs) == 1:
        query, filters = pairs[0]
        return Scope(query=query, filters=filters_from_json(filters), within=within)
    found: set[int] = set()
    for query, filters in pairs:
        found.update(matching_ids(archive, query, filters_from_json(filters)))
    with archive.sessions() as s:
        allowed = ids_within(s, sorted(found), within)
    if not allowed:
        raise ArchiverError("nothing matched the request's scope: refusing to write an empty "
                            "package")
    return Scope(item_ids=tuple(allowed), within=within)


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
    """Remember the query and the items an export for ``request`` covered (in the caller's
    transaction, which this makes wait for any purge batch running)."""
    lock_protection(session, f"export for request {request.request_id}", now)
    if query is not None:
        session.add(RequestScope(request_pk=request.id, query=query,
                                 filters_json=json.dumps(filters, sort_keys=True), added_at=now))
    link_request_items(session, request.id, list(item_ids))


def protected_item_ids(session: Session) -> set[int]:
    """Items in the recorded scope of any open request: never to be disposed of while open."""
    return set(session.scalars(
        select(RequestItem.item_id).join(
            OpenRecordsRequest, OpenRecordsRequest.id == RequestItem.request_pk
        ).where(OpenRecordsRequest.status == OPEN)
    ))


def _view(row: OpenRecordsRequest, scope: list[dict[str, Any]], today: date,
          calendar: HolidayCalendar, protected_items: int = 0) -> RequestView:
    left = calendar.business_days_between(today, row.due_on)
    return RequestView(
        request_id=row.request_id, received_on=row.received_on, due_on=row.due_on,
        status=row.status, requester=row.requester, description=row.description,
        business_days_left=left, overdue=row.status == OPEN and today > row.due_on,
        scope=scope, protected_items=protected_items,
    )
