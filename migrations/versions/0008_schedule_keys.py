"""every schedule gets an idempotency key of its own and remembers an unknown outcome; its attempt cap is max_attempts

Revision ID: 0008_schedule_keys
Revises: 0007_kept_pages
Create Date: 2026-12-03 12:00:00

The key used to be the bare schedule id (``pagesite-schedule-<id>``): after a
database reset, or with a second installation posting to the same account,
new schedules reused old keys, and a network that deduplicates dropped their
posts. Each schedule now has 128 random bits of its own. Rows already
attempted keep the key their attempts used, so a retry in flight across the
upgrade still deduplicates; rows never attempted get a new one.

The attempt cap had three names (attempt_limit here, max_attempts in the API,
PAGESITE_PUBLISH_MAX_ATTEMPTS); the column now takes the API's.
"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0008_schedule_keys'
down_revision = '0007_kept_pages'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('outcome_unknown', sa.Boolean(), nullable=False,
                                      server_default=sa.text('false')))
    connection = op.get_bind()
    connection.execute(sa.text(
        "UPDATE schedules SET idempotency_key = 'pagesite-schedule-' || CAST(id AS VARCHAR(20)) WHERE attempts > 0"))
    # Random keys in the database's own terms, so a large table takes one statement.
    if connection.dialect.name == 'postgresql':
        fresh = "'ps-' || replace(CAST(gen_random_uuid() AS TEXT), '-', '')"
    elif connection.dialect.name == 'sqlite':
        fresh = "'ps-' || lower(hex(randomblob(16)))"
    else:
        fresh = None
    if fresh:
        connection.execute(sa.text(f"UPDATE schedules SET idempotency_key = {fresh} WHERE idempotency_key IS NULL"))
    else:
        ids = connection.execute(sa.text("SELECT id FROM schedules WHERE idempotency_key IS NULL")).scalars().all()
        for schedule_id in ids:
            connection.execute(sa.text("UPDATE schedules SET idempotency_key = :key WHERE id = :id"),
                               dict(key=f"ps-{secrets.token_hex(16)}", id=schedule_id))
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.alter_column('idempotency_key', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint('uq_schedules_idempotency_key', ['idempotency_key'])
        batch_op.alter_column('attempt_limit', new_column_name='max_attempts', existing_type=sa.Integer(),
                              existing_nullable=False)


def downgrade():
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.alter_column('max_attempts', new_column_name='attempt_limit', existing_type=sa.Integer(),
                              existing_nullable=False)
        batch_op.drop_constraint('uq_schedules_idempotency_key', type_='unique')
        batch_op.drop_column('outcome_unknown')
        batch_op.drop_column('idempotency_key')
