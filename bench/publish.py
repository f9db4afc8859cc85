"""Publish throughput: schedules due now, published by worker processes through
the stub provider, against the same number of no-op RQ jobs through the same
worker class and process count.

Throughput is counted over the working span, from the first job's start to the
last job's end as RQ records them, on both sides alike: process start-up is not
throughput (pagesite's worker imports and builds its app, about 2 s, where a
bare RQ worker starts in 0.4 s). The wall time including start-up is reported
beside it.
"""

import sys
import time
from datetime import timedelta

from rq import Queue
from rq.job import Job
from sqlalchemy import func, select

from pagesite.tickets import Ticket

from .common import QUEUE, seed_schedules, tail

WORKERS = 2


def _working_span(connection, job_ids, last_published_at=None):
    """Seconds from the first of these jobs' start to the last one's end (or to
    the last publish, when a worker recorded one after its job ended: a job
    may hand its provider call to a thread)."""
    jobs = [job for job in Job.fetch_many(job_ids, connection=connection) if job is not None]
    if len(jobs) != len(job_ids) or any(job.started_at is None or job.ended_at is None for job in jobs):
        raise RuntimeError("some jobs left no start or end time (result_ttl too short?)")
    end = max(job.ended_at for job in jobs)
    if last_published_at is not None:
        end = max(end, last_published_at.replace(tzinfo=None) if end.tzinfo is None else last_published_at)
    return (end - min(job.started_at for job in jobs)).total_seconds()


def _run_workers(ctx, args, name, timeout=600):
    """Start WORKERS burst workers, wait for all to finish; seconds taken (start-up included)."""
    started = time.monotonic()
    procs = [ctx.start(args, name) for _ in range(WORKERS)]
    deadline = started + timeout
    for proc in procs:
        proc.wait(timeout=max(1, deadline - time.monotonic()))
    elapsed = time.monotonic() - started
    for proc in procs:
        ctx.procs.remove(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail(proc.log_path)}")
    return elapsed


def run(ctx, db):
    from pagesite import queueing
    from pagesite.extensions import db as sqla
    from pagesite.models import Schedule
    from pagesite.timeutil import utcnow

    count = 100 if ctx.quick else 2000
    rounds = 1 if ctx.quick else 3
    app = ctx.fresh(db)
    connection = ctx.redis()
    queue = Queue(QUEUE, connection=connection)
    with app.app_context():
        timeout = queueing.job_timeout()

    # Baseline and pagesite alternately; the best round of each counts (on a
    # shared machine, the one least disturbed by others).
    baseline_times, publish_times, baseline_walls, publish_walls = [], [], [], []
    for _ in range(rounds):
        # Baseline: no-op jobs, enqueued with the options pagesite's jobs carry.
        job_ids = [queue.enqueue("bench.rqworker.noop", job_timeout=timeout, result_ttl=600,
                                 failure_ttl=24 * 3600).id for _ in range(count)]
        baseline_walls.append(_run_workers(ctx, [sys.executable, "-m", "bench.rqworker", QUEUE], "rq-noop"))
        if len(queue) or queue.failed_job_registry.count:
            raise RuntimeError("the baseline left jobs behind")
        baseline_times.append(_working_span(connection, job_ids))

        # pagesite: schedules due now, each with its publish job on the queue.
        seed_schedules(app, [(utcnow() - timedelta(seconds=1), "queued")] * count)
        with app.app_context():
            job_ids = []
            for schedule in sqla.session.scalars(select(Schedule).where(Schedule.status == "queued")):
                queueing.enqueue_now(Ticket.of(schedule), connection)
                job_ids.append(queueing.publish_job_id(Ticket.of(schedule)))
            sqla.session.commit()
        publish_walls.append(_run_workers(ctx, [sys.executable, "worker.py", "work", "--burst"], "worker"))
        with app.app_context():
            left = sqla.session.query(Schedule).filter(Schedule.status != "published").count()
            last_published_at = sqla.session.scalar(select(func.max(Schedule.published_at)))
            sqla.session.commit()
        publish_times.append(_working_span(connection, job_ids, last_published_at))
        if left:
            raise RuntimeError(f"{left} of {count} schedules were not published")

    rate, base_rate = count / min(publish_times), count / min(baseline_times)
    ctx.results[("publish_rate", db)] = rate
    ctx.results[("raw_rate", db)] = base_rate  # the lateness burst's budget
    return [{
        "bench": "publish", "db": db,
        "metric": f"publishes/s ({count} schedules, {WORKERS} workers, best of {rounds})",
        "value": rate, "unit": "/s", "baseline": base_rate, "baseline_label": "no-op RQ jobs/s",
        "ratio": rate / base_rate, "goal": "ratio >= 0.5", "met": rate / base_rate >= 0.5,
        "notes": f"with process start-up: {count / min(publish_walls):.0f}/s against {count / min(baseline_walls):.0f}/s",
    }]
