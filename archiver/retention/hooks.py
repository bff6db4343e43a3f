"""The one call capture makes for every item it stores (new, or a new version)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session

from archiver.archive import Archive
from archiver.models import Item
from archiver.retention.assign import active_schedule, assign_items
from archiver.retention.holds import hold_new_items


def on_items_stored(session: Session, archive: Archive, item_ids: Sequence[int], *,
                    assigned: bool = False) -> None:
    """Give the items their series and disposition date, and hold them if a hold matches.

    An item destroyed earlier that shows new content is a live record again: it is assigned
    and can be held and disposed anew (its earlier versions stay tombstoned). ``assigned`` says
    the caller already wrote series, dates and ``disposed_at`` with its own rows (capture's hot
    path, through :class:`~archiver.retention.assign.CaptureAssigner`); holds still apply.
    """
    if not item_ids:
        return
    session.flush()
    if not assigned:
        session.execute(update(Item).where(Item.id.in_(list(item_ids)),
                                           Item.disposed_at.is_not(None))
                        .values(disposed_at=None))
        assign_items(session, active_schedule(session), archive.settings.tz, item_ids)
    hold_new_items(session, archive, item_ids)
