"""Migration 0006 keeps existing publish logs and channels correct, and goes back down."""

import json

import sqlalchemy

from helpers import flask_db


def test_existing_logs_get_no_notes_and_channels_are_due_for_a_refresh(tmp_path, test_env):
    url = f"sqlite:///{tmp_path}/old.db"
    flask_db(url, "upgrade", "0004")
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as c:
        c.execute(sqlalchemy.text("INSERT INTO pages (id, text, created_at, updated_at) VALUES "
                                  "(1, 'old', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        c.execute(sqlalchemy.text(
            "INSERT INTO publish_logs (page_id, provider, attempt, status, external_id, created_at) "
            "VALUES (1, 'stub', 1, 'published', 'x-1', '2026-01-02 00:00:00')"))
    flask_db(url, "upgrade")
    with engine.begin() as c:
        [(external_id, notes)] = c.execute(sqlalchemy.text("SELECT external_id, notes FROM publish_logs")).all()
        assert external_id == "x-1" and json.loads(notes) == []
        assert set(c.execute(sqlalchemy.text("SELECT refreshed_at FROM channels")).scalars()) == {None}
        assert c.execute(sqlalchemy.text("SELECT count(*) FROM mastodon_apps")).scalar() == 0
    flask_db(url, "downgrade", "0004")
    with engine.begin() as c:
        assert c.execute(sqlalchemy.text("SELECT external_id FROM publish_logs")).scalar() == "x-1"
        assert "mastodon_apps" not in sqlalchemy.inspect(c).get_table_names()
    engine.dispose()
