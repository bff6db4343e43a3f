"""retention schedules, holds and dispositions

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archiver.store.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_DT = archiver.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "dispositions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("approved_by", sa.String(length=255), nullable=False),
        sa.Column("started_at", UTC_DT(), nullable=False),
        sa.Column("finished_at", UTC_DT(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("schedule_sha256", sa.String(length=64), nullable=True),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=True),
        sa.Column("certificate_pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("transfer_path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispositions")),
    )
    op.create_table(
        "retention_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document_json", sa.Text(), nullable=False),
        sa.Column("loaded_at", UTC_DT(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_retention_schedules_name")),
    )
    op.create_table(
        "disposed_blobs",
        sa.Column("disposition_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC_DT(), nullable=False),
        sa.ForeignKeyConstraint(
            ["disposition_id"], ["dispositions.id"],
            name=op.f("fk_disposed_blobs_disposition_id_dispositions"),
        ),
        sa.PrimaryKeyConstraint("disposition_id", "sha256", name=op.f("pk_disposed_blobs")),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("matter", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("since", UTC_DT(), nullable=True),
        sa.Column("until", UTC_DT(), nullable=True),
        sa.Column("custodians", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC_DT(), nullable=False),
        sa.Column("released_at", UTC_DT(), nullable=True),
        sa.Column("released_by", sa.String(length=255), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_holds_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
        sa.UniqueConstraint("name", name=op.f("uq_holds_name")),
    )
    op.create_table(
        "disposition_items",
        sa.Column("disposition_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["disposition_id"], ["dispositions.id"],
            name=op.f("fk_disposition_items_disposition_id_dispositions"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_disposition_items_item_id_items")
        ),
        sa.PrimaryKeyConstraint("disposition_id", "item_id", name=op.f("pk_disposition_items")),
    )
    op.create_index(
        op.f("ix_disposition_items_item_id"), "disposition_items", ["item_id"], unique=False
    )
    op.create_table(
        "hold_items",
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("added_at", UTC_DT(), nullable=False),
        sa.ForeignKeyConstraint(["hold_id"], ["holds.id"], name=op.f("fk_hold_items_hold_id_holds")),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_hold_items_item_id_items")),
        sa.PrimaryKeyConstraint("hold_id", "item_id", name=op.f("pk_hold_items")),
    )
    op.create_index(op.f("ix_hold_items_item_id"), "hold_items", ["item_id"], unique=False)
    op.create_table(
        "tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("disposition_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("series_code", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("authority", sa.Text(), nullable=False),
        sa.Column("published_at", UTC_DT(), nullable=True),
        sa.Column("first_captured_at", UTC_DT(), nullable=False),
        sa.Column("last_seen_at", UTC_DT(), nullable=False),
        sa.Column("disposition_date", sa.Date(), nullable=False),
        sa.Column("destroyed_at", UTC_DT(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("chain_head_sha256", sa.String(length=64), nullable=False),
        sa.Column("version_hashes_json", sa.Text(), nullable=False),
        sa.Column("blob_hashes_json", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["disposition_id"], ["dispositions.id"],
            name=op.f("fk_tombstones_disposition_id_dispositions"),
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_tombstones_item_id_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tombstones")),
        sa.UniqueConstraint("item_id", "disposition_id", name="uq_tombstones_item_disposition"),
    )
    op.create_index(
        op.f("ix_tombstones_disposition_id"), "tombstones", ["disposition_id"], unique=False
    )
    op.create_index(op.f("ix_tombstones_item_id"), "tombstones", ["item_id"], unique=False)
    op.add_column("items", sa.Column("series_code", sa.String(length=64), nullable=True))
    op.add_column("items", sa.Column("published_at", UTC_DT(), nullable=True))
    op.add_column("items", sa.Column("retention_start", sa.Date(), nullable=True))
    op.add_column("items", sa.Column("disposition_date", sa.Date(), nullable=True))
    op.add_column("items", sa.Column("disposed_at", UTC_DT(), nullable=True))
    op.create_index(op.f("ix_items_disposition_date"), "items", ["disposition_date"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_items_disposition_date"), table_name="items")
    with op.batch_alter_table("items") as batch:
        for name in ("disposed_at", "disposition_date", "retention_start", "published_at",
                     "series_code"):
            batch.drop_column(name)
    op.drop_index(op.f("ix_tombstones_item_id"), table_name="tombstones")
    op.drop_index(op.f("ix_tombstones_disposition_id"), table_name="tombstones")
    op.drop_table("tombstones")
    op.drop_index(op.f("ix_hold_items_item_id"), table_name="hold_items")
    op.drop_table("hold_items")
    op.drop_index(op.f("ix_disposition_items_item_id"), table_name="disposition_items")
    op.drop_table("disposition_items")
    op.drop_table("holds")
    op.drop_table("disposed_blobs")
    op.drop_table("retention_schedules")
    op.drop_table("dispositions")
