"""WARC capture: the files and records of every run's exchanges, each version's record, and
``raw_sha256`` renamed ``record_sha256`` (it names the item's record as parsed, not raw bytes)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archiver.store.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = archiver.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "warc_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("capture_run_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("stored_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_warc_files_account_id_accounts")),
        sa.ForeignKeyConstraint(["capture_run_id"], ["capture_runs.id"],
                                name=op.f("fk_warc_files_capture_run_id_capture_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warc_files")),
    )
    with op.batch_alter_table("warc_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warc_files_account_id"), ["account_id"])
        batch_op.create_index(batch_op.f("ix_warc_files_capture_run_id"), ["capture_run_id"])
        batch_op.create_index(batch_op.f("ix_warc_files_sha256"), ["sha256"])
    op.create_table(
        "warc_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warc_file_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("target_uri", sa.Text(), nullable=False),
        sa.Column("captured_at", UTC(), nullable=False),
        sa.Column("file_offset", sa.BigInteger(), nullable=True),
        sa.Column("length", sa.BigInteger(), nullable=True),
        sa.Column("payload_digest", sa.String(length=80), nullable=True),
        sa.Column("original_record_id", sa.String(length=64), nullable=True),
        sa.Column("original_payload_digest", sa.String(length=80), nullable=True),
        sa.Column("removed_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(["warc_file_id"], ["warc_files.id"],
                                name=op.f("fk_warc_records_warc_file_id_warc_files")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warc_records")),
    )
    with op.batch_alter_table("warc_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warc_records_warc_file_id"), ["warc_file_id"])
        batch_op.create_index(batch_op.f("ix_warc_records_record_id"), ["record_id"])
    op.create_table(
        "warc_rewrites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("disposition_id", sa.Integer(), nullable=False),
        sa.Column("warc_file_id", sa.Integer(), nullable=False),
        sa.Column("old_sha256", sa.String(length=64), nullable=False),
        sa.Column("new_sha256", sa.String(length=64), nullable=True),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("converted", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["disposition_id"], ["dispositions.id"],
                                name=op.f("fk_warc_rewrites_disposition_id_dispositions")),
        sa.ForeignKeyConstraint(["warc_file_id"], ["warc_files.id"],
                                name=op.f("fk_warc_rewrites_warc_file_id_warc_files")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warc_rewrites")),
        sa.UniqueConstraint("disposition_id", "warc_file_id",
                            name="uq_warc_rewrites_disposition_file"),
    )
    with op.batch_alter_table("warc_rewrites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warc_rewrites_disposition_id"), ["disposition_id"])
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_versions_raw_sha256"))
        batch_op.alter_column("raw_sha256", new_column_name="record_sha256")
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_versions_record_sha256"), ["record_sha256"])
        batch_op.add_column(sa.Column("warc_record_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_item_versions_warc_record_id"), ["warc_record_id"])
        batch_op.create_foreign_key(batch_op.f("fk_item_versions_warc_record_id_warc_records"),
                                    "warc_records", ["warc_record_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_item_versions_warc_record_id_warc_records"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_item_versions_warc_record_id"))
        batch_op.drop_column("warc_record_id")
        batch_op.drop_index(batch_op.f("ix_item_versions_record_sha256"))
        batch_op.alter_column("record_sha256", new_column_name="raw_sha256")
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_versions_raw_sha256"), ["raw_sha256"])
    op.drop_table("warc_rewrites")
    op.drop_table("warc_records")
    op.drop_table("warc_files")
