"""sessions: the set-up code in the database, a row per signed-in browser, tokens that expire

Revision ID: 0010_sessions
Revises: 0009_installation
Create Date: 2026-12-05 09:00:00

* ``setup_codes``: the digest of the one-time set-up code. It lived in Redis,
  so it could not be spent in the transaction that creates the first account,
  and concurrent set-ups could each create one. Spending it is now a
  conditional DELETE in that transaction: only one set-up can.
* ``user_sessions``: one row per signed-in browser (the SHA-256 of the random
  key its cookie carries). Signing out deletes the row, so a copied cookie
  stops working; changing the password deletes the others.
* ``api_tokens.expires_at``: a token may be given an expiry.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_sessions'
down_revision = '0009_installation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('setup_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_setup_codes')),
    sa.UniqueConstraint('digest', name=op.f('uq_setup_codes_digest'))
    )
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_user_sessions_key_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
    op.drop_table('user_sessions')
    op.drop_table('setup_codes')
