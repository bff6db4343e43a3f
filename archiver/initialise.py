"""``archiver init``: prepare the database, the blob store and the search index (idempotent)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from archiver import db
from archiver.blobstore import open_blob_store
from archiver.config import Settings


def initialise(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Create or upgrade everything the archive needs; safe to run again at any time."""
    engine = db.make_engine(settings.db_url)
    try:
        db.upgrade(engine)
    finally:
        engine.dispose()
    store = open_blob_store(settings)
    store.check()
    from archiver.search_index import open_index

    open_index(settings.index_dir).close()
    return {
        "database": "ready (schema up to date)",
        "blob store": store.url,
        "index": str(settings.index_dir),
        "retention": _load_schedule(settings, environ),
    }


def _load_schedule(settings: Settings, environ: Mapping[str, str] | None) -> str:
    """Load the configured retention schedule (see archiver.retention.loading)."""
    from archiver.archive import open_archive
    from archiver.retention.loading import load_configured_schedule

    with open_archive(settings) as archive:
        return load_configured_schedule(archive, os.environ if environ is None else environ)
