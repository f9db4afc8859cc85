"""link cards: a page may turn off the card built for its first link

Revision ID: 0016_link_cards
Revises: 0015_engagement
Create Date: 2026-12-04 13:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_link_cards'
down_revision = '0015_engagement'
branch_labels = None
depends_on = None


def upgrade():
    # Every page so far keeps the default: a card where the network shows one.
    with op.batch_alter_table('pages') as batch:
        batch.add_column(sa.Column('link_card', sa.Boolean(), nullable=False, server_default=sa.text('true')))


def downgrade():
    with op.batch_alter_table('pages') as batch:
        batch.drop_column('link_card')
