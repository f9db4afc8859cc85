"""Acting on many schedules at once: cancel, move or retry those chosen by id or
by the list's filters, in one transaction.

Each change is the same conditional UPDATE the single-schedule action makes
(``status = 'queued'`` for cancel and move, ``'failed'`` for retry), so a
schedule a worker claimed meanwhile is skipped and named, never changed under
it. Redis hears of the changes after the commit; if it is down, the reconciler
brings the queue in line with the database, as after any other change.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import queueing
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..models import Schedule
from ..tickets import Ticket
from ..timeutil import utcnow
from .pages import ACTIVE_STATUSES
from .schedules import canceled_values, moved_values, retried_values, schedule_filters

MAX_SCHEDULES = 5000
ACTIONS = ("cancel", "move", "retry")
ELIGIBLE = {"cancel": "queued", "move": "queued", "retry": "failed"}
MAX_MOVE_SECONDS = 366 * 24 * 3600


@dataclass
class Skipped:
    id: int
    status: str
    reason: str


@dataclass
class BulkResult:
    action: str
    changed: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def _chosen(ids, filters):
    """The schedules chosen, by id or by the list's filters, at most MAX_SCHEDULES."""
    if (ids is None) == (filters is None):
        raise ValidationFailed.single("ids", "Give either ids or filter, not both.")
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            raise ValidationFailed.single("ids", "Choose at least one schedule.")
        if len(wanted) > MAX_SCHEDULES:
            raise ValidationFailed.single("ids", f"At most {MAX_SCHEDULES} schedules at once.")
        conditions = schedule_filters() + [Schedule.id.in_(wanted)]
        found = db.session.scalars(select(Schedule).where(*conditions).order_by(Schedule.id)).all()
        missing = sorted(set(wanted) - {s.id for s in found})
        if missing:
            raise ValidationFailed.single("ids", "No schedule " + ", ".join(map(str, missing[:20]))
                                          + (" and more" if len(missing) > 20 else "") + ".")
        return found
    conditions = schedule_filters(filters.get("status"), filters.get("page_id"), filters.get("from"),
                                  filters.get("to"), filters.get("q"), filters.get("channel_id"))
    found = db.session.scalars(select(Schedule).where(*conditions).order_by(Schedule.id)
                               .limit(MAX_SCHEDULES + 1)).all()  # one read, and never more than one over
    if len(found) > MAX_SCHEDULES:
        raise ValidationFailed.single("filter", f"The filter matches more than {MAX_SCHEDULES} schedules, the most "
                                                "that can be changed at once. Narrow it (a date range, a status).")
    return found


def review(action, ids=None, filters=None):
    """(how many are chosen, how many ``action`` applies to): what a confirmation names."""
    if action not in ACTIONS:
        raise ValidationFailed.single("action", f"Must be one of: {', '.join(ACTIONS)}.")
    chosen = _chosen(ids, filters)
    return len(chosen), sum(1 for s in chosen if s.status == ELIGIBLE[action])


def act(action, ids=None, filters=None, by_seconds=None):
    """Apply ``action`` to every chosen schedule it applies to; the others are ``skipped`` with why."""
    if action not in ACTIONS:
        raise ValidationFailed.single("action", f"Must be one of: {', '.join(ACTIONS)}.")
    if action == "move":
        if by_seconds is None or by_seconds == 0:
            raise ValidationFailed.single("by_seconds", "Moving needs a number of seconds other than 0.")
        if abs(by_seconds) > MAX_MOVE_SECONDS:
            raise ValidationFailed.single("by_seconds", "At most a year either way.")
    chosen = _chosen(ids, filters)
    now = utcnow()
    result = BulkResult(action)
    eligible = [s for s in chosen if s.status == ELIGIBLE[action]]
    result.skipped = [Skipped(s.id, s.status, f"only a {ELIGIBLE[action]} schedule can be {_done(action)}")
                      for s in chosen if s.status != ELIGIBLE[action]]
    if action == "move":
        late = [s.id for s in eligible if s.scheduled_at + timedelta(seconds=by_seconds) <= now]
        if late:
            raise ValidationFailed.single("by_seconds", "Schedules " + ", ".join(map(str, late[:20]))
                                          + " would move into the past; nothing was moved.")
    if action == "retry":
        busy = _live_siblings(eligible)
        result.skipped += [Skipped(s.id, s.status, "the page already has a live schedule for this channel")
                           for s in eligible if s.id in busy]
        eligible = [s for s in eligible if s.id not in busy]
        first = {}  # of two failed schedules of one page and channel, only one can be live again
        for schedule in eligible:
            first.setdefault((schedule.page_id, schedule.channel_id), schedule)
        result.skipped += [Skipped(s.id, s.status, f"schedule {first[(s.page_id, s.channel_id)].id} of the same page "
                                                   "and channel is retried instead")
                           for s in eligible if first[(s.page_id, s.channel_id)] is not s]
        eligible = list(first.values())

    old_jobs = {s.id: queueing.publish_job_id(Ticket.of(s)) for s in eligible}
    changed = []
    for schedule in eligible:
        values = _values(action, schedule, now, by_seconds)
        done = db.session.execute(
            update(Schedule).where(Schedule.id == schedule.id, Schedule.status == ELIGIBLE[action])
            .values(updated_at=now, **values).execution_options(synchronize_session=False))
        if done.rowcount == 1:
            changed.append(schedule.id)
        else:  # a worker claimed it (or a person changed it) since it was read
            db.session.refresh(schedule)
            result.skipped.append(Skipped(schedule.id, schedule.status, "it changed meanwhile"))
    try:
        db.session.commit()
    except IntegrityError:  # a retry raced another live schedule of the same page and channel
        db.session.rollback()
        raise Conflict("Another live schedule of one of these pages appeared meanwhile; nothing was retried. "
                       "Try again.") from None
    for schedule in db.session.scalars(select(Schedule).where(Schedule.id.in_(changed))):
        _tell_redis(action, old_jobs[schedule.id], Ticket.of(schedule))
    result.changed = changed
    result.skipped.sort(key=lambda s: s.id)
    return result


def _done(action):
    return {"cancel": "canceled", "move": "moved", "retry": "retried"}[action]


def _values(action, schedule, now, by_seconds):
    if action == "cancel":
        return canceled_values()
    if action == "move":
        return moved_values(schedule.scheduled_at + timedelta(seconds=by_seconds))
    return retried_values(now)


def _live_siblings(failed):
    """Ids of failed schedules whose page already has a live schedule on the same channel."""
    pairs = {(s.page_id, s.channel_id): s.id for s in failed}
    if not pairs:
        return set()
    live = db.session.execute(
        select(Schedule.page_id, Schedule.channel_id)
        .where(Schedule.status.in_(ACTIVE_STATUSES), Schedule.page_id.in_({p for p, _ in pairs}))).all()
    return {pairs[pair] for pair in map(tuple, live) if pair in pairs}


def _tell_redis(action, old_job, ticket):
    if action == "cancel":
        queueing.withdraw(old_job)
    elif action == "move":
        queueing.move(old_job, ticket)
    else:
        queueing.dispatch(ticket)
