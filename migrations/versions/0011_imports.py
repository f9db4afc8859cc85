"""imports: a CSV plan read and shown row by row before anything is created

Revision ID: 0011_imports
Revises: 0010_sessions
Create Date: 2026-12-04 01:00:00

* ``imports``: the rows of an uploaded CSV file as read (text, time, channels),
  kept between the preview and the commit, which checks them again and creates
  the pages and schedules in one transaction.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_imports'
down_revision = '0010_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('committed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('schedule_ids', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imports'))
    )


def downgrade():
    op.drop_table('imports')
