"""Publishing schedules, in four parts a newcomer can read in this order:

- ``attempt``: one attempt at a schedule, the only way anything is published:
  wait for its time, take the channel's slot, claim it with one conditional
  UPDATE, call the provider with the schedule's own idempotency key, record
  the result and the schedule's next status in one atomic write.
- ``in_flight``: a worker's threads, which make the call and the record of a
  claimed attempt while the worker takes its next job.
- ``now``: publish-now from a web request, answered within a few seconds.
- ``reconciler``: the periodic pass that rescues what crashes and Redis wipes lost.

Every attempt travels as a ``tickets.Ticket``.
"""

from .attempt import Attempt, backoff_seconds, claim, publish_schedule
from .in_flight import IN_FLIGHT, InFlight
from .now import publish_within
from .reconciler import reconcile

__all__ = ["Attempt", "IN_FLIGHT", "InFlight", "backoff_seconds", "claim", "publish_schedule", "publish_within",
           "reconcile"]
