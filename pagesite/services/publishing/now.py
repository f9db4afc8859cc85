"""Publish-now: publish a schedule from a web request, but answer in time."""

import logging
import threading

from flask import current_app

from ... import heartbeats, queueing
from ...extensions import db, get_redis
from ...models import Schedule
from ...tickets import Ticket
from .attempt import Attempt, publish_schedule

log = logging.getLogger("pagesite.publish")


def publish_within(schedule_id, claimed_by, wait_seconds):
    """Publish now, but answer within ``wait_seconds``: the Attempt if it ended
    by then, else Attempt("publishing") while it carries on in the background.

    The publish runs in a thread of its own that keeps a heartbeat under
    ``claimed_by``: if this process dies mid-publish, the reconciler sees the
    silence and hands the schedule to a worker (same idempotency key). A
    provider slot that stays busy is left to a worker too (outcome ``busy``).
    """
    app = current_app._get_current_object()
    config = app.config
    finished = threading.Event()
    outcome = {}

    def run():
        try:
            with app.app_context():
                connection = get_redis()
                with heartbeats.beating(connection, claimed_by, heartbeats.ttl(config), heartbeats.interval(config)):
                    attempt = publish_schedule(schedule_id, claimed_by=claimed_by)
                if attempt.outcome == "busy":
                    queueing.dispatch(Ticket.of(db.session.get(Schedule, schedule_id)))
                # Ids only: the log row belongs to this thread's session.
                outcome.update(outcome=attempt.outcome, log_id=attempt.log_id)
        except BaseException as e:
            outcome["error"] = e
            log.exception("publish-now of schedule %s failed", schedule_id)
        finally:
            finished.set()

    threading.Thread(target=run, name=f"publish-now-{schedule_id}", daemon=True).start()
    if not finished.wait(wait_seconds):
        return Attempt("publishing", schedule_id)
    if "error" in outcome:
        raise outcome["error"]
    return Attempt(outcome["outcome"], schedule_id, outcome["log_id"])
