"""Database engine, sessions and schema migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CursorResult, Engine, Executable, Table, create_engine, event
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from archiver.errors import ConfigError


def make_engine(db_url: str) -> Engine:
    """An engine for ``db_url``. SQLite gets WAL, foreign keys and a generous busy timeout."""
    url = db_url
    if url.startswith(("postgresql://", "postgres://")):
        # psycopg 3 is the driver we ship; name it so SQLAlchemy does not look for psycopg2.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session


def migrations_dir() -> Path:
    """The Alembic scripts: the ``migrations`` folder, installed as ``archiver.migrations``."""
    # Looked up as a resource: importing it would import env.py's own imports of this package.
    return Path(str(resources.files("archiver.migrations"))).resolve()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["engine"] = engine
    return cfg


def check_connection(engine: Engine) -> None:
    """Raise a one-line ConfigError when the database cannot be reached."""
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc)
        raise ConfigError(f"ARCHIVER_DB_URL: cannot connect to the database: {reason}") from None


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration (idempotent)."""
    check_connection(engine)
    command.upgrade(alembic_config(engine), "head")


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
    except OperationalError:
        return False
    return set(current) == set(script.get_heads())


def table_of(model: type) -> Table:
    """The Core table of a mapped class, for set-based statements (typed: ``__table__`` is not)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]  # set by the declarative base


def rows_changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and say how many rows it touched."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def insert_ignore(session: Session, model: type, rows: list[dict[str, object]]) -> None:
    """INSERT rows, skipping any whose primary key or unique key already exists.

    Several captures may store the same content-addressed blob at once; the database settles it.
    """
    if not rows:
        return
    session.execute(dialect_insert(session, model).on_conflict_do_nothing(), rows)


def dialect_insert(session: Session, model: type) -> Any:
    """An INSERT into ``model``'s table in the session's dialect, which knows ``ON CONFLICT``
    (PostgreSQL and SQLite alike): ``.on_conflict_do_nothing()``, ``.on_conflict_do_update()``."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table_of(model))
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table_of(model))
