"""snippets: saved blocks of text to insert while composing

Revision ID: 0013_snippets
Revises: 0012_page_versions
Create Date: 2026-12-04 01:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_snippets'
down_revision = '0012_page_versions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('snippets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_snippets')),
    sa.UniqueConstraint('name', name=op.f('uq_snippets_name'))
    )


def downgrade():
    op.drop_table('snippets')
