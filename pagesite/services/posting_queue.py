"""The posting queue: weekly posting times in a time zone, and the next free one.

"Add to queue" takes, for each channel, the earliest future posting time of its
queue (its own, or the default one, ``channel_id`` NULL, when it has no times)
that no live schedule of that channel holds. Taking a time locks the queue's
row until the new schedules are committed, so two requests racing for the
same time are served one after the other and never get the same one.
"""

from collections import defaultdict
from datetime import time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..models import ACTIVE_STATUSES, PostingQueue, Schedule
from ..timeutil import local_to_utc, utcnow
from . import channels
from .common import collect_errors

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SLOTS = 100
HORIZON = timedelta(days=366)  # how far ahead a free time is looked for
DEFAULT_ZONE = "UTC"


def _queue_row(channel_id=None):
    return db.session.scalar(select(PostingQueue).where(
        PostingQueue.channel_id.is_(None) if channel_id is None else PostingQueue.channel_id == channel_id))


def get_queue(channel_id=None):
    """{"time_zone", "slots"} of the queue (UTC and no slots until one is set)."""
    row = _queue_row(channel_id)
    if row is None:
        return {"time_zone": DEFAULT_ZONE, "slots": []}
    return {"time_zone": row.time_zone, "slots": list(row.slots)}


def get_channel_queue(channel_id):
    """The live channel's own queue (a 404 for another id), and whether it takes the default queue's times."""
    queue = get_queue(channels.get_channel(channel_id).id)
    return {**queue, "uses_default": not queue["slots"]}


def set_channel_queue(channel_id, time_zone, slots):
    """Replace the live channel's own zone and times; no times hands it back to the default queue."""
    set_queue(time_zone, slots, channels.get_channel(channel_id).id)
    return get_channel_queue(channel_id)


def _clean_zone(value):
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed.single("time_zone", "Give an IANA time zone, such as Europe/Berlin.")
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed.single("time_zone", f"Unknown time zone {value!r}; use an IANA name such as "
                                                   "Europe/Berlin.") from None
    return value.strip()


def _clean_time(value, field):
    if not isinstance(value, str) or len(value) != 5:
        raise ValidationFailed.single(field, "Give a time as HH:MM, such as 09:00.")
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.single(field, "Give a time as HH:MM, such as 09:00.") from None
    return parsed.strftime("%H:%M")


def _clean_slots(value):
    if not isinstance(value, list):
        raise ValidationFailed.single("slots", 'Must be a list of {"weekday": "mon", "time": "09:00"}.')
    if len(value) > MAX_SLOTS:
        raise ValidationFailed.single("slots", f"At most {MAX_SLOTS} posting times.")
    errors, slots = {}, set()
    for n, slot in enumerate(value):
        if not isinstance(slot, dict):
            errors[f"slots.{n}"] = ['Must be an object: {"weekday": "mon", "time": "09:00"}.']
            continue
        weekday = slot.get("weekday")
        if weekday not in WEEKDAYS:
            errors[f"slots.{n}.weekday"] = [f"Must be one of {', '.join(WEEKDAYS)}."]
        try:
            clock = _clean_time(slot.get("time"), f"slots.{n}.time")
        except ValidationFailed as e:
            errors.update(e.errors)
            continue
        if weekday in WEEKDAYS:
            slots.add((WEEKDAYS.index(weekday), clock))
    if errors:
        raise ValidationFailed(errors)
    return [{"weekday": WEEKDAYS[day], "time": clock} for day, clock in sorted(slots)]


def set_queue(time_zone, slots, channel_id=None):
    """Replace the queue's zone and posting times (duplicates dropped, sorted); the queue as stored."""
    zone, cleaned = collect_errors(lambda: _clean_zone(time_zone), lambda: _clean_slots(slots))
    row = _queue_row(channel_id)
    if row is None:
        row = PostingQueue(channel_id=channel_id, time_zone=zone, slots=cleaned)
        db.session.add(row)
    else:
        row.time_zone, row.slots, row.updated_at = zone, cleaned, utcnow()
    try:
        db.session.commit()
    except IntegrityError:  # another request created it first: update that one
        db.session.rollback()
        return set_queue(time_zone, slots, channel_id)
    return get_queue(channel_id)


def posting_times(queue, start, end):
    """The queue's posting times (UTC) from ``start`` to ``end``, in order.

    A time that does not exist on a daylight-saving night (clocks jump past it)
    moves forward by the jump; a time that happens twice takes its first occurrence.
    """
    by_weekday = defaultdict(list)
    for slot in queue["slots"]:
        by_weekday[WEEKDAYS.index(slot["weekday"])].append(slot["time"])
    if not by_weekday:
        return
    zone = ZoneInfo(queue["time_zone"])
    day = start.astimezone(zone).date()
    while True:
        instants = sorted(local_to_utc(day, clock, queue["time_zone"]) for clock in by_weekday[day.weekday()])
        for instant in instants:
            if instant > end:
                return
            if instant >= start:
                yield instant
        day += timedelta(days=1)
        if local_to_utc(day, "00:00", queue["time_zone"]) > end + timedelta(days=1):
            return


NO_TIMES = ("No posting times are set up; add some under Settings → Posting queues "
            "(or PUT /api/queue, or PUT /api/channels/{id}/queue for one channel).")


def queue_rows(channel_ids):
    """{channel id: the queue it takes its times from}: its own queue when that has
    posting times, else the default queue (None when that has none either)."""
    rows = db.session.scalars(select(PostingQueue).where(
        PostingQueue.channel_id.in_(channel_ids) | PostingQueue.channel_id.is_(None))).all()
    own = {row.channel_id: row for row in rows if row.slots}
    return {channel_id: own.get(channel_id, own.get(None)) for channel_id in channel_ids}


def check_has_times(targets):
    """The queue each of the ``targets`` channels takes its times from; a 422 on ``queue`` when one has none."""
    rows = queue_rows([c.id for c in targets])
    missing = [c for c in targets if rows[c.id] is None]
    if missing:
        raise ValidationFailed.single("queue", NO_TIMES if len(targets) == 1 else (
            f"{', '.join(c.label for c in missing)}: " + NO_TIMES))
    return rows


def claim_next_times(targets, now=None):
    """{channel id: its next posting time that no live schedule of that channel holds},
    each taken from the channel's own queue, or the default queue when it has none,
    with those queues locked until the caller commits.

    The caller inserts its schedules at those times and commits (or rolls back) in
    the same transaction; a concurrent claim on the same queue waits for that and
    then sees them.
    """
    now = now or utcnow()
    rows = check_has_times(targets)
    queues = {}
    # The lock: a write to each queue's row, held until the caller's commit; taken
    # in id order so two requests locking the same queues never wait on each other.
    for row_id in sorted({row.id for row in rows.values()}):
        db.session.execute(update(PostingQueue).where(PostingQueue.id == row_id)
                           .values(updated_at=PostingQueue.updated_at)
                           .execution_options(synchronize_session=False))
        zone, slots = db.session.execute(  # read again under the lock: the times as they are now
            select(PostingQueue.time_zone, PostingQueue.slots).where(PostingQueue.id == row_id)).one()
        queues[row_id] = {"time_zone": zone, "slots": slots}
    held = defaultdict(set)
    for channel_id, instant in db.session.execute(select(Schedule.channel_id, Schedule.scheduled_at).where(
        Schedule.channel_id.in_([c.id for c in targets]), Schedule.status.in_(ACTIVE_STATUSES),
        Schedule.scheduled_at > now, Schedule.scheduled_at <= now + HORIZON,
    )):
        held[channel_id].add(instant)
    taken = {}
    for channel in targets:
        queue = queues[rows[channel.id].id]
        taken[channel.id] = next((instant for instant in posting_times(queue, now + timedelta(microseconds=1),
                                                                       now + HORIZON)
                                  if instant not in held[channel.id]), None)
        if taken[channel.id] is None:
            db.session.rollback()
            raise Conflict(f"Every posting time of {channel.label} in the next {HORIZON.days} days is taken; add "
                           "posting times or schedule this page for a time of your own.")
    return taken
