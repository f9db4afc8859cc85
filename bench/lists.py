"""Lists at scale: many schedules in the database; the API list and the
/schedules page, first and a deep page, against the same rows (and count)
fetched by a hand-written SQL query through SQLAlchemy Core and served as JSON
by the same gunicorn, workers and token check (``bench/baseline_wsgi.py``).
The same query run in this process, without HTTP, is shown too. Prints the
query plans."""

import random
import time
from datetime import timedelta

import requests
import sqlalchemy
from sqlalchemy import event, text

from .common import api_token, percentile, seed_schedules, session_cookie

STATUSES = ["queued"] * 4 + ["published"] * 4 + ["failed", "canceled"]
BASELINE_SQL = text(
    "SELECT s.id, s.page_id, s.provider, s.scheduled_at, s.status, s.attempts, s.max_attempts, s.last_error, "
    "s.published_at, s.external_id, s.url, s.created_at, s.updated_at, p.id AS page_id_1, p.text "
    "FROM schedules s JOIN pages p ON p.id = s.page_id WHERE s.status = :status "
    "ORDER BY s.scheduled_at, s.id LIMIT :limit OFFSET :offset"
)


def _seed(app, count):
    from pagesite.timeutil import utcnow

    rng = random.Random(7)
    now = utcnow()
    rows = []
    for _ in range(count):
        status = rng.choice(STATUSES)
        days = rng.uniform(0, 60) * (1 if status == "queued" else -1)
        rows.append((now + timedelta(days=days, seconds=1), status))
    seed_schedules(app, rows)


def _explain(app, statements):
    """Plans of the statements the list runs, as the database will run them."""
    from pagesite.extensions import db

    plans = []
    with app.app_context():
        with db.engine.connect() as connection:
            dialect = connection.dialect.name
            for statement, params in statements:
                prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
                rows = connection.exec_driver_sql(prefix + statement, params).all()
                plan = "\n".join("  " + (r[-1] if dialect == "sqlite" else r[0]) for r in rows)
                plans.append(f"{' '.join(statement.split())[:160]}...\n{plan}")
    return plans


def _capture(app, status, page, per_page):
    """The SQL statements (and parameters) a list request runs."""
    from pagesite.extensions import db
    from pagesite.services import schedules

    seen = []

    def listen(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    with app.test_request_context():
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            schedules.list_schedules(status, None, page, per_page)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
            db.session.remove()
    return seen


def _time_requests(session, url, count, **kwargs):
    times = []
    for n in range(count + 3):
        t0 = time.perf_counter()
        response = session.get(url, **kwargs)
        elapsed = time.perf_counter() - t0
        if response.status_code == 404:
            return None
        response.raise_for_status()
        if n >= 3:  # the first few warm up both workers
            times.append(elapsed * 1000)
    return times


def _time_pair(first, second, count):
    """Alternate two requests (session, url) ``count`` times each, after a
    warm-up, so both see the same moments of a noisy machine; (ms, ms) or None."""
    times = ([], [])
    for n in range(count + 3):
        for (session, url), out in zip((first, second), times):
            t0 = time.perf_counter()
            response = session.get(url, allow_redirects=False)
            elapsed = time.perf_counter() - t0
            if response.status_code == 404:
                return None
            response.raise_for_status()
            if n >= 3:  # the first few warm up both workers
                out.append(elapsed * 1000)
    return times


def _time_sql(engine, count, status, limit, offset):
    times = []
    with engine.connect() as connection:
        for n in range(count + 3):
            t0 = time.perf_counter()
            connection.execute(BASELINE_SQL, {"status": status, "limit": limit, "offset": offset}).all()
            elapsed = time.perf_counter() - t0
            if n >= 3:
                times.append(elapsed * 1000)
    return times


def run(ctx, db):
    from pagesite.extensions import db as sqla

    count = 2_000 if ctx.quick else 100_000
    samples = 5 if ctx.quick else 100
    app = ctx.fresh(db)
    _seed(app, count)
    with app.app_context():
        if sqla.engine.dialect.name == "postgresql":
            # What autovacuum would have done by now (statistics, visibility map).
            with sqla.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE schedules"))
                connection.execute(text("VACUUM ANALYZE pages"))
        queued = sqla.session.execute(text("SELECT count(*) FROM schedules WHERE status = 'queued'")).scalar()
        sqla.session.remove()
    token, user_id = api_token(app)
    cookie_name, cookie = session_cookie(app, user_id)
    # pagesite's routes and the baseline's, in the same process and server.
    web = ctx.gunicorn(module="bench.baseline_wsgi:app")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    browser = requests.Session()
    browser.cookies.set(cookie_name, cookie)
    engine = sqlalchemy.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])

    result, notes = [], []
    # What any authenticated API request costs here, for scale.
    floor = _time_requests(api, web.url + "/api/providers", samples)
    result.append({"bench": "lists", "db": db, "metric": "request floor: GET /api/providers p50",
                   "value": percentile(floor, 50), "unit": "ms", "goal": "", "met": None})
    targets = [("API", "/api/schedules?status=queued&per_page=50&page={page}", 50, "hand-written SQL, same server"),
               ("HTML /schedules", "/schedules?status=queued&page={page}", 20,
                "hand-written SQL as JSON, same server")]
    raw = "/api/bench/raw-schedules?status=queued&per_page={per_page}&page={page}"
    for label, path, per_page, baseline_label in targets:
        deep = max(1, -(-queued // per_page) - 1)  # the last full page
        for which, page in (("first page", 1), (f"page {deep}", deep)):
            raw_url = web.url + raw.format(per_page=per_page, page=page)
            # Same rows, same order, same count, or the comparison means nothing.
            ours = api.get(web.url + f"/api/schedules?status=queued&per_page={per_page}&page={page}").json()
            theirs = api.get(raw_url).json()
            if ([i["id"] for i in ours["items"]] != [i["id"] for i in theirs["items"]]
                    or ours["total"] != theirs["total"]):
                raise AssertionError(f"baseline rows differ from pagesite's ({label}, page {page})")
            pair = _time_pair((browser if label.startswith("HTML") else api, web.url + path.format(page=page)),
                              (api, raw_url), samples)
            metric = f"{label} {which} ({count:,} schedules, {per_page}/page)"
            if pair is None:
                result.append({"bench": "lists", "db": db, "metric": metric, "value": "not available",
                               "goal": "", "met": None})
                continue
            times, base = pair
            p50, p99 = percentile(times, 50), percentile(times, 99)
            b50, b99 = percentile(base, 50), percentile(base, 99)
            result.append({
                "bench": "lists", "db": db, "metric": metric + " p50", "value": p50, "unit": "ms",
                "baseline": b50, "baseline_label": baseline_label, "ratio": p50 / b50,
                "goal": "ratio <= 3, p50 < 30 ms", "met": p50 / b50 <= 3 and p50 < 30,
            })
            result.append({
                "bench": "lists", "db": db, "metric": metric + " p99", "value": p99, "unit": "ms",
                "baseline": b99, "ratio": p99 / b99, "goal": "", "met": None,
            })
            # Informational: the query alone, in this process (no HTTP, auth, count or JSON).
            inproc = _time_sql(engine, samples, "queued", per_page, (page - 1) * per_page)
            result.append({
                "bench": "lists", "db": db, "metric": f"{label} {which}: hand-written SQL in process, no HTTP, p50",
                "value": percentile(inproc, 50), "unit": "ms", "goal": "", "met": None,
            })
        statements = _capture(app, "queued", deep, per_page)
        notes.extend(f"[{label}, page {deep}] {plan}" for plan in _explain(app, statements))
    engine.dispose()
    plans = "\n".join(notes)
    # Every statement that reads schedules reaches them through an index.
    uses_index = all(("USING" in n and "INDEX" in n) or "Index" in n for n in notes if "FROM schedules" in n)
    result.append({"bench": "lists", "db": db, "metric": "query plans use an index", "value": str(uses_index),
                   "goal": "index", "met": uses_index, "notes": plans})
    return result
