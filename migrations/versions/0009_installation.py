"""installation: one row naming this database, so a Redis queue can belong to one installation

Revision ID: 0009_installation
Revises: 0008_schedule_keys
Create Date: 2026-12-03 14:00:00

Two installations (two databases) sharing a Redis queue took each other's
jobs and ran them against the wrong database. Each database now has an id of
its own (a random UUID, made here); the queue's owner key in Redis names one,
and publish jobs carry it.
"""
import uuid
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0009_installation'
down_revision = '0008_schedule_keys'
branch_labels = None
depends_on = None


def upgrade():
    installation = op.create_table('installation',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('singleton', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('singleton = 1', name=op.f('ck_installation_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_installation')),
    sa.UniqueConstraint('singleton', name=op.f('uq_installation_singleton'))
    )
    now = datetime.now(timezone.utc)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored naive (UTC) there, as pagesite's UTCDateTime does
    op.execute(installation.insert().values(id=str(uuid.uuid4()), singleton=1, created_at=now))


def downgrade():
    op.drop_table('installation')
