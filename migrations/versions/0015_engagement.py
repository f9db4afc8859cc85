"""engagement: the public counts of published posts, read from their networks over time

Revision ID: 0015_engagement
Revises: 0014_feeds
Create Date: 2026-12-04 03:58:12
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_engagement'
down_revision = '0014_feeds'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('engagement_readings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('planned', sa.Boolean(), nullable=False),
    sa.Column('likes', sa.Integer(), nullable=True),
    sa.Column('reposts', sa.Integer(), nullable=True),
    sa.Column('replies', sa.Integer(), nullable=True),
    sa.Column('quotes', sa.Integer(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], name=op.f('fk_engagement_readings_schedule_id_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engagement_readings'))
    )
    with op.batch_alter_table('engagement_readings', schema=None) as batch_op:
        batch_op.create_index('ix_engagement_readings_schedule_id_read_at', ['schedule_id', 'read_at'], unique=False)



def downgrade():
    with op.batch_alter_table('engagement_readings', schema=None) as batch_op:
        batch_op.drop_index('ix_engagement_readings_schedule_id_read_at')

    op.drop_table('engagement_readings')
