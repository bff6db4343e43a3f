"""capture operations: capture locks, media files and their links to versions

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archiver.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capture_locks",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("acquired_at", archiver.store.models.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", archiver.store.models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", archiver.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_capture_locks_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_capture_locks")),
    )
    op.create_table(
        "media_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_sha256", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("declared_type", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("media_type", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("first_seen_at", archiver.store.models.UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", archiver.store.models.UTCDateTime(), nullable=True),
        sa.Column("stored_at", archiver.store.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_files")),
        sa.UniqueConstraint("url_sha256", name=op.f("uq_media_files_url_sha256")),
    )
    op.create_index(op.f("ix_media_files_status"), "media_files", ["status"], unique=False)
    op.create_table(
        "version_media",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["media_file_id"], ["media_files.id"],
                                name=op.f("fk_version_media_media_file_id_media_files")),
        sa.ForeignKeyConstraint(["version_id"], ["item_versions.id"],
                                name=op.f("fk_version_media_version_id_item_versions")),
        sa.PrimaryKeyConstraint("version_id", "media_file_id", name=op.f("pk_version_media")),
    )
    op.create_index(op.f("ix_version_media_media_file_id"), "version_media", ["media_file_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_version_media_media_file_id"), table_name="version_media")
    op.drop_table("version_media")
    op.drop_index(op.f("ix_media_files_status"), table_name="media_files")
    op.drop_table("media_files")
    op.drop_table("capture_locks")
