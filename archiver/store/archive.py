"""The open archive: settings, database, blob store and search index, handed to every operation.

This is the one place the edges are wired together; the operations (capture, search, verify,
exports) take an :class:`Archive` and never read the environment or the clock themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from archiver.blobs.factory import open_blob_store
from archiver.blobs.interface import BlobStore
from archiver.config import Settings
from archiver.errors import ConfigError
from archiver.store import db

if TYPE_CHECKING:
    from archiver.search.interface import SearchIndex


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Archive:
    """Everything an operation needs. Build it with :func:`open_archive`; close it when done."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: BlobStore
    clock: Callable[[], datetime] = utc_now
    _index: SearchIndex | None = field(default=None, repr=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session committed on success, rolled back on error."""
        with db.transaction(self.sessions) as session:
            yield session

    @property
    def index(self) -> SearchIndex:
        """The search index, opened on first use (most commands never need it)."""
        if self._index is None:
            from archiver.search.factory import open_index

            self._index = open_index(self.settings.index_dir, engine=self.settings.index_engine)
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
        self.engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_archive(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    require_schema: bool = True,
) -> Archive:
    """Connect to the database and the blob store described by ``settings``.

    With ``require_schema`` a database that ``archiver init`` has not prepared is an error, so a
    typo in ARCHIVER_DB_URL never silently starts an empty archive.
    """
    engine = db.make_engine(settings.db_url)
    db.check_connection(engine)
    if require_schema and not db.schema_is_current(engine):
        engine.dispose()
        raise ConfigError(
            "the database is not initialised or not up to date: run 'archiver init' "
            f"(ARCHIVER_DB_URL={_safe_url(settings.db_url)})"
        )
    store = open_blob_store(settings)
    return Archive(
        settings=settings,
        engine=engine,
        sessions=db.session_factory(engine),
        store=store,
        clock=clock,
    )


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]
