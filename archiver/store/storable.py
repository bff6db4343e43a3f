"""What of a record the archive can store, and a safe one-line reason when it cannot.

A platform may send anything valid JSON allows: a comment cut in the middle of an emoji holds a
lone surrogate (``"\\ud83d"``), a NUL, an absurdly long author id. None of that may cost the
capture of the other items. So before a record is stored:

* its display fields (text, author, URL, media URLs, platform status) become *safe text*
  (:func:`archiver.store.canonical.safe_text`: lone surrogates and NUL replaced by U+FFFD, cut to
  the
  width of a bounded column). The record blob keeps the exact value (canonical JSON escapes
  lone surrogates), and a webhook's body blob keeps the very bytes received.
* its identity (external id, scope, parent) must fit as it is: an id cannot be altered without
  confusing two items, so such a record is refused with :class:`UnstorableRecord` and capture
  records the failure and stores the others.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError

from archiver.connectors.base import one_line
from archiver.connectors.records import MediaRef, Record
from archiver.errors import ArchiverError
from archiver.store.canonical import is_safe_text, safe_text
from archiver.store.models import Item, ItemVersion

# The identity columns a record's ids go into, and the bounded display columns.
_ID_FIELDS = ("external_id", "scope", "parent_external_id")
_DISPLAY_FIELDS = ("text", "author_name", "author_id", "url", "platform_status")


def _width(column: Any) -> int | None:
    return getattr(column.type, "length", None)


ID_WIDTH = min(w for w in (_width(Item.__table__.c[n]) for n in _ID_FIELDS) if w)
_DISPLAY_WIDTH = {n: _width(ItemVersion.__table__.c[n]) for n in _DISPLAY_FIELDS}


class UnstorableRecord(ArchiverError):
    """A record the archive cannot store as it is; the message is the one-line reason."""


def storable_record(record: Record) -> tuple[Record, bool]:
    """``record`` ready to store, and whether any display field had to be made safe.

    Raises :class:`UnstorableRecord` when its identity or its timestamps cannot be stored.
    """
    for name in _ID_FIELDS:
        value = getattr(record, name)
        if value is None:
            continue
        label = name.replace("_", " ")
        if not isinstance(value, str):
            raise UnstorableRecord(f"{label} is not text")
        if len(value) > ID_WIDTH:
            raise UnstorableRecord(f"{label} is {len(value)} characters long, more than {ID_WIDTH}")
        if not is_safe_text(value):
            raise UnstorableRecord(f"{label} holds a lone surrogate or NUL character")
    for name in ("created_at", "updated_at"):
        moment = getattr(record, name)
        if moment is not None and (not isinstance(moment, datetime) or moment.tzinfo is None):
            raise UnstorableRecord(f"{name.replace('_', ' ')} is not a time with a time zone")
    changes: dict[str, Any] = {}
    for name in _DISPLAY_FIELDS:
        value = getattr(record, name)
        if value is not None:
            safe = _safe(value, _DISPLAY_WIDTH[name])
            if safe != value:
                changes[name] = safe
    media = tuple(MediaRef(_safe(m.url, None), m.media_type and _safe(m.media_type, None))
                  for m in record.media)
    if media != record.media:
        changes["media"] = media
    if not changes:
        return record, False
    return replace(record, **changes), True


def _safe(value: str, width: int | None) -> str:
    safe = safe_text(value)
    if width is not None and len(safe) > width:
        safe = safe[: width - 1] + "\u2026"
    return safe


def error_reason(exc: BaseException, limit: int = 200) -> str:
    """An unexpected error as one storable line: its type and the first line of its message.

    A database error gives its driver's message only: SQLAlchemy's own text carries the statement
    and its parameters, that is visitor text, into logs and the run's record.
    """
    cause: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        cause = exc.orig
    lines = str(cause).strip().splitlines()
    detail = one_line(lines[0], limit) if lines else ""
    return safe_text(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)
