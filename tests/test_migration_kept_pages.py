"""Migration 0007: schedules carry their page's deletion (so lists read their
partial indexes alone), existing ones included, and it goes back down."""

import sqlalchemy

from helpers import flask_db

T = "'2026-01-01 00:00:00'"


def test_schedules_of_deleted_pages_get_their_pages_time_and_leave_the_list_indexes(tmp_path, test_env):
    url = f"sqlite:///{tmp_path}/old.db"
    flask_db(url, "upgrade", "0006_network_accounts")
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as c:
        run = lambda sql: c.execute(sqlalchemy.text(sql))  # noqa: E731
        channel = run("SELECT min(id) FROM channels").scalar()
        run(f"INSERT INTO pages (id, text, created_at, updated_at, deleted_at) VALUES "
            f"(1, 'deleted', {T}, {T}, '2026-02-03 04:05:06'), (2, 'kept', {T}, {T}, NULL)")
        for schedule_id, page_id in ((1, 1), (2, 2)):
            run(f"INSERT INTO schedules (id, page_id, channel_id, provider, scheduled_at, status, attempts, "
                f"attempt_limit, created_at, updated_at) VALUES ({schedule_id}, {page_id}, {channel}, 'stub', {T}, "
                f"'published', 1, 5, {T}, {T})")
    flask_db(url, "upgrade")
    with engine.begin() as c:
        rows = dict(c.execute(sqlalchemy.text("SELECT id, page_deleted_at FROM schedules")).all())
        assert rows == {1: "2026-02-03 04:05:06.000000", 2: None} or rows == {1: "2026-02-03 04:05:06", 2: None}
        indexes = dict(c.execute(sqlalchemy.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'schedules'")).all())
        for name in ("ix_schedules_status_scheduled_at", "ix_schedules_scheduled_at"):
            assert indexes[name].endswith("WHERE page_deleted_at IS NULL")
        # The list's count, as the lists run it, reads an index alone.
        plan = " ".join(r[-1] for r in c.execute(sqlalchemy.text(
            "EXPLAIN QUERY PLAN SELECT count(id) FROM schedules WHERE status = 'published' "
            "AND page_deleted_at IS NULL")))
        assert "COVERING INDEX ix_schedules_status_scheduled_at" in plan, plan
    flask_db(url, "downgrade", "0006_network_accounts")
    with engine.begin() as c:
        columns = {col["name"] for col in sqlalchemy.inspect(c).get_columns("schedules")}
        assert "page_deleted_at" not in columns and c.execute(sqlalchemy.text(
            "SELECT count(*) FROM schedules")).scalar() == 2
    engine.dispose()
