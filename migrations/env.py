"""Alembic environment: runs on the engine ``archiver.db`` hands over, never on a URL in a file."""

from __future__ import annotations

from alembic import context

from archiver.db import make_engine
from archiver.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # run by the alembic CLI: take the URL from the archiver's settings
    from archiver.config import load_settings

    engine = make_engine(load_settings().db_url)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
