"""protection lock: holds, request scopes and a purge batch's check-then-destroy serialise on it

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archiver.store.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "protection_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("taken_at", archiver.store.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protection_lock")),
    )
    # The one row everyone locks exists from the start, like the audit head.
    op.bulk_insert(
        sa.table("protection_lock", sa.column("id", sa.Integer), sa.column("holder", sa.Text)),
        [{"id": 1, "holder": ""}],
    )


def downgrade() -> None:
    op.drop_table("protection_lock")
