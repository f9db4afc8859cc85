"""Shared pieces for the scheduling, resilience and health tests."""

import contextlib
import json
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from conftest import wait_until

# Short heartbeats, so a killed worker's claims are rescued in seconds
# (production keeps the 15 s default).
FAST = {"PAGESITE_HEARTBEAT_TTL": "1.5", "PAGESITE_HEARTBEAT_INTERVAL": "0.25"}

APP = None


@pytest.fixture(autouse=True)
def bind_app(app):
    """Let the helpers open app contexts of their own (each call a fresh session:
    an app context held for a whole test would be shared with the test client's requests)."""
    global APP
    APP = app
    yield


@contextlib.contextmanager
def in_app():
    with APP.app_context():
        yield


def add_schedules(count, text="Hello", when=None, dispatch=True):
    """Insert ``count`` pages with one queued schedule each (two bulk INSERTs),
    then hand each to Redis unless ``dispatch`` is False. Returns schedule ids."""
    with in_app():
        return _add_schedules(count, text, when, dispatch)


def _add_schedules(count, text, when, dispatch):
    from pagesite import jobs
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
             "attempt_limit": limit, "created_at": now, "updated_at": now}
            for p in page_ids
        ],
    ).all()
    db.session.commit()
    if dispatch:
        for schedule in db.session.scalars(select(Schedule).where(Schedule.id.in_(schedule_ids))):
            jobs.dispatch(schedule)
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
