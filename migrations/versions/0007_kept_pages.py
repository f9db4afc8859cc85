"""schedules carry their page's deletion, so the lists' indexes leave them out

Revision ID: 0007_kept_pages
Revises: 0006_network_accounts
Create Date: 2026-11-27 02:30:00

Lists and calendars leave out the schedules of deleted pages. Asking each
schedule's page whether it was deleted made every list (and its count) read
the table instead of an index: 93 ms instead of 7 ms for the first page of
100,000 schedules on SQLite. Each schedule now carries its page's deletion
time, and the two list indexes are partial (schedules of kept pages only).
Existing schedules of deleted pages get their page's time.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_kept_pages'
down_revision = '0006_network_accounts'
branch_labels = None
depends_on = None

KEPT = sa.text("page_deleted_at IS NULL")


def upgrade():
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('page_deleted_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE schedules SET page_deleted_at = "
        "(SELECT pages.deleted_at FROM pages WHERE pages.id = schedules.page_id) "
        "WHERE page_id IN (SELECT id FROM pages WHERE deleted_at IS NOT NULL)"
    )
    # page_deleted_at (always empty there) is in the indexes too: SQLite reads the
    # table for a column of the index's WHERE that the index does not hold.
    for name, columns in (('ix_schedules_status_scheduled_at', ['status', 'scheduled_at', 'id', 'page_deleted_at']),
                          ('ix_schedules_scheduled_at', ['scheduled_at', 'id', 'page_deleted_at'])):
        op.drop_index(name, table_name='schedules')
        op.create_index(name, 'schedules', columns, unique=False, sqlite_where=KEPT, postgresql_where=KEPT)


def downgrade():
    for name, columns in (('ix_schedules_status_scheduled_at', ['status', 'scheduled_at', 'id']),
                          ('ix_schedules_scheduled_at', ['scheduled_at', 'id'])):
        op.drop_index(name, table_name='schedules')
        op.create_index(name, 'schedules', columns, unique=False)
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_column('page_deleted_at')
