"""What keeps an eligible item from disposition: active legal holds and open records requests.

The open-records register (``archiver.exports.requests``) records each request's scope and the
items it covers; while the request is open they must not be destroyed, even when their period
has run (Washington CORE preamble; the same duty follows from KORA once a request is received).
The duty starts when the request arrives, before anyone knows what it covers: an open request
without a scope therefore stops every disposition until it has one.

Adding protection and destroying serialise on one lock (:func:`lock_protection`): a purge
batch takes it before it reads holds and requests and keeps it until its destruction commits,
so a hold or request made meanwhile either comes first and is seen, or waits for the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from archiver.retention.scope import filters_from_json, new_items_in_scope
from archiver.search.predicate import DocView
from archiver.store.audit import record_event
from archiver.store.db import insert_ignore, rows_changed
from archiver.store.models import (
    Item,
    OpenRecordsRequest,
    ProtectionLock,
    RequestItem,
    RequestScope,
)
from archiver.store.vocabulary import RequestStatus

CHUNK = 1000


def lock_protection(session: Session, holder: str, now: datetime) -> None:
    """Take the protection lock until ``session``'s transaction ends.

    An UPDATE of the one row: the row lock on PostgreSQL, the database write lock on SQLite.
    Call it before reading what it protects: on PostgreSQL each later statement sees every
    commit made before the lock was granted, and on SQLite nobody else can commit meanwhile.
    """
    values = {"holder": holder, "taken_at": now}
    taken = rows_changed(session, update(ProtectionLock).where(ProtectionLock.id == 1)
                         .values(**values))
    if not taken:  # the row went missing: put it back, then lock it
        insert_ignore(session, ProtectionLock, [{"id": 1, **values}])
        session.execute(update(ProtectionLock).where(ProtectionLock.id == 1).values(**values))


def requested_clause() -> Any:
    """SQL: the item (``Item.id``) is in the recorded scope of an open records request."""
    return exists().where(RequestItem.item_id == Item.id,
                          RequestItem.request_pk == OpenRecordsRequest.id,
                          OpenRecordsRequest.status == RequestStatus.OPEN)


def unscoped_clause() -> Any:
    """SQL: some open request has no scope yet (it stops every disposition)."""
    scoped = select(RequestScope.id).where(RequestScope.request_pk == OpenRecordsRequest.id)
    return (select(OpenRecordsRequest.id)
            .where(OpenRecordsRequest.status == RequestStatus.OPEN, ~scoped.exists()).exists())


def request_protected_clause() -> Any:
    """SQL: an open records request keeps the item (``Item.id``) from disposition."""
    return or_(requested_clause(), unscoped_clause())


@dataclass(frozen=True)
class Unscoped:
    """An open request registered without a scope."""

    request_id: str
    received_on: date

    @property
    def reason(self) -> str:
        return (f"open records request {self.request_id!r} (received "
                f"{self.received_on.isoformat()}) has no scope: no disposition until it has one "
                f"('archiver requests scope {self.request_id} --query Q' or --all)")


def unscoped_requests(session: Session) -> list[Unscoped]:
    """Open requests without a scope, oldest first."""
    scoped = select(RequestScope.id).where(RequestScope.request_pk == OpenRecordsRequest.id)
    rows = session.execute(select(OpenRecordsRequest.request_id, OpenRecordsRequest.received_on)
                           .where(OpenRecordsRequest.status == RequestStatus.OPEN, ~scoped.exists())
                           .order_by(OpenRecordsRequest.received_on,
                                     OpenRecordsRequest.request_id))
    return [Unscoped(request_id, received_on) for request_id, received_on in rows]


def protected_by_requests(session: Session, item_ids: Iterable[int]) -> set[int]:
    """Which of ``item_ids`` an open records request's scope protects from disposition."""
    ids = list(item_ids)
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        found.update(session.scalars(
            select(RequestItem.item_id)
            .join(OpenRecordsRequest, OpenRecordsRequest.id == RequestItem.request_pk)
            .where(RequestItem.item_id.in_(ids[start:start + CHUNK]),
                   OpenRecordsRequest.status == RequestStatus.OPEN)))
    return found


def link_request_items(session: Session, request_pk: int, item_ids: Sequence[int]) -> None:
    """Record ``item_ids`` as covered by the request (already recorded ones stay as they are)."""
    for start in range(0, len(item_ids), CHUNK):
        insert_ignore(session, RequestItem, [{"request_pk": request_pk, "item_id": i}
                                             for i in item_ids[start:start + CHUNK]])


@dataclass(frozen=True)
class OpenScope:
    """One scope row of an open request, as capture matches new items against it."""

    request_pk: int
    request_id: str
    query: str
    filters_json: str


def open_request_scopes(session: Session) -> list[OpenScope]:
    """Every scope of every open request."""
    rows = session.execute(
        select(RequestScope.request_pk, OpenRecordsRequest.request_id, RequestScope.query,
               RequestScope.filters_json)
        .join(OpenRecordsRequest, OpenRecordsRequest.id == RequestScope.request_pk)
        .where(OpenRecordsRequest.status == RequestStatus.OPEN).order_by(RequestScope.id))
    return [OpenScope(*row) for row in rows]


def request_new_items(session: Session, scopes: Sequence[OpenScope], docs: Sequence[DocView],
                      engine: str, now: datetime) -> set[int]:
    """Protect the just-stored items (``docs``, their index documents) that an open request's
    scope matches, tested with ``engine``'s checks; returns the ids newly protected."""
    matched: dict[tuple[int, str], set[int]] = {}
    for scope in scopes:
        ids, problem = new_items_in_scope(docs, scope.query,
                                          filters_from_json(scope.filters_json), engine)
        if problem is not None:
            record_event(session, action="request.query_unrunnable", occurred_at=now,
                         target_type="open_records_request", target_id=scope.request_id,
                         details={"query": scope.query, "error": problem,
                                  "protected_instead": "every new item its other filters admit"})
        if ids:
            matched.setdefault((scope.request_pk, scope.request_id), set()).update(ids)
    newly: set[int] = set()
    for (request_pk, request_id), ids in matched.items():
        already = set(session.scalars(select(RequestItem.item_id).where(
            RequestItem.request_pk == request_pk, RequestItem.item_id.in_(sorted(ids)))))
        fresh = sorted(ids - already)
        if not fresh:
            continue
        link_request_items(session, request_pk, fresh)
        record_event(session, action="request.items_added", occurred_at=now,
                     target_type="open_records_request", target_id=request_id,
                     details={"item_ids": fresh})
        newly.update(fresh)
    return newly
