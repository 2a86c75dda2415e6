"""Calendar sequence numbers for webinars, and the tools a participant finds helpful.

``webinar_sessions.calendar_sequence`` is the iCalendar SEQUENCE of the webinar's event (one
more with every move or cancellation); ``helpful_tools`` holds the module tools a participant
marked as helping them, for their own summary.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('webinar_sessions') as batch:
        batch.add_column(sa.Column('calendar_sequence', sa.Integer(), server_default='0',
                                   nullable=False))

    op.create_table('helpful_tools',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('module_no', sa.Integer(), nullable=False),
    sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('module_no BETWEEN 1 AND 6', name=op.f('ck_helpful_tools_module_no')),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_helpful_tools_membership_id_memberships'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_helpful_tools')),
    sa.UniqueConstraint('membership_id', 'module_no', name=op.f('uq_helpful_tools_membership_id_module_no'))
    )
    op.create_index(op.f('ix_helpful_tools_membership_id'), 'helpful_tools', ['membership_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_helpful_tools_membership_id'), table_name='helpful_tools')
    op.drop_table('helpful_tools')
    with op.batch_alter_table('webinar_sessions') as batch:
        batch.drop_column('calendar_sequence')
