"""Scale: plan digests, and indexes for the weekly cap and announcements.

* member_plans: what each participant's planned rows were made from, so the periodic safety
  net replans only what changed.
* outbox: the person index also covers status and sent_at (the weekly cap reads a person's own
  sent rows); a (kind, status) index finds pending announcements among many pending rows.
* ANALYZE, so the query planner knows the tables from the start (the app runs
  `PRAGMA optimize` on SQLite afterwards; PostgreSQL's autovacuum analyses by itself).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('member_plans',
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=32), nullable=False),
    sa.Column('planned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_member_plans_membership_id_memberships'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('membership_id', name=op.f('pk_member_plans'))
    )
    op.drop_index('ix_outbox_person_id', table_name='outbox')
    op.create_index('ix_outbox_person_status_sent_at', 'outbox',
                    ['person_id', 'status', 'sent_at'])
    op.create_index('ix_outbox_kind_status', 'outbox', ['kind', 'status'])
    op.execute('ANALYZE')


def downgrade() -> None:
    op.drop_index('ix_outbox_kind_status', table_name='outbox')
    op.drop_index('ix_outbox_person_status_sent_at', table_name='outbox')
    op.create_index('ix_outbox_person_id', 'outbox', ['person_id'])
    op.drop_table('member_plans')
