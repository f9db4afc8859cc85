"""Lateness: how long after its time each schedule is published, with the
worker process as ``python worker.py`` runs it (one scheduler, two workers,
the default 1 s scheduler interval). First a steady load spread over some
seconds, then a burst all due at the same instant.

The baselines come from the same run: the spread load through stock
rq-scheduler (1 s polls) and bare RQ workers running no-op jobs, and for the
burst, the time raw RQ needs to run as many jobs (the publish benchmark's
no-op rate) plus 2 s.
"""

import os
import sys
import time
from datetime import timedelta, timezone

from rq import Queue
from rq.job import Job
from sqlalchemy import select

from pagesite.tickets import Ticket

from .common import percentile, seed_schedules, tail

RAW_QUEUE = "bench-raw-lateness"


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


def _raw_rq_spread(ctx, times, workers=2, timeout=120):
    """Lateness of no-op jobs at ``times`` through stock rq-scheduler and RQ workers (when each ended)."""
    from rq_scheduler import Scheduler

    connection = ctx.redis()
    scheduler = Scheduler(queue_name=RAW_QUEUE, connection=connection)
    job_ids = [scheduler.enqueue_at(when, "bench.rqworker.noop").id for when in times]
    rqscheduler = os.path.join(os.path.dirname(sys.executable), "rqscheduler")
    procs = [ctx.start([rqscheduler, "--url", ctx.redis_url, "--interval", "1"], "rq-scheduler")]
    procs += [ctx.start([sys.executable, "-m", "bench.rqworker", RAW_QUEUE], "rq-lateness", env={"BENCH_RQ_BURST": "0"})
              for _ in range(workers)]
    deadline = time.monotonic() + (times[-1] - times[0]).total_seconds() + timeout
    queue = Queue(RAW_QUEUE, connection=connection)
    while queue.finished_job_registry.count < len(job_ids):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"raw RQ lateness baseline stalled:\n{tail(procs[0].log_path)}")
        time.sleep(0.2)
    for proc in procs:
        ctx.stop(proc)
    connection.delete(scheduler.scheduler_lock_key)  # its process is gone; pagesite's scheduler shares the key
    ended = [job.ended_at for job in Job.fetch_many(job_ids, connection=connection)]
    return [((end if end.tzinfo else end.replace(tzinfo=timezone.utc)) - when).total_seconds()
            for when, end in zip(times, ended)]


def run(ctx, db):
    from pagesite import queueing
    from pagesite.extensions import db as sqla
    from pagesite.models import Schedule
    from pagesite.timeutil import utcnow

    spread_seconds, per_second, burst = (2, 10, 50) if ctx.quick else (20, 10, 1000)
    app = ctx.fresh(db)  # default SCHEDULER_INTERVAL (1 s)
    raw_start = utcnow() + timedelta(seconds=2)
    raw = _raw_rq_spread(ctx, [raw_start + timedelta(seconds=n / per_second)
                               for n in range(spread_seconds * per_second)])
    proc = ctx.start([sys.executable, "worker.py"], "worker-all")
    _wait_for_processes(ctx, proc)

    lead = 2.0 if ctx.quick else 3.0  # seconds to seed and dispatch before the first is due
    gap = 1 if ctx.quick else 3  # seconds between the spread load and the burst
    start = utcnow() + timedelta(seconds=lead)
    spread_times = [start + timedelta(seconds=n / per_second) for n in range(spread_seconds * per_second)]
    burst_at = start + timedelta(seconds=spread_seconds + gap)
    spread_ids = seed_schedules(app, [(t, "queued") for t in spread_times])
    burst_ids = seed_schedules(app, [(burst_at, "queued")] * burst)
    burst_set, burst_jobs = set(burst_ids), []
    with app.app_context():
        for schedule in sqla.session.scalars(select(Schedule).order_by(Schedule.scheduled_at, Schedule.id)):
            queueing.dispatch(Ticket.of(schedule))
            if schedule.id in burst_set:
                burst_jobs.append(queueing.publish_job_id(Ticket.of(schedule)))
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
    # When the last of the burst's jobs reached the queue, against the burst's time
    # (negative: all were there before it fell due).
    enqueued = [job.enqueued_at for job in Job.fetch_many(burst_jobs, connection=ctx.redis()) if job]
    last_enqueued = max(((e if e.tzinfo else e.replace(tzinfo=timezone.utc)) - burst_at).total_seconds()
                        for e in enqueued) if enqueued else None

    spread_set = set(spread_ids)
    spread = _late([(r.scheduled_at, r.published_at) for r in rows if r.id in spread_set])
    bursty = _late([(r.scheduled_at, r.published_at) for r in rows if r.id not in spread_set])
    rate = ctx.results.get(("raw_rate", db))
    budget = burst / rate + 2 if rate else None
    label = f"{len(spread)} over {spread_seconds} s"
    raw_p99 = percentile(raw, 99)
    result = []
    for name, values in (("p50", spread), ("p99", spread), ("max", spread)):
        value = {"p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values)}[name]
        row = {"bench": "lateness", "db": db, "metric": f"spread {label}: {name} late", "value": value, "unit": "s",
               "goal": "p99 <= 0.25 s" if name == "p99" else "", "met": value <= 0.25 if name == "p99" else None}
        if name == "p99":
            row.update(baseline=raw_p99, baseline_label="p99, no-op jobs, stock rq-scheduler",
                       ratio=value / raw_p99 if raw_p99 else None,
                       notes=f"raw RQ: p50 {percentile(raw, 50):.3f} s, earliest {min(raw):.3f} s")
        result.append(row)
    early = min(spread + bursty)
    result.append({
        "bench": "lateness", "db": db, "metric": "earliest (never early)", "value": early, "unit": "s",
        "goal": "min >= 0", "met": early >= 0,
    })
    result.append({
        "bench": "lateness", "db": db, "metric": f"burst of {burst}: last published after", "value": max(bursty),
        "unit": "s", "baseline": budget, "baseline_label": f"{burst} / raw RQ jobs/s + 2 s" if budget else None,
        "ratio": max(bursty) / budget if budget else None,
        "goal": "ratio <= 1", "met": max(bursty) <= budget if budget else None,
        "notes": f"burst p50 {percentile(bursty, 50):.2f} s, p99 {percentile(bursty, 99):.2f} s"
                 + (f"; last job on the queue {last_enqueued:+.2f} s from the burst's time"
                    if last_enqueued is not None else "")
                 + ("" if rate else "; no budget: run the publish benchmark in the same run"),
    })
    return result
