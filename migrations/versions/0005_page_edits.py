"""page edits: the worker's next attempt apart from the user's time, descriptions
per page, deleted pages, and what each attempt sent

Revision ID: 0005_page_edits
Revises: 0004
Create Date: 2026-11-26 17:30:00

- ``schedules.next_attempt_at``: when the worker tries next (backoff, rescue,
  retry); ``scheduled_at`` stays the time the user chose. Queued rows start
  with their current time; other rows have no next attempt.
- ``page_attachments.alt_text``: a page's own description of a file, taken
  from the file's description for existing pages.
- ``pages.deleted_at``: a deleted page keeps its row for its published history.
- ``publish_logs.sent``: the text and attachments (ids, order, descriptions)
  handed to the provider. Existing attempts did not record it (null).
"""

from alembic import op
import sqlalchemy as sa


revision = '0005_page_edits'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_schedules_status_next_attempt_at', ['status', 'next_attempt_at', 'id'],
                              unique=False)
    op.execute(sa.text("UPDATE schedules SET next_attempt_at = scheduled_at WHERE status = 'queued'"))

    with op.batch_alter_table('page_attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alt_text', sa.Text(), nullable=False, server_default=''))
    op.execute(sa.text(
        "UPDATE page_attachments SET alt_text = (SELECT coalesce(a.alt_text, '') FROM attachment_assets a "
        "WHERE a.id = page_attachments.attachment_id)"))

    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('publish_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('publish_logs', schema=None) as batch_op:
        batch_op.drop_column('sent')
    # The old schema cannot hide a page: deleted pages show again (nothing is lost).
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
    with op.batch_alter_table('page_attachments', schema=None) as batch_op:
        batch_op.drop_column('alt_text')
    # A queued schedule is due when the worker means to try next.
    op.execute(sa.text(
        "UPDATE schedules SET scheduled_at = next_attempt_at WHERE status = 'queued' AND next_attempt_at IS NOT NULL"))
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_index('ix_schedules_status_next_attempt_at')
        batch_op.drop_column('next_attempt_at')
