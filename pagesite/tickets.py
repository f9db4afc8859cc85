"""The one shape a publish job's attempt travels in, from whoever plans it to the worker that makes it."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Ticket:
    """A schedule's next attempt, as a publish job carries it.

    Besides the schedule, what lets a worker take its turn without reading the
    schedule first: the channel (for its provider slot), the time the attempt
    is due (to hold for) and when the previous attempt started, if one did (a
    retry; the Mastodon provider looks for an earlier post when that was long
    ago). The claim still decides: a ticket whose schedule changed since
    claims nothing.
    """

    schedule_id: int
    channel_id: int
    due_at: datetime  # aware UTC: the schedule's next_attempt_at when the ticket was made
    last_claimed_at: datetime | None = None

    @classmethod
    def of(cls, schedule):
        """The ticket of a queued schedule (an ORM object or a row with its columns)."""
        return cls(schedule.id, schedule.channel_id, schedule.next_attempt_at, schedule.claimed_at)

    @property
    def is_retry(self):
        return self.last_claimed_at is not None
