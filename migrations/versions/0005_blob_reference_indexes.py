"""indexes on the columns that name blobs, so purge's "is this blob still used?" stays cheap

Without them every chunk of blobs a purge is about to delete scanned item_versions twice (time
grew with archive size times blob count).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_versions_raw_sha256"), ["raw_sha256"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_item_versions_evidence_sha256"),
                              ["evidence_sha256"], unique=False)
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_items_removal_evidence_sha256"),
                              ["removal_evidence_sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_removal_evidence_sha256"))
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_versions_evidence_sha256"))
        batch_op.drop_index(batch_op.f("ix_item_versions_raw_sha256"))
