"""indexes for the records desk's dashboard: arrivals and captures per day by time

Without them each dashboard view read every item and every version (its counts grew with the
archive, not with the week).

Revision ID: 0016
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_items_first_captured_at"), ["first_captured_at"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_items_removed_detected_at"),
                              ["removed_detected_at"], unique=False)
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.create_index("ix_item_versions_captured", ["captured_at", "seq", "status"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_item_versions_captured")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_removed_detected_at"))
        batch_op.drop_index(batch_op.f("ix_items_first_captured_at"))
