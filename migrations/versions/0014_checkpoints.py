"""checkpoints witnessed outside the database; the hash scheme of every version and audit event

Revision ID: 0014
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archiver.store.models

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", archiver.store.models.UTCDateTime(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("hash_scheme", sa.String(length=16), nullable=False),
        sa.Column("merkle_root", sa.String(length=64), nullable=False),
        sa.Column("item_count", sa.BigInteger(), nullable=False),
        sa.Column("audit_event_count", sa.BigInteger(), nullable=False),
        sa.Column("audit_last_event_id", sa.Integer(), nullable=True),
        sa.Column("audit_last_sha256", sa.String(length=64), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("tsa_url", sa.Text(), nullable=True),
        sa.Column("tsa_token", sa.LargeBinary(), nullable=True),
        sa.Column("tsa_time", archiver.store.models.UTCDateTime(), nullable=True),
        sa.Column("tsa_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoints")),
        sa.UniqueConstraint("sha256", name=op.f("uq_checkpoints_sha256")),
    )
    op.create_index(op.f("ix_checkpoints_created_at"), "checkpoints", ["created_at"],
                    unique=False)
    # Rows sealed before keep the bytes their hash covers: legacy.
    with op.batch_alter_table("item_versions") as batch:
        batch.add_column(sa.Column("hash_scheme", sa.String(length=16), nullable=False,
                                   server_default="legacy"))
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("hash_scheme", sa.String(length=16), nullable=False,
                                   server_default="legacy"))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("hash_scheme")
    with op.batch_alter_table("item_versions") as batch:
        batch.drop_column("hash_scheme")
    op.drop_index(op.f("ix_checkpoints_created_at"), table_name="checkpoints")
    op.drop_table("checkpoints")
