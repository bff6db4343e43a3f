"""open-records requests, exports and Bates counters

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archiver.store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open_records_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("requester", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", archiver.store.models.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("closed_at", archiver.store.models.UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_records_requests")),
        sa.UniqueConstraint("request_id", name=op.f("uq_open_records_requests_request_id")),
    )
    with op.batch_alter_table("open_records_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open_records_requests_status"), ["status"], unique=False
        )

    op.create_table(
        "bates_counters",
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.Column("next_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_bates_counters")),
    )

    op.create_table(
        "request_scopes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_pk", sa.Integer(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("filters_json", sa.Text(), nullable=False),
        sa.Column("added_at", archiver.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_pk"], ["open_records_requests.id"],
            name=op.f("fk_request_scopes_request_pk_open_records_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_scopes")),
    )
    with op.batch_alter_table("request_scopes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_scopes_request_pk"), ["request_pk"], unique=False
        )

    op.create_table(
        "request_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_pk", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_request_items_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["request_pk"], ["open_records_requests.id"],
            name=op.f("fk_request_items_request_pk_open_records_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_items")),
        sa.UniqueConstraint("request_pk", "item_id", name="uq_request_items_pair"),
    )
    with op.batch_alter_table("request_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_items_item_id"), ["item_id"], unique=False)

    op.create_table(
        "exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("request_pk", sa.Integer(), nullable=True),
        sa.Column("hold_name", sa.String(length=255), nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("filters_json", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("created_at", archiver.store.models.UTCDateTime(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("redactions", sa.Integer(), nullable=False),
        sa.Column("bates_prefix", sa.String(length=64), nullable=True),
        sa.Column("bates_first", sa.BigInteger(), nullable=True),
        sa.Column("bates_last", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_pk"], ["open_records_requests.id"],
            name=op.f("fk_exports_request_pk_open_records_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
    )
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exports_request_pk"), ["request_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exports_request_pk"))
    op.drop_table("exports")
    with op.batch_alter_table("request_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_items_item_id"))
    op.drop_table("request_items")
    with op.batch_alter_table("request_scopes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_scopes_request_pk"))
    op.drop_table("request_scopes")
    op.drop_table("bates_counters")
    with op.batch_alter_table("open_records_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open_records_requests_status"))
    op.drop_table("open_records_requests")
