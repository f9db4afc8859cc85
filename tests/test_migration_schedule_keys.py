"""Migration 0008: every schedule gets an idempotency key of its own; those
already attempted keep the key their attempts used, so a retry in flight
across the upgrade still deduplicates."""

import re

import sqlalchemy

from helpers import flask_db

T = "'2026-01-01 00:00:00'"


def test_attempted_schedules_keep_their_key_the_others_get_random_ones(tmp_path, test_env):
    url = f"sqlite:///{tmp_path}/old.db"
    flask_db(url, "upgrade", "0007_kept_pages")
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as c:
        run = lambda sql: c.execute(sqlalchemy.text(sql))  # noqa: E731
        channel = run("SELECT min(id) FROM channels").scalar()
        for schedule_id, status, attempts in ((1, "queued", 1), (2, "published", 1), (3, "queued", 0),
                                              (4, "canceled", 0)):
            run(f"INSERT INTO pages (id, text, created_at, updated_at) VALUES ({schedule_id}, 'old', {T}, {T})")
            run(f"INSERT INTO schedules (id, page_id, channel_id, provider, scheduled_at, status, attempts, "
                f"attempt_limit, created_at, updated_at) VALUES ({schedule_id}, {schedule_id}, {channel}, 'stub', {T}, "
                f"'{status}', {attempts}, 5, {T}, {T})")
    flask_db(url, "upgrade", "0008_schedule_keys")
    with engine.begin() as c:
        keys = dict(c.execute(sqlalchemy.text("SELECT id, idempotency_key FROM schedules")).all())
        unknown = set(c.execute(sqlalchemy.text("SELECT outcome_unknown FROM schedules")).scalars())
        assert keys[1] == "pagesite-schedule-1" and keys[2] == "pagesite-schedule-2"
        assert re.fullmatch(r"ps-[0-9a-f]{32}", keys[3]) and re.fullmatch(r"ps-[0-9a-f]{32}", keys[4])
        assert keys[3] != keys[4] and unknown == {0}
        try:  # unique
            c.execute(sqlalchemy.text(f"UPDATE schedules SET idempotency_key = '{keys[3]}' WHERE id = 4"))
            raise AssertionError("a repeated key was accepted")
        except sqlalchemy.exc.IntegrityError:
            pass
    flask_db(url, "downgrade", "0007_kept_pages")
    with engine.begin() as c:
        columns = {col["name"] for col in sqlalchemy.inspect(c).get_columns("schedules")}
        assert "idempotency_key" not in columns and "outcome_unknown" not in columns
    engine.dispose()
