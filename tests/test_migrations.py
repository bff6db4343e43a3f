"""The models and the migrations agree, and ``init`` can run any number of times."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from archiver.config import Settings
from archiver.initialise import initialise
from archiver.migrations.env import include_object
from archiver.store import db
from archiver.store.models import Base, ItemVersion, MediaFile, VersionMedia
from archiver.verify import verify_archive
from tests.support.retention import Captured, captured  # noqa: F401 - fixture


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


def test_an_archive_with_data_upgrades_across_table_rebuilds(
        captured: Captured) -> None:  # noqa: F811
    """On SQLite a migration that renames or constrains a column rebuilds the table; rows of
    other tables pointing at it (a version's media) must not stop the upgrade or be lost."""
    archive = captured.archive
    with archive.transaction() as s:
        version_id = s.scalar(select(ItemVersion.id).limit(1))
        media = MediaFile(url_sha256="0" * 64, url="https://example.invalid/a.jpg",
                          status="stored", first_seen_at=archive.clock())
        s.add(media)
        s.flush()
        s.add(VersionMedia(version_id=version_id, media_file_id=media.id))
    config = db.alembic_config(archive.engine)
    command.downgrade(config, "0011")
    command.upgrade(config, "head")
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(VersionMedia)) >= 1
    assert verify_archive(archive).ok


def test_a_migration_that_fails_leaves_the_schema_as_it_was(settings: Settings) -> None:
    """A migration is one transaction on either database: when one cannot finish (here, a row
    already pointing at nothing, which the foreign-key check refuses), no table of it stays."""
    engine = db.make_engine(settings.db_url)
    try:
        config = db.alembic_config(engine)
        command.upgrade(config, "0011")
        with engine.begin() as conn:
            if conn.dialect.name != "sqlite":
                pytest.skip("PostgreSQL never lets a row point at nothing")
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.exec_driver_sql("INSERT INTO version_media (version_id, media_file_id) "
                                 "VALUES (999, 999)")
            conn.commit()
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        with pytest.raises(RuntimeError, match="pointing at nothing"):
            command.upgrade(config, "head")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() \
                == "0011"
            assert "warc_files" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()
