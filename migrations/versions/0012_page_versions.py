"""page versions: a page's own text for one channel

Revision ID: 0012_page_versions
Revises: 0011_imports
Create Date: 2026-12-04 01:10:00

* ``page_versions``: (page, channel) → the text that channel is sent instead
  of the page's. A page without one sends its own text everywhere, as before.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_page_versions'
down_revision = '0011_imports'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('page_versions',
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_page_versions_page_id_pages'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_page_versions_channel_id_channels')),
    sa.PrimaryKeyConstraint('page_id', 'channel_id', name=op.f('pk_page_versions'))
    )


def downgrade():
    op.drop_table('page_versions')
