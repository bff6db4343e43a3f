"""Alembic revision scripts (a package so that they are installed with the project)."""
