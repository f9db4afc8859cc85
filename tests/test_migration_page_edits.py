"""Migration 0005 keeps existing rows correct: the chosen time stays, queued rows get
their next attempt, each page takes its files' descriptions, old logs say nothing was recorded."""

import os

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from helpers import flask_db


@pytest.fixture
def old_database(tmp_path, test_env):
    """An empty database to migrate: SQLite, or a PostgreSQL database of its own
    beside the test database when the run uses PostgreSQL."""
    test_url = os.environ.get("PAGESITE_TEST_DATABASE_URL")
    if not test_url:
        yield f"sqlite:///{tmp_path}/old.db"
        return
    url = make_url(test_url)
    name = f"{url.database}_migration"
    admin = sqlalchemy.create_engine(url.set(drivername="postgresql+psycopg", database="postgres"),
                                     isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _engine(url):
    return sqlalchemy.create_engine(make_url(url).set(drivername="postgresql+psycopg") if url.startswith("postgres")
                                    else url)


def test_upgrade_keeps_times_descriptions_and_history(old_database):
    url = old_database
    flask_db(url, "upgrade", "0004")
    engine = _engine(url)
    t0, t1 = "2026-01-01 00:00:00+00:00", "2026-01-02 09:30:00+00:00"
    with engine.begin() as c:
        run = lambda sql, **kw: c.execute(sqlalchemy.text(sql), kw)  # noqa: E731
        channel = c.execute(sqlalchemy.text("SELECT min(id) FROM channels")).scalar()
        run("INSERT INTO pages (id, text, created_at, updated_at) VALUES (1, 'one', :t, :t), (2, 'two', :t, :t)",
            t=t0)
        for aid, alt in ((1, 'a cat'), (2, '')):
            run("INSERT INTO attachment_assets (id, filename, content_type, size_bytes, sha256, storage_key, "
                "alt_text, created_at) VALUES (:id, 'f.png', 'image/png', 1, 'x', :key, :alt, :t)",
                id=aid, key=f"k{aid}", alt=alt, t=t0)
        run("INSERT INTO page_attachments (page_id, attachment_id, position) VALUES (1, 1, 0), (1, 2, 1), (2, 1, 0)")
        for sid, status in ((1, "queued"), (2, "published"), (3, "failed")):
            run("INSERT INTO schedules (id, page_id, channel_id, provider, scheduled_at, status, attempts, "
                "attempt_limit, created_at, updated_at) VALUES (:id, :page, :c, 'stub', :when, :status, 1, 5, :t, :t)",
                id=sid, page=1 if sid != 3 else 2, c=channel, when=t1, status=status, t=t0)
        run("INSERT INTO publish_logs (page_id, schedule_id, channel_id, provider, attempt, status, created_at) "
            "VALUES (1, 2, :c, 'stub', 1, 'published', :t)", c=channel, t=t1)

    flask_db(url, "upgrade")
    with engine.begin() as c:
        rows = {r.id: r for r in c.execute(sqlalchemy.text(
            "SELECT id, scheduled_at, next_attempt_at FROM schedules"))}
        assert str(rows[1].scheduled_at).startswith("2026-01-02 09:30:00")
        assert rows[1].next_attempt_at == rows[1].scheduled_at  # queued: due at its own time
        assert rows[2].next_attempt_at is None and rows[3].next_attempt_at is None
        assert str(rows[2].scheduled_at).startswith("2026-01-02 09:30:00")
        links = c.execute(sqlalchemy.text(
            "SELECT page_id, attachment_id, position, alt_text FROM page_attachments ORDER BY page_id, position")).all()
        assert [tuple(r) for r in links] == [(1, 1, 0, "a cat"), (1, 2, 1, ""), (2, 1, 0, "a cat")]
        assert c.execute(sqlalchemy.text("SELECT count(*) FROM pages WHERE deleted_at IS NULL")).scalar() == 2
        assert c.execute(sqlalchemy.text("SELECT sent FROM publish_logs")).scalar() is None
    flask_db(url, "downgrade", "0004")
    with engine.begin() as c:
        assert c.execute(sqlalchemy.text("SELECT count(*) FROM schedules")).scalar() == 3
        assert c.execute(sqlalchemy.text("SELECT count(*) FROM page_attachments")).scalar() == 3
    engine.dispose()
