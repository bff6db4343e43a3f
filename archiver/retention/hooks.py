"""The one call capture makes for every item it stores (new, or a new version)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session

from archiver.retention.assign import active_schedule, assign_items
from archiver.retention.holds import active_holds, hold_new_items
from archiver.retention.protection import open_request_scopes, request_new_items
from archiver.search.factory import open_memory_index
from archiver.search.indexing import build_docs
from archiver.store.archive import Archive
from archiver.store.models import Item


def on_items_stored(session: Session, archive: Archive, item_ids: Sequence[int], *,
                    assigned: bool = False) -> None:
    """Give the items their series and disposition date; hold them if a hold matches, and
    protect them if an open records request's scope does.

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
    _protect(session, archive, item_ids)


def _protect(session: Session, archive: Archive, item_ids: Sequence[int]) -> None:
    holds = active_holds(session)
    scopes = open_request_scopes(session)
    if not holds and not scopes:
        return
    # The items are not in the search index yet: the scopes' queries run on a throwaway
    # in-memory index of just these items, of the configured engine.
    index = open_memory_index(archive.settings.index_engine)
    try:
        index.add(build_docs(session, list(item_ids)))
        hold_new_items(session, archive, holds, index)
        request_new_items(session, scopes, index, archive.clock())
    finally:
        index.close()
