"""The functions the worker runs. Each is thin: a service call.

The worker (``processes.AppWorker``) runs every job inside its app's context,
and its name is the claimer id a claim records, so nothing here is set from
outside. A worker that runs many jobs in one process also keeps an
``InFlight`` in its app's extensions: publish jobs hand their provider calls
to it. ``queueing`` names these functions by their import path.
"""

from flask import current_app
from rq import get_current_job

from . import queueing
from .services import channels, publishing
from .timeutil import from_timestamp


def publish(schedule_id, channel_id=None, due_at=None, last_attempt_at=None):
    """Job: publish one schedule at its time (does nothing unless it can claim it).
    The scheduler hands jobs out ahead of their time; the hold waits for it.

    The other arguments are ``queueing.publish_job_args``; a job without them
    (enqueued by an older version) reads them from the schedule."""
    hold = queueing.hold_seconds(current_app.config)
    due = None
    if channel_id is not None:
        due = publishing.Due(channel_id, from_timestamp(due_at),
                             from_timestamp(last_attempt_at) if last_attempt_at is not None else None)
    return publishing.publish_schedule(schedule_id, claimed_by=claimer_id(), hold_seconds=hold, due=due,
                                       in_flight=current_app.extensions.get(publishing.IN_FLIGHT)).outcome


def reconcile():
    """Job: bring back lost work and rescue schedules whose worker died."""
    return publishing.reconcile()


def refresh_channels():
    """Job: read each network channel's account and limits again once they are a day old."""
    return channels.refresh_due()


def claimer_id():
    """The name of the worker running this job: claims name a process whose heartbeat can be checked."""
    job = get_current_job()
    return job.worker_name if job is not None else None
