"""The functions the worker runs. Each is thin: a service call.

The worker (``processes.AppWorker``) runs every job inside its app's context,
and its name is the claimer id a claim records, so nothing here is set from
outside. A worker that runs many jobs in one process also keeps an
``InFlight`` in its app's extensions: publish jobs hand their provider calls
to it. ``queueing`` names these functions by their import path.
"""

import logging

from flask import current_app
from rq import get_current_job

from . import installation, queueing
from .services import channels, engagement, feeds, publishing
from .tickets import Ticket
from .timeutil import from_timestamp

log = logging.getLogger(__name__)


def publish(schedule_id, channel_id=None, due_at=None, last_attempt_at=None, installation_id=None):
    """Job: publish one schedule at its time (does nothing unless it can claim it).
    The scheduler hands jobs out ahead of their time; the hold waits for it.

    The other arguments are ``queueing.publish_job_args``; a job without them
    (enqueued by an older version) reads them from the schedule. A job of
    another installation is refused: its schedule id names a schedule of
    another database."""
    if installation_id is not None and installation_id != installation.current_id():
        raise _foreign(installation_id)
    hold = queueing.hold_seconds(current_app.config)
    ticket = None
    if channel_id is not None:
        ticket = Ticket(schedule_id, channel_id, from_timestamp(due_at),
                        from_timestamp(last_attempt_at) if last_attempt_at is not None else None)
    return publishing.publish_schedule(schedule_id, claimed_by=claimer_id(), hold_seconds=hold, ticket=ticket,
                                       in_flight=current_app.extensions.get(publishing.IN_FLIGHT)).outcome


def reconcile():
    """Job: bring back lost work and rescue schedules whose worker died."""
    return publishing.reconcile()


def refresh_channels():
    """Job: read each network channel's account and limits again once they are a day old."""
    return channels.refresh_due()


def read_engagement():
    """Job: read the counts of published posts whose next reading by age has come."""
    return engagement.read_due()


def poll_feeds():
    """Job: read the feeds whose time has come; each new item becomes a page, once."""
    return feeds.poll_due()


class ForeignJob(Exception):
    """A job of another installation. It fails rather than being skipped, so it stays in RQ's failed
    jobs, where anyone can see it, and its own installation's reconciler (which sees it is no longer
    live) enqueues its schedule again."""


def _foreign(theirs):
    job = get_current_job()
    message = (f"job {job.id if job else '(none)'} belongs to installation {theirs}, not to this one "
               f"({installation.current_id()}): refused; it goes to RQ's failed jobs")
    log.error(message)
    return ForeignJob(message)


def claimer_id():
    """The name of the worker running this job: claims name a process whose heartbeat can be checked."""
    job = get_current_job()
    return job.worker_name if job is not None else None
