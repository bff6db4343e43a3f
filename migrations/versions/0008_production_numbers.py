"""production numbers per Bates prefix, so productions and their volumes have distinct names

Productions made before get 1, 2, ... per prefix in the order they were made; each prefix's
next production continues after them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_exports = sa.table("exports", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                    sa.column("bates_prefix", sa.String),
                    sa.column("production_number", sa.Integer))
_counters = sa.table("bates_counters", sa.column("prefix", sa.String),
                     sa.column("next_production", sa.Integer))


def upgrade() -> None:
    with op.batch_alter_table("bates_counters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_production", sa.Integer(), nullable=False,
                                      server_default="1"))
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("production_number", sa.Integer(), nullable=True))

    conn = op.get_bind()
    made: dict[str, int] = {}
    for export_id, prefix in conn.execute(
            sa.select(_exports.c.id, _exports.c.bates_prefix)
            .where(_exports.c.kind == "production", _exports.c.bates_prefix.is_not(None))
            .order_by(_exports.c.id)).all():
        made[prefix] = made.get(prefix, 0) + 1
        conn.execute(_exports.update().where(_exports.c.id == export_id)
                     .values(production_number=made[prefix]))
    for prefix, count in made.items():
        conn.execute(_counters.update().where(_counters.c.prefix == prefix)
                     .values(next_production=count + 1))

    with op.batch_alter_table("bates_counters", schema=None) as batch_op:
        batch_op.alter_column("next_production", server_default=None)
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_exports_production",
                                          ["bates_prefix", "production_number"])


def downgrade() -> None:
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.drop_constraint("uq_exports_production", type_="unique")
        batch_op.drop_column("production_number")
    with op.batch_alter_table("bates_counters", schema=None) as batch_op:
        batch_op.drop_column("next_production")
