"""``archiver init``: prepare the database, the blob store and the search index (idempotent)."""

from __future__ import annotations

from archiver import db
from archiver.blobstore import open_blob_store
from archiver.config import Settings


def initialise(settings: Settings) -> dict[str, str]:
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
    }
