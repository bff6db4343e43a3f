"""``archiver init``: prepare the database, the blob store and the search index (idempotent)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from archiver.blobs.factory import open_blob_store
from archiver.config import Settings
from archiver.store import db

if TYPE_CHECKING:
    from archiver.search.indexing import CatchUp


def initialise(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Create or upgrade everything the archive needs; safe to run again at any time."""
    engine = db.make_engine(settings.db_url)
    try:
        db.upgrade(engine)
    finally:
        engine.dispose()
    store = open_blob_store(settings)
    store.check()
    upgraded = store.upgrade()
    _check_saved_queries(settings)
    from archiver.search.factory import open_index

    with open_index(settings.index_dir, engine=settings.index_engine) as index:
        empty = index.count() == 0
    retention = _load_schedule(settings, environ)
    index_note = f"{settings.index_dir} ({settings.index_engine})"
    done = _catch_up(settings)
    if empty and done.indexed:
        index_note += f", rebuilt from the database: {done.indexed} items"
    elif done.indexed or done.removed:
        index_note += (f", brought up to date with the database: {done.indexed} items indexed, "
                       f"{done.removed} taken out")
    return {
        "database": "ready (schema up to date)",
        "blob store": store.url + "".join(
            f", {n} {what.replace('_', ' ')}" for what, n in upgraded.items() if n),
        "index": index_note,
        "retention": retention,
    }


def _catch_up(settings: Settings) -> CatchUp:
    """Compare the index with the database item by item and repair what differs: the engine was
    switched, the index folder lost or restored, or a capture died before indexing."""
    from archiver.search.indexing import catch_up_index
    from archiver.store.archive import open_archive

    with open_archive(settings) as archive:
        return catch_up_index(archive, compare=True)


def _load_schedule(settings: Settings, environ: Mapping[str, str] | None) -> str:
    """Load the configured retention schedule (see archiver.retention.loading)."""
    from archiver.retention.loading import load_configured_schedule
    from archiver.store.archive import open_archive

    with open_archive(settings) as archive:
        return load_configured_schedule(archive, os.environ if environ is None else environ)


def _check_saved_queries(settings: Settings) -> None:
    """Refuse an index engine that cannot run a saved query: every later capture would fail
    when it matches new items against an active hold, and a request's scope could not be
    searched. Raises ConfigError naming each query and why."""
    from sqlalchemy import select

    from archiver.errors import ConfigError, QueryError
    from archiver.search.factory import check_query
    from archiver.store.archive import open_archive
    from archiver.store.models import Hold, OpenRecordsRequest, RequestScope
    from archiver.store.vocabulary import RequestStatus

    with open_archive(settings) as archive, archive.sessions() as s:
        saved = [(f"hold {name!r}", query) for name, query in s.execute(
            select(Hold.name, Hold.query).where(Hold.released_at.is_(None)).order_by(Hold.id))
            if query is not None]
        saved += [(f"request {request_id!r}", query) for request_id, query in s.execute(
            select(OpenRecordsRequest.request_id, RequestScope.query)
            .join(RequestScope, RequestScope.request_pk == OpenRecordsRequest.id)
            .where(OpenRecordsRequest.status == RequestStatus.OPEN).order_by(RequestScope.id))]
    refused = []
    for owner, query in saved:
        try:
            check_query(query, settings.index_engine)
        except QueryError as exc:
            refused.append(f"{owner}: {exc}")
    if refused:
        raise ConfigError(
            f"the {settings.index_engine} search index (ARCHIVER_INDEX_ENGINE) cannot run "
            f"{len(refused)} saved quer{'y' if len(refused) == 1 else 'ies'}; change or release "
            f"them first, or keep the other engine: " + "; ".join(refused))
