"""Shared pieces for the scheduling, resilience and health tests."""

import contextlib
import json
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, insert, select

from pagesite import queueing

import conftest
from conftest import wait_until
from pagesite.tickets import Ticket

# Short heartbeats, so a killed worker's claims are rescued in seconds
# (production keeps the 15 s default).
FAST = {"PAGESITE_HEARTBEAT_TTL": "1.5", "PAGESITE_HEARTBEAT_INTERVAL": "0.25"}

@contextlib.contextmanager
def in_app():
    """An app context of its own (the app ``bind_app`` bound; see conftest)."""
    with conftest.bound_app().app_context():
        yield


def add_schedules(count, text="Hello", when=None, dispatch=True):
    """Insert ``count`` pages with one queued schedule each (two bulk INSERTs),
    then hand each to Redis unless ``dispatch`` is False. Returns schedule ids."""
    with in_app():
        return _add_schedules(count, text, when, dispatch)


def _add_schedules(count, text, when, dispatch):
    from pagesite.extensions import db
    from pagesite.models import Channel, Page, Schedule
    from pagesite.timeutil import utcnow
    from flask import current_app

    now = utcnow()
    when = when or now
    page_ids = db.session.scalars(
        insert(Page).returning(Page.id, sort_by_parameter_order=True),
        [{"text": f"{text} #{n}", "created_at": now, "updated_at": now} for n in range(count)],
    ).all()
    limit = current_app.config["PUBLISH_MAX_ATTEMPTS"]
    stub_id = db.session.scalar(select(Channel.id).where(Channel.provider == "stub").order_by(Channel.id))
    schedule_ids = db.session.scalars(
        insert(Schedule).returning(Schedule.id, sort_by_parameter_order=True),
        [
            {"page_id": p, "channel_id": stub_id, "provider": "stub", "scheduled_at": when, "status": "queued", "attempts": 0,
             "max_attempts": limit, "created_at": now, "updated_at": now}
            for p in page_ids
        ],
    ).all()
    db.session.commit()
    if dispatch:
        for schedule in db.session.scalars(select(Schedule).where(Schedule.id.in_(schedule_ids))):
            queueing.dispatch(Ticket.of(schedule))
    db.session.commit()
    return list(schedule_ids)


def status_counts():
    from pagesite.extensions import db
    from pagesite.models import Schedule

    with in_app():
        return dict(db.session.execute(select(Schedule.status, func.count()).group_by(Schedule.status)).all())


def get(schedule_id):
    from pagesite.extensions import db
    from pagesite.models import Schedule

    with in_app():
        schedule = db.session.get(Schedule, schedule_id)
        db.session.expunge_all()
        return schedule


def logs_for(schedule_id):
    from pagesite.extensions import db
    from pagesite.models import PublishLog

    with in_app():
        rows = db.session.scalars(
            select(PublishLog).where(PublishLog.schedule_id == schedule_id).order_by(PublishLog.id)
        ).all()
        db.session.expunge_all()
        return rows


def wait_all(status, count, timeout=30):
    """Wait until ``count`` schedules have ``status``; returns how long it took."""
    started = time.monotonic()
    wait_until(lambda: status_counts().get(status, 0) == count, timeout=timeout, interval=0.1,
               message=f"{count} schedules {status} (now {status_counts()})")
    return time.monotonic() - started


def pending_jobs(schedule_id):
    """Publish jobs for ``schedule_id`` that Redis still holds: scheduled, queued or running."""
    from rq.registry import StartedJobRegistry

    from pagesite.extensions import get_redis

    with in_app():
        connection, queue, scheduler = get_redis(), queueing.get_job_queue(), queueing.get_scheduler()
        held = {j.decode() for j in connection.zrange(scheduler.scheduled_jobs_key, 0, -1)}
        held |= set(queue.job_ids) | set(StartedJobRegistry(queue=queue).get_job_ids())
    return {job_id for job_id in held if job_id.startswith(f"publish-{schedule_id}-")}


def wait_settled(schedule_id, timeout=10):
    """Wait until nothing more is pending for ``schedule_id``: no retry waits, none runs."""
    wait_until(lambda: not pending_jobs(schedule_id), timeout=timeout,
               message=f"no job left for schedule {schedule_id} (still {pending_jobs(schedule_id)})")


def wait_jobs_done(job_ids, timeout=10):
    """Wait until RQ has run each of ``job_ids`` to its end."""
    from rq.job import Job

    from pagesite.extensions import get_redis

    with in_app():
        connection = get_redis()

    def done():
        return all(Job.fetch(job_id, connection=connection).get_status() in ("finished", "failed")
                   for job_id in job_ids)

    wait_until(done, timeout=timeout, message=f"jobs {job_ids} to run")


def wait_ready(workers=1, scheduler=True, timeout=20):
    """Wait for heartbeats from ``workers`` worker processes (and the scheduler)."""
    from pagesite import heartbeats
    from pagesite.extensions import get_redis

    with in_app():
        connection = get_redis()

    def ready():
        return len(heartbeats.worker_ages(connection)) >= workers and (
            not scheduler or heartbeats.scheduler_age(connection) is not None
        )

    wait_until(ready, timeout=timeout, message=f"{workers} worker(s) and the scheduler to beat")


def published_once(records):
    """{idempotency key: number of ``published`` outcomes} from the stub outbox."""
    return Counter(r["idempotency_key"] for r in records if r["outcome"] == "published")


def max_overlap(records):
    """The most provider calls in flight at one instant, from the stub's call spans."""
    events = sorted([(r["call_started"], 1) for r in records] + [(r["call_ends"], -1) for r in records],
                    key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def attempt_lines(*procs):
    """The structured ``publish_attempt`` log lines the given processes wrote."""
    lines = []
    for proc in procs:
        with open(proc.log_path) as f:
            for line in f:
                start = line.find("{")
                if start >= 0 and '"publish_attempt"' in line:
                    lines.append(json.loads(line[start:]))
    return lines


def seconds(delta):
    return delta / timedelta(seconds=1)


def make_page(client, text="Hello"):
    response = client.post("/api/pages", json={"text": text})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def schedule_page(client, page_id, when=None):
    body = {"page_id": page_id}
    if when is not None:
        body["scheduled_at"] = when.isoformat()
    response = client.post("/api/schedules", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def wait_status(schedule_id, statuses, timeout=15):
    statuses = (statuses,) if isinstance(statuses, str) else statuses
    return wait_until(lambda: (s := get(schedule_id)).status in statuses and s, timeout=timeout,
                      message=f"schedule {schedule_id} to be {'/'.join(statuses)} (is {get(schedule_id).status})")


def start(processes, workers=1, env=None):
    processes.scheduler(env=env)
    procs = [processes.worker(env=env) for _ in range(workers)]
    wait_ready(workers)
    return procs


def connect_channel(provider, settings, credentials, name=None):
    """A channel connected through the channels service (it asks the network): its id."""
    from pagesite.services import channels

    with in_app():
        channel, _ = channels.create_channel(provider, name or f"My {provider}", settings, credentials)
        return channel.id


def page_on_channel(text, channel_id):
    """A page with ``text``, scheduled on one channel for now: (page id, schedule id)."""
    from pagesite.services import pages, schedules

    with in_app():
        page = pages.create_page(text)
        [schedule] = schedules.create_schedules(page.id, [channel_id], None)
        return page.id, schedule.id
