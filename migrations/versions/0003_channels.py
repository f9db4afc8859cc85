"""channels: connected accounts; schedules and publish logs name one

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:05:00

Every existing schedule named a provider, and the only provider was the stub:
they all become schedules of the built-in stub channel this migration creates
(the channel a fresh install has).
"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

LIVE = sa.text("status IN ('queued', 'publishing')")
STUB_LIMITS = {
    "max_characters": 5000, "counting": "Unicode code points", "max_attachments": 4,
    "content_types": [], "max_image_bytes": None, "max_video_bytes": None, "max_description": None,
}


def upgrade():
    channels = op.create_table('channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('credentials_encrypted', sa.Text(), nullable=True),
    sa.Column('account', sa.JSON(), nullable=False),
    sa.Column('limits', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('connected', 'needs_attention')", name=op.f('ck_channels_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels'))
    )
    now = datetime.now(timezone.utc)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored naive (UTC) there, as pagesite's UTCDateTime does
    op.execute(channels.insert().values(
        provider="stub", name="Stub", settings={}, credentials_encrypted=None,
        account={"handle": "sandbox", "display_name": "Stub sandbox"}, limits=STUB_LIMITS,
        status="connected", created_at=now, updated_at=now,
    ))

    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_id', sa.Integer(), nullable=True))
    op.execute(sa.text("UPDATE schedules SET channel_id = (SELECT min(id) FROM channels WHERE provider = 'stub')"))
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.alter_column('channel_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_schedules_channel_id_channels'), 'channels', ['channel_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_schedules_channel_id'), ['channel_id'], unique=False)
        batch_op.drop_index('uq_schedules_active_page_provider', sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.create_index('uq_schedules_active_page_channel', ['page_id', 'channel_id'], unique=True,
                              sqlite_where=LIVE, postgresql_where=LIVE)

    with op.batch_alter_table('publish_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_id', sa.Integer(), nullable=True))
    op.execute(sa.text("UPDATE publish_logs SET channel_id = (SELECT min(id) FROM channels WHERE provider = 'stub')"))
    with op.batch_alter_table('publish_logs', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_publish_logs_channel_id_channels'), 'channels', ['channel_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_publish_logs_channel_id'), ['channel_id'], unique=False)



def downgrade():
    with op.batch_alter_table('publish_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publish_logs_channel_id'))
        batch_op.drop_constraint(batch_op.f('fk_publish_logs_channel_id_channels'), type_='foreignkey')
        batch_op.drop_column('channel_id')
    # Only one live schedule per page and provider fits the old index: cancel the rest.
    op.execute(sa.text(
        "UPDATE schedules SET status = 'canceled' WHERE status IN ('queued', 'publishing') AND id NOT IN "
        "(SELECT min(id) FROM schedules WHERE status IN ('queued', 'publishing') GROUP BY page_id, provider)"
    ))
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_index('uq_schedules_active_page_channel', sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.create_index('uq_schedules_active_page_provider', ['page_id', 'provider'], unique=True,
                              sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.drop_index(batch_op.f('ix_schedules_channel_id'))
        batch_op.drop_constraint(batch_op.f('fk_schedules_channel_id_channels'), type_='foreignkey')
        batch_op.drop_column('channel_id')
    op.drop_table('channels')
