"""What keeps an eligible item from disposition: active legal holds and open records requests.

The open-records register (``archiver.exports.requests``) records the items each request's
exports covered; while the request is open they must not be destroyed, even when their period
has run (Washington CORE preamble; the same duty follows from KORA once a request is received).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from archiver.models import Item, OpenRecordsRequest, RequestItem

OPEN = "open"  # archiver.exports.requests.OPEN
CHUNK = 1000


def requested_clause() -> Any:
    """SQL: the item (``Item.id``) is in the scope of an open records request."""
    return exists().where(RequestItem.item_id == Item.id,
                          RequestItem.request_pk == OpenRecordsRequest.id,
                          OpenRecordsRequest.status == OPEN)


def protected_by_requests(session: Session, item_ids: Iterable[int]) -> set[int]:
    """Which of ``item_ids`` an open records request protects from disposition."""
    ids = list(item_ids)
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        found.update(session.scalars(
            select(RequestItem.item_id)
            .join(OpenRecordsRequest, OpenRecordsRequest.id == RequestItem.request_pk)
            .where(RequestItem.item_id.in_(ids[start:start + CHUNK]),
                   OpenRecordsRequest.status == OPEN)))
    return found
