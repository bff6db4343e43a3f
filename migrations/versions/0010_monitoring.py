"""monitoring: rule files, review flags and decisions, monitoring marks, policy checks, notices

Revision ID: 0010
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archiver.store.models

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monitoring_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('loaded_at', archiver.store.models.UTCDateTime(), nullable=False),
    sa.Column('loaded_by', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_rules'))
    )
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('payload_json', sa.Text(), nullable=False),
    sa.Column('created_at', archiver.store.models.UTCDateTime(), nullable=False),
    sa.Column('sent_at', archiver.store.models.UTCDateTime(), nullable=True),
    sa.Column('channels', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_notices_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    sa.UniqueConstraint('key', name='uq_notices_key')
    )
    op.create_index(op.f('ix_notices_kind'), 'notices', ['kind'], unique=False)
    op.create_index(op.f('ix_notices_sent_at'), 'notices', ['sent_at'], unique=False)
    op.create_table('policy_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('checked_at', archiver.store.models.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('results_json', sa.Text(), nullable=False),
    sa.Column('evidence_sha256', sa.String(length=64), nullable=True),
    sa.Column('rules_sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_policy_checks_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_checks'))
    )
    op.create_index(op.f('ix_policy_checks_account_id'), 'policy_checks', ['account_id'], unique=False)
    op.create_index(op.f('ix_policy_checks_evidence_sha256'), 'policy_checks', ['evidence_sha256'], unique=False)
    op.create_table('monitoring_marks',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('checked_seq', sa.Integer(), nullable=False),
    sa.Column('words_sha256', sa.String(length=64), nullable=False),
    sa.Column('checked_at', archiver.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_monitoring_marks_item_id_items')),
    sa.PrimaryKeyConstraint('item_id', name=op.f('pk_monitoring_marks'))
    )
    op.create_table('review_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('ground', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=255), nullable=False),
    sa.Column('decided_at', archiver.store.models.UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=255), nullable=False),
    sa.Column('audit_event_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_review_decisions_item_id_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_decisions'))
    )
    op.create_index(op.f('ix_review_decisions_item_id'), 'review_decisions', ['item_id'], unique=False)
    op.create_table('review_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=128), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('ground', sa.Text(), nullable=False),
    sa.Column('audience', sa.String(length=16), nullable=False),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('match_start', sa.Integer(), nullable=True),
    sa.Column('match_end', sa.Integer(), nullable=True),
    sa.Column('match_count', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('rules_sha256', sa.String(length=64), nullable=False),
    sa.Column('flagged_at', archiver.store.models.UTCDateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=True),
    sa.Column('notice_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_review_flags_account_id_accounts')),
    sa.ForeignKeyConstraint(['decision_id'], ['review_decisions.id'], name=op.f('fk_review_flags_decision_id_review_decisions')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_review_flags_item_id_items')),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_review_flags_notice_id_notices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_flags')),
    sa.UniqueConstraint('item_id', 'seq', 'rule', name='uq_review_flags_match')
    )
    op.create_index(op.f('ix_review_flags_account_id'), 'review_flags', ['account_id'], unique=False)
    op.create_index(op.f('ix_review_flags_item_id'), 'review_flags', ['item_id'], unique=False)
    op.create_index(op.f('ix_review_flags_notice_id'), 'review_flags', ['notice_id'], unique=False)
    op.create_index(op.f('ix_review_flags_state'), 'review_flags', ['state'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_review_flags_state'), table_name='review_flags')
    op.drop_index(op.f('ix_review_flags_notice_id'), table_name='review_flags')
    op.drop_index(op.f('ix_review_flags_item_id'), table_name='review_flags')
    op.drop_index(op.f('ix_review_flags_account_id'), table_name='review_flags')
    op.drop_table('review_flags')
    op.drop_index(op.f('ix_review_decisions_item_id'), table_name='review_decisions')
    op.drop_table('review_decisions')
    op.drop_table('monitoring_marks')
    op.drop_index(op.f('ix_policy_checks_evidence_sha256'), table_name='policy_checks')
    op.drop_index(op.f('ix_policy_checks_account_id'), table_name='policy_checks')
    op.drop_table('policy_checks')
    op.drop_index(op.f('ix_notices_sent_at'), table_name='notices')
    op.drop_index(op.f('ix_notices_kind'), table_name='notices')
    op.drop_table('notices')
    op.drop_table('monitoring_rules')
