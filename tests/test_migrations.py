"""The models and the migrations agree, and ``init`` can run any number of times."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from archiver.config import Settings
from archiver.initialise import initialise
from archiver.migrations.env import include_object
from archiver.store import db
from archiver.store.models import Base


def test_autogenerate_finds_no_difference(settings: Settings) -> None:
    initialise(settings)
    engine = db.make_engine(settings.db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                            "include_object": include_object})
            diff = compare_metadata(context, Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        engine.dispose()


def test_init_is_idempotent(settings: Settings) -> None:
    first = initialise(settings)
    second = initialise(settings)
    assert first == second
    engine = db.make_engine(settings.db_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"accounts", "items", "item_versions", "blobs", "capture_runs",
                "audit_events", "audit_head"} <= tables
        assert db.schema_is_current(engine)
    finally:
        engine.dispose()
