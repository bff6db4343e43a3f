"""Alembic environment: runs on the engine ``archiver.store.db`` hands over, never on a URL in a
file."""

from __future__ import annotations

from alembic import context

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

    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        context.run_migrations()


# Imported outside Alembic (tests use ``include_object``) there is nothing to run.
if hasattr(context, "config"):
    run_migrations()
