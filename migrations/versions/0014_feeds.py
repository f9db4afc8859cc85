"""feeds: RSS, Atom and JSON Feeds whose new items become pages, each item at most once

Revision ID: 0014_feeds
Revises: 0013_snippets
Create Date: 2026-12-04 03:49:10
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_feeds'
down_revision = '0013_snippets'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('channel_ids', sa.JSON(), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('template', sa.Text(), nullable=False),
    sa.Column('etag', sa.String(length=300), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode IN ('draft', 'queue', 'now')", name=op.f('ck_feeds_mode_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feeds'))
    )
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feeds_next_check_at'), ['next_check_at'], unique=False)

    op.create_table('feed_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=64), nullable=False),
    sa.Column('page_id', sa.Integer(), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['feed_id'], ['feeds.id'], name=op.f('fk_feed_items_feed_id_feeds'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_feed_items_page_id_pages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_items')),
    sa.UniqueConstraint('feed_id', 'item_key', name=op.f('uq_feed_items_feed_id'))
    )


def downgrade():
    op.drop_table('feed_items')
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feeds_next_check_at'))

    op.drop_table('feeds')
