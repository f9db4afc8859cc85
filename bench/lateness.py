"""Lateness: how long after its time each schedule is published, with the
worker process as ``python worker.py`` runs it (one scheduler, two workers,
the default 1 s scheduler interval). First a steady load spread over some
seconds, then a burst all due at the same instant."""

import sys
import time
from datetime import timedelta

from sqlalchemy import select

from .common import percentile, seed_schedules, tail


def _wait_for_processes(ctx, proc, workers=2, timeout=60):
    from pagesite import heartbeats

    connection = ctx.redis()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker.py exited with {proc.returncode}:\n{tail(proc.log_path)}")
        if heartbeats.scheduler_age(connection) is not None and len(heartbeats.worker_ages(connection)) >= workers:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the scheduler and {workers} workers did not start within {timeout} s")


def _late(rows):
    return [(published - scheduled).total_seconds() for scheduled, published in rows]


def run(ctx, db):
    from pagesite import queueing
    from pagesite.extensions import db as sqla
    from pagesite.models import Schedule
    from pagesite.timeutil import utcnow

    spread_seconds, per_second, burst = (2, 10, 50) if ctx.quick else (20, 10, 1000)
    app = ctx.fresh(db)  # default SCHEDULER_INTERVAL (1 s)
    proc = ctx.start([sys.executable, "worker.py"], "worker-all")
    _wait_for_processes(ctx, proc)

    lead = 2.0 if ctx.quick else 3.0  # seconds to seed and dispatch before the first is due
    gap = 1 if ctx.quick else 3  # seconds between the spread load and the burst
    start = utcnow() + timedelta(seconds=lead)
    spread_times = [start + timedelta(seconds=n / per_second) for n in range(spread_seconds * per_second)]
    burst_at = start + timedelta(seconds=spread_seconds + gap)
    spread_ids = seed_schedules(app, [(t, "queued") for t in spread_times])
    burst_ids = seed_schedules(app, [(burst_at, "queued")] * burst)
    with app.app_context():
        for schedule in sqla.session.scalars(select(Schedule).order_by(Schedule.scheduled_at, Schedule.id)):
            queueing.dispatch(schedule)
        sqla.session.commit()
    if utcnow() > start:
        raise RuntimeError("seeding took longer than the lead time; the first schedules were due before dispatch")

    expected = len(spread_ids) + len(burst_ids)
    deadline = time.monotonic() + lead + spread_seconds + gap + 120
    with app.app_context():
        while True:
            done = sqla.session.query(Schedule).filter(Schedule.status == "published").count()
            sqla.session.commit()
            if done == expected:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{done} of {expected} published; worker log:\n{tail(proc.log_path)}")
            time.sleep(0.2)
        rows = sqla.session.execute(select(Schedule.id, Schedule.scheduled_at, Schedule.published_at)).all()
    ctx.stop(proc)

    spread_set = set(spread_ids)
    spread = _late([(r.scheduled_at, r.published_at) for r in rows if r.id in spread_set])
    bursty = _late([(r.scheduled_at, r.published_at) for r in rows if r.id not in spread_set])
    rate = ctx.results.get(("publish_rate", db))
    budget = burst / rate + 2 if rate else None
    label = f"{len(spread)} over {spread_seconds} s"
    result = []
    for name, values in (("p50", spread), ("p99", spread), ("max", spread)):
        value = {"p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values)}[name]
        result.append({
            "bench": "lateness", "db": db, "metric": f"spread {label}: {name} late", "value": value, "unit": "s",
            "goal": "p99 < 1.5 s" if name == "p99" else "", "met": value < 1.5 if name == "p99" else None,
        })
    early = min(spread + bursty)
    result.append({
        "bench": "lateness", "db": db, "metric": "earliest (never early)", "value": early, "unit": "s",
        "goal": "min >= 0", "met": early >= 0,
    })
    result.append({
        "bench": "lateness", "db": db, "metric": f"burst of {burst}: last published after", "value": max(bursty),
        "unit": "s", "baseline": budget, "baseline_label": f"{burst} / publish rate + 2 s" if budget else None,
        "ratio": max(bursty) / budget if budget else None,
        "goal": "within budget", "met": max(bursty) <= budget if budget else None,
        "notes": f"burst p50 {percentile(bursty, 50):.2f} s, p99 {percentile(bursty, 99):.2f} s"
                 + ("" if rate else "; no budget: run the publish benchmark in the same run"),
    })
    return result
