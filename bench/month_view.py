"""The calendar's month view with 10,000 schedules in range, against a
hand-written query for the same month served by the same gunicorn.

Baseline (``GET /api/bench/raw-calendar`` in ``bench/baseline_wsgi.py``): one
SQL statement reads every schedule of the month with its page's text, and
Python keeps the first three of each day and counts the rest (what a month
cell shows), answered as JSON behind the same authentication check. pagesite
answers ``GET /calendar?view=month`` with the whole HTML page.
"""

import random
from datetime import datetime, timedelta, timezone

import requests
from sqlalchemy import text

from .common import api_token, percentile, seed_schedules, session_cookie
from .lists import _time_pair

# The month view of January 2031 (Monday-first weeks): Monday 30 December 2030 to Sunday 2 February 2031.
GRID_START, GRID_END = datetime(2030, 12, 30, tzinfo=timezone.utc), datetime(2031, 2, 3, tzinfo=timezone.utc)


def _seed(app, in_range):
    rng = random.Random(11)
    span = (GRID_END - GRID_START).total_seconds()
    rows = [(GRID_START + timedelta(seconds=int(rng.uniform(0, span))), rng.choice(["queued"] * 3 + ["published"]))
            for _ in range(in_range)]
    # As many again outside the month, so the range query has something to skip.
    rows += [(GRID_END + timedelta(days=rng.uniform(1, 300)), "queued") for _ in range(in_range)]
    seed_schedules(app, rows)


def run(ctx, db):
    from pagesite.extensions import db as sqla

    count = 1_000 if ctx.quick else 10_000
    samples = 5 if ctx.quick else 100
    app = ctx.fresh(db)
    _seed(app, count)
    with app.app_context():
        if sqla.engine.dialect.name == "postgresql":
            with sqla.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE schedules"))
                connection.execute(text("VACUUM ANALYZE pages"))
        sqla.session.remove()
    token, user_id = api_token(app)
    cookie_name, cookie = session_cookie(app, user_id)
    web = ctx.gunicorn(module="bench.baseline_wsgi:app")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    browser = requests.Session()
    browser.cookies.set(cookie_name, cookie)
    browser.cookies.set("pagesite_tz", "UTC")

    page_url = web.url + "/calendar?view=month&date=2031-01-15"
    raw_url = (web.url + "/api/bench/raw-calendar?from=" + GRID_START.isoformat().replace("+00:00", "Z")
               + "&to=" + GRID_END.isoformat().replace("+00:00", "Z"))
    # Same month, same chips, same counts, or the comparison means nothing.
    html = browser.get(page_url)
    html.raise_for_status()
    raw = api.get(raw_url).json()
    shown = sum(len(day["items"]) for day in raw["days"])
    hidden = sum(day["more"] for day in raw["days"])
    chips = html.text.count(' id="chip-')  # the grid's chips (the agenda repeats them for phones)
    if chips != shown or shown + hidden != count:
        raise AssertionError(f"month view and baseline differ: {chips} chips vs {shown} (+{hidden} more) of {count}")
    pair = _time_pair((browser, page_url), (api, raw_url), samples)
    times, base = pair
    p50, b50 = percentile(times, 50), percentile(base, 50)
    return [{
        "bench": "month_view", "db": db, "metric": f"month view, {count:,} schedules in range, p50", "value": p50,
        "unit": "ms", "baseline": b50, "baseline_label": "hand-written SQL for the month, same server (JSON)",
        "ratio": p50 / b50, "goal": "p50 < 50 ms, ratio <= 3", "met": p50 < 50 and p50 / b50 <= 3,
    }, {
        "bench": "month_view", "db": db, "metric": "month view p99", "value": percentile(times, 99), "unit": "ms",
        "baseline": percentile(base, 99), "ratio": percentile(times, 99) / percentile(base, 99), "goal": "",
        "met": None,
    }]
