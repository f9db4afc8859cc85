"""The reconciler: every few seconds, bring back what a crash or a Redis wipe lost.

Schedules whose worker (or web process publishing now) went silent are
recorded as interrupted and queued again with the same idempotency key; due
schedules whose job Redis no longer holds get a job again; provider slots of
dead holders are freed.
"""

import json
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ... import heartbeats, metrics, queueing
from ...extensions import db, get_redis
from ...limits import free_dead_holders
from ...models import PublishLog, Schedule
from ...timeutil import utcnow
from .attempt import repeatable, slot_lease_seconds, unconfirmed
from ...tickets import Ticket

log = logging.getLogger("pagesite.publish")


def _lost(schedule, now):
    """Record an attempt whose worker vanished, and queue it again (same key)."""
    attempt = schedule.attempts
    message = (
        f"Attempt {attempt} was interrupted (its worker stopped before recording the result). "
        "It is retried with the same idempotency key, so it cannot post twice."
    )
    retry = attempt < schedule.max_attempts and repeatable(schedule.provider)
    # The network may have posted it: the page stays unchangeable until an attempt knows.
    if retry:
        values = dict(status="queued", next_attempt_at=now, last_error=message, outcome_unknown=True)
    elif not repeatable(schedule.provider):
        message = unconfirmed(schedule.provider, f"attempt {attempt} was interrupted (its worker stopped before "
                                                 "recording the result).")
        values = dict(status="failed", next_attempt_at=None, outcome_unknown=True, last_error=message)
    else:
        values = dict(status="failed", next_attempt_at=None, outcome_unknown=True,
                      last_error=message + " No attempts are left; check the provider before retrying.")
    result = db.session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id, Schedule.status == "publishing", Schedule.attempts == attempt)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    db.session.add(PublishLog(
        page_id=schedule.page_id, schedule_id=schedule.id, channel_id=schedule.channel_id, provider=schedule.provider,
        attempt=attempt, status="failed", error=message, created_at=now,
    ))
    db.session.commit()
    log.info(json.dumps({"event": "publish_lost", "schedule_id": schedule.id, "attempt": attempt,
                         "requeued": retry}))
    metrics.publish_finished(schedule.provider, "lost")
    if retry:
        db.session.refresh(schedule)
        queueing.dispatch(Ticket.of(schedule))  # at once, rather than a grace period later
    return True


def reconcile(batch=5000):
    """Rescue schedules whose worker died, and enqueue due ones Redis lost."""
    config = current_app.config
    connection = get_redis()
    now = utcnow()
    hard_limit = timedelta(seconds=queueing.job_timeout(config) + 5)
    # A worker (or a web process publishing now) whose heartbeat mark has
    # expired has been silent for a whole TTL.
    dead_after = timedelta(seconds=heartbeats.ttl(config))

    def dead(claimer_id):
        return not heartbeats.claimer_alive(connection, claimer_id)

    rescued = 0
    for schedule in db.session.scalars(select(Schedule).where(Schedule.status == "publishing")).all():
        age = now - (schedule.claimed_at or now)
        if (age > dead_after and dead(schedule.claimed_by or "")) or age > hard_limit:
            rescued += _lost(schedule, now)
    # And the provider slots they held, which their leases would keep for a while yet.
    freed = free_dead_holders(connection, dead, lease_seconds=slot_lease_seconds(config),
                              settled_seconds=heartbeats.ttl(config))

    # A due schedule normally leaves the scheduler within one interval; past
    # this grace, one without a live job has lost it.
    grace = timedelta(seconds=2 * float(config["SCHEDULER_INTERVAL"]) + 2)
    # Plain rows with what a job needs (queueing.publish_job_args), which a commit does not
    # expire them (ORM objects would each be reloaded, one query apiece).
    due = db.session.execute(
        select(Schedule.id, Schedule.channel_id, Schedule.next_attempt_at, Schedule.claimed_at)
        .where(Schedule.status == "queued", Schedule.next_attempt_at <= now - grace)
        .order_by(Schedule.next_attempt_at, Schedule.id)
        .limit(batch)
    ).all()
    db.session.commit()
    tickets = [Ticket.of(s) for s in due]
    job_ids = [queueing.publish_job_id(t) for t in tickets]
    live = queueing.job_statuses(job_ids, connection)
    # A job still "queued" or "scheduled" long after its time may be in no list
    # at all: its worker died between taking it off the queue and starting it.
    stranded_after = grace + timedelta(seconds=heartbeats.ttl(config))
    looked = 0
    requeued = 0
    for ticket, job_id in zip(tickets, job_ids):
        status, worker = live.get(job_id, (None, ""))
        # A job "started" on a queued schedule whose worker is dead (or that
        # started long ago) lost its worker before the claim, for instance
        # while it waited for a provider slot.
        lost = status is None or (status == "started" and (dead(worker) or now - ticket.due_at > hard_limit))
        if not lost and status in ("queued", "scheduled") and now - ticket.due_at > stranded_after \
                and looked < 100:  # each look scans the queue: a few per pass
            looked += 1
            lost = not queueing.is_waiting(job_id, status, connection)
        if lost:
            queueing.enqueue_now(ticket, connection)
            requeued += 1
    if rescued or requeued or freed:
        log.info(json.dumps({"event": "reconcile", "rescued": rescued, "requeued": requeued, "freed_slots": freed}))
    return {"rescued": rescued, "requeued": requeued, "freed_slots": freed}
