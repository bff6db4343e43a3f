"""Alembic migrations for the archive's database (applied by ``archiver init``)."""
