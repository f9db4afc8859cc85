"""Migration 0003 turns provider-named schedules into schedules of the stub channel."""

import sqlalchemy

from helpers import flask_db


def test_existing_schedules_move_to_the_stub_channel_and_back(tmp_path, test_env):
    url = f"sqlite:///{tmp_path}/old.db"
    flask_db(url, "upgrade", "0002")
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as c:
        c.execute(sqlalchemy.text("INSERT INTO pages (id, text, created_at, updated_at) VALUES "
                                  "(1, 'old', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        for sid, status in ((1, "published"), (2, "queued")):
            c.execute(sqlalchemy.text(
                "INSERT INTO schedules (id, page_id, provider, scheduled_at, status, attempts, attempt_limit, "
                "created_at, updated_at) VALUES (:id, 1, 'stub', '2026-01-02 00:00:00', :status, 1, 5, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"), {"id": sid, "status": status})
        c.execute(sqlalchemy.text(
            "INSERT INTO publish_logs (page_id, schedule_id, provider, attempt, status, created_at) "
            "VALUES (1, 1, 'stub', 1, 'published', '2026-01-02 00:00:00')"))
    flask_db(url, "upgrade", "0003")  # the migration under test (later ones renamed columns)
    with engine.begin() as c:
        [(stub_id, provider)] = c.execute(sqlalchemy.text("SELECT id, provider FROM channels")).all()
        assert provider == "stub"
        assert set(c.execute(sqlalchemy.text("SELECT channel_id FROM schedules")).scalars()) == {stub_id}
        assert set(c.execute(sqlalchemy.text("SELECT channel_id FROM publish_logs")).scalars()) == {stub_id}
        # One live schedule per page and channel.
        try:
            c.execute(sqlalchemy.text(
                "INSERT INTO schedules (page_id, channel_id, provider, scheduled_at, status, attempts, "
                "attempt_limit, created_at, updated_at) VALUES (1, :c, 'stub', '2026-01-03 00:00:00', 'queued', "
                "0, 5, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"), {"c": stub_id})
        except sqlalchemy.exc.IntegrityError:
            pass
        else:
            raise AssertionError("a second live schedule for the same page and channel was accepted")
    flask_db(url, "downgrade", "0002")
    with engine.begin() as c:
        assert c.execute(sqlalchemy.text("SELECT count(*) FROM schedules")).scalar() == 2
    engine.dispose()
