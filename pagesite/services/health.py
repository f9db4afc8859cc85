"""Is pagesite able to publish right now? One report for the API and the CLI."""

import logging

from flask import current_app
from sqlalchemy import func, select

from .. import heartbeats, queueing
from ..extensions import db, get_redis
from ..models import PublishLog, Schedule
from ..timeutil import isoformat, utcnow
from . import channels

log = logging.getLogger(__name__)

# What a report says of a store that does not answer: never the driver's own message (it may
# name hosts, users, paths or queries), which goes to the log instead.
DATABASE_DOWN = "the database does not answer"
REDIS_DOWN = "Redis does not answer"


def report(with_channel_errors=False):
    """(healthy, details). Unhealthy ("degraded") when the database or Redis does not
    answer, or when no worker or no scheduler has shown a heartbeat recently.

    Channels needing attention are listed (by id, name and provider; with their
    last error only when asked: the CLI). The details are for the operator: the API
    shows them only with a token or a session (``summary`` is what anyone may see)."""
    config = current_app.config
    stale = float(config["HEARTBEAT_STALE_SECONDS"])
    problems = []
    details = {"checks": {}}

    try:
        now = utcnow()
        # Overdue for the worker: its next attempt is due (the user's time may be long past after retries).
        due = (Schedule.status == "queued", Schedule.next_attempt_at <= now)
        due_count = db.session.scalar(select(func.count(Schedule.id)).where(*due))
        publishing = db.session.scalar(select(func.count(Schedule.id)).where(Schedule.status == "publishing"))
        # The oldest due schedule, by the (status, next_attempt_at, id) index: its id and time in one read.
        oldest_id, oldest = db.session.execute(
            select(Schedule.id, Schedule.next_attempt_at).where(*due)
            .order_by(Schedule.next_attempt_at, Schedule.id).limit(1)
        ).first() or (None, None)
        db.session.commit()
        attention = channels.needing_attention()
        db.session.commit()
        details["checks"]["database"] = {"ok": True}
        # Not a reason for 503 (other channels still publish), but someone must reconnect these.
        details["channels_needing_attention"] = [
            {"id": c.id, "name": c.name, "provider": c.provider,
             **({"last_error": c.last_error} if with_channel_errors else {})} for c in attention
        ]
        details["schedules"] = {
            "due_unclaimed": due_count,
            "publishing": publishing,
            "oldest_overdue_id": oldest_id,
            "oldest_overdue_at": isoformat(oldest),
            "oldest_overdue_seconds": round((now - oldest).total_seconds(), 3) if oldest else None,
        }
    except Exception:
        log.exception("health check: %s", DATABASE_DOWN)
        db.session.rollback()
        details["checks"]["database"] = {"ok": False, "error": DATABASE_DOWN}
        problems.append(DATABASE_DOWN)

    try:
        connection = get_redis()
        connection.ping()
        workers = heartbeats.worker_ages(connection)
        scheduler_age = heartbeats.scheduler_age(connection)
        details["checks"]["redis"] = {"ok": True}
        details["queue_depth"] = queueing.get_job_queue(connection).count
        fresh_workers = {w: age for w, age in workers.items() if age <= stale}
        details["checks"]["worker"] = {
            "ok": bool(fresh_workers),
            "processes": len(fresh_workers),
            "last_heartbeat_age": min(workers.values()) if workers else None,
        }
        details["checks"]["scheduler"] = {
            "ok": scheduler_age is not None and scheduler_age <= stale,
            "last_heartbeat_age": scheduler_age,
        }
        if not fresh_workers:
            problems.append(f"no worker heartbeat in the last {stale:g} s")
        if not details["checks"]["scheduler"]["ok"]:
            problems.append(f"no scheduler heartbeat in the last {stale:g} s")
    except Exception:
        log.exception("health check: %s", REDIS_DOWN)
        details["checks"]["redis"] = {"ok": False, "error": REDIS_DOWN}
        problems.append(REDIS_DOWN)

    details["status"] = "ok" if not problems else "degraded"
    details["problems"] = problems
    details["checked_at"] = isoformat(utcnow())
    return not problems, details


def summary(details):
    """What a caller without a token may know of a report: ok or degraded, nothing more."""
    return {"status": details["status"]}



def recent_failures(limit=10):
    """The latest failed publish attempts, newest first (for the status page)."""
    return db.session.scalars(
        select(PublishLog).where(PublishLog.status == "failed").order_by(PublishLog.id.desc()).limit(limit)
    ).all()
