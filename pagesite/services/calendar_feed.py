"""A secret per-user iCalendar feed of the plan, for calendar apps.

The secret is 256 random bits, shown once in the feed's URL; only its SHA-256
is stored (like API tokens), so a database leak does not reveal the URL.
"""

import hashlib
import secrets
from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import CalendarFeed, Schedule
from ..timeutil import utcnow
from .calendar import first_words, on_kept_pages

FEED_STATUSES = ("queued", "publishing", "published")
FEED_PAST = timedelta(days=180)  # older posts drop out, so the feed stays small
FEED_MAX_EVENTS = 5000
EVENT_LENGTH = timedelta(minutes=15)


def _digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def has_feed(user):
    return db.session.scalar(select(CalendarFeed.id).where(CalendarFeed.user_id == user.id)) is not None


def create_feed(user):
    """A new secret for ``user``'s feed; an older URL stops working."""
    secret = secrets.token_urlsafe(32)
    db.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id))
    db.session.add(CalendarFeed(user_id=user.id, secret_hash=_digest(secret)))
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent request made one first: replace it
        db.session.rollback()
        return create_feed(user)
    return secret


def revoke_feed(user):
    db.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id))
    db.session.commit()


def feed_exists(secret):
    if not isinstance(secret, str) or not 20 <= len(secret) <= 100:
        return False
    return db.session.scalar(select(CalendarFeed.id).where(CalendarFeed.secret_hash == _digest(secret))) is not None


def render_feed(page_url):
    """The plan as iCalendar bytes: one event per queued, publishing or published schedule.

    ``page_url(page_id)`` gives the absolute address of a page, linked from each event.
    """
    now = utcnow()
    schedules = db.session.scalars(
        select(Schedule)
        .where(Schedule.status.in_(FEED_STATUSES), Schedule.scheduled_at >= now - FEED_PAST,
               on_kept_pages())
        .options(joinedload(Schedule.page))
        .order_by(Schedule.scheduled_at, Schedule.id)
        .limit(FEED_MAX_EVENTS)
    ).all()
    calendar = Calendar()
    calendar.add("prodid", "-//pagesite//plan//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "pagesite plan")
    for schedule in schedules:
        start = schedule.published_at if schedule.status == "published" and schedule.published_at else \
            schedule.scheduled_at
        event = Event()
        event.add("uid", f"schedule-{schedule.id}@pagesite")
        event.add("dtstamp", schedule.updated_at or now)
        event.add("dtstart", start)
        event.add("dtend", start + EVENT_LENGTH)
        event.add("summary", first_words(schedule.page.text))
        status = "published" if schedule.status == "published" else "scheduled"
        channel = f"{schedule.channel.name} ({schedule.channel.provider})"
        event.add("description", f"{schedule.page.text}\n\n({status} on {channel})")
        event.add("location", channel)  # where calendar apps show a place: the channel it goes to
        event.add("status", "CONFIRMED" if schedule.status == "published" else "TENTATIVE")
        event.add("url", page_url(schedule.page_id))
        calendar.add_component(event)
    return calendar.to_ical()
