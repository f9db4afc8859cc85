"""The functions the worker runs. Each is thin: a service call.

The worker (``processes.AppWorker``) runs every job inside its app's context,
and its name is the claimer id a claim records, so nothing here is set from
outside. ``queueing`` names these functions by their import path.
"""

from flask import current_app
from rq import get_current_job

from . import queueing
from .services import channels, publishing


def publish(schedule_id):
    """Job: publish one schedule at its time (does nothing unless it can claim it).
    The scheduler hands jobs out ahead of their time; the hold waits for it."""
    hold = queueing.hold_seconds(current_app.config)
    return publishing.publish_schedule(schedule_id, claimed_by=claimer_id(), hold_seconds=hold).outcome


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
