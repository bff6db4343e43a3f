"""Alembic environment: runs on the engine ``archiver.store.db`` hands over, never on a URL in a
file."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

# Imported for its tables: the monitoring tables are on Base in a module of their own.
import archiver.store.monitoring  # noqa: F401
from archiver.store.db import make_engine
from archiver.store.models import Base

# Tables other libraries own in our database (APScheduler's job store): not ours to migrate.
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Alembic filter: leave tables created by other libraries alone."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


def run_migrations() -> None:
    """Run the migrations Alembic asked for, on the engine it was handed (or the settings' URL)."""
    engine = context.config.attributes.get("engine")
    if engine is None:  # run by the alembic CLI: take the URL from the archiver's settings
        from archiver.config import load_settings

        engine = make_engine(load_settings().db_url)

    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw: Any = connection.connection.dbapi_connection
        saved = raw.isolation_level if sqlite else None
        if sqlite:
            # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE, so DDL
            # would commit statement by statement and a failed migration would leave half a
            # schema: its own handling is switched off and the migration says BEGIN itself.
            raw.isolation_level = None
            # SQLite changes a column by rebuilding its table (copy, drop, rename), and dropping
            # a table other rows point at fails while foreign keys are enforced. The switch
            # works only outside a transaction; the check below keeps what it protected.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                if sqlite:
                    connection.exec_driver_sql("BEGIN")
                context.configure(
                    connection=connection,
                    target_metadata=Base.metadata,
                    render_as_batch=sqlite,
                    compare_type=True,
                    include_object=include_object,
                )
                context.run_migrations()
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
                raw.isolation_level = saved


def _check_foreign_keys(connection: Connection) -> None:
    """Refuse (rolling the migration back) if any row points at nothing."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise RuntimeError(f"the migration left {len(broken)} rows pointing at nothing "
                           f"(first: {table} row {rowid} -> {parent})")


# Imported outside Alembic (tests use ``include_object``) there is nothing to run.
if hasattr(context, "config"):
    run_migrations()
