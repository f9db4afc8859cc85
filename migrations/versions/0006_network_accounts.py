"""network accounts: Mastodon apps per instance, publish log notes, channel refresh time

Revision ID: 0006_network_accounts
Revises: 0004
Create Date: 2026-11-26 17:20:00

Existing publish log rows get no notes ([]); existing channels have never been
refreshed (NULL), so the first daily refresh reads their account and limits.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_network_accounts'
down_revision = '0005_page_edits'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mastodon_apps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_url', sa.String(length=255), nullable=False),
    sa.Column('redirect_uri', sa.String(length=2048), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('client_secret_encrypted', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mastodon_apps')),
    sa.UniqueConstraint('instance_url', name=op.f('uq_mastodon_apps_instance_url'))
    )
    with op.batch_alter_table('publish_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notes', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('refreshed_at')
    with op.batch_alter_table('publish_logs', schema=None) as batch_op:
        batch_op.drop_column('notes')
    op.drop_table('mastodon_apps')
