"""secret scrubs on record: how many credentials capture took out of each version and each run

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("item_versions", "capture_runs"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("secrets_scrubbed", sa.Integer(), nullable=False,
                                          server_default="0"))


def downgrade() -> None:
    for table in ("capture_runs", "item_versions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("secrets_scrubbed")
