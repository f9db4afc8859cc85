"""How a published post did: its public counts read back from its network.

After a schedule is published, its post's counts (``likes``, ``reposts``,
``replies``, ``quotes``: one set of names for every network) are read at ages
that follow how posts age (``AGES``: 1 hour, 6 hours, a day, 3 days, a week,
then weekly to five weeks), and whenever someone asks. Every reading is a row
of its own (``engagement_readings``): what was read, and when.

Reading never gets in publishing's way: it runs in a job of its own, asks
many posts per call where the network allows it, makes at most
``CALLS_PER_PASS`` calls per channel per pass (Mastodon allows 300 requests in
5 minutes per account), and a channel whose network asks to wait is left
until a later pass. A post gone from the network is marked so, and not read
again.
"""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from ..encryption import CredentialsUnreadable
from ..extensions import db
from ..models import Channel, EngagementReading, Schedule
from ..providers import AuthenticationError, ProviderError, get_provider, provider_class
from ..timeutil import utcnow
from . import channels, pages

log = logging.getLogger("pagesite.engagement")

AGES = tuple(timedelta(hours=h) for h in (1, 6, 24, 72, 168, 336, 504, 672, 840))
CALLS_PER_PASS = 10
COUNTS = ("likes", "reposts", "replies", "quotes")


def _readers():
    """The provider names whose networks show public counts."""
    from ..providers import provider_names

    return [name for name in provider_names() if provider_class(name).reads_counts]


def due(now=None):
    """The published schedules whose next reading by age has come, oldest first."""
    now = now or utcnow()
    planned = select(EngagementReading.schedule_id, func.count().label("n"),
                     func.max(db.case((EngagementReading.deleted, 1), else_=0)).label("gone")) \
        .where(EngagementReading.planned).group_by(EngagementReading.schedule_id).subquery()
    rows = db.session.execute(
        select(Schedule.id, Schedule.published_at, func.coalesce(planned.c.n, 0), func.coalesce(planned.c.gone, 0))
        .outerjoin(planned, planned.c.schedule_id == Schedule.id)
        .where(Schedule.status == "published", Schedule.external_id.is_not(None),
               Schedule.provider.in_(_readers()), Schedule.published_at >= now - AGES[-1] - timedelta(days=1))
        .order_by(Schedule.published_at)).all()
    return [schedule_id for schedule_id, published_at, count, gone in rows
            if not gone and count < len(AGES) and published_at + AGES[count] <= now]


def read(schedule_ids, planned=True):
    """Read the counts of these schedules' posts, channel by channel: {"read", "gone", "waiting"}."""
    schedules = db.session.scalars(select(Schedule).where(Schedule.id.in_(list(schedule_ids)),
                                                          Schedule.external_id.is_not(None))).all()
    by_channel = {}
    for schedule in schedules:
        by_channel.setdefault(schedule.channel_id, []).append(schedule)
    totals = {"read": 0, "gone": 0, "waiting": 0}
    for channel_id, mine in by_channel.items():
        channel = db.session.get(Channel, channel_id)
        if channel is None or channel.deleted_at is not None or channel.status != "connected":
            continue
        try:
            provider = get_provider(channels.channel_data(channel), current_app.config)
        except CredentialsUnreadable:
            continue
        if not provider.reads_counts:
            continue
        size = max(1, provider.counts_per_call)
        batches = [mine[i:i + size] for i in range(0, len(mine), size)]
        for n, batch in enumerate(batches):
            if n == CALLS_PER_PASS:  # this channel's budget for the pass: the rest in the next one
                totals["waiting"] += sum(len(b) for b in batches[n:])
                break
            try:
                counts = provider.read_counts([s.external_id for s in batch])
            except AuthenticationError as e:
                log.info("engagement: channel %s refused (%s)", channel_id, e)
                break
            except ProviderError as e:  # a rate limit, a network down: a later pass reads them
                totals["waiting"] += sum(len(b) for b in batches[n:])
                log.info("engagement: channel %s said wait (%s)", channel_id, e)
                break
            now = utcnow()
            for schedule in batch:
                found = counts.get(schedule.external_id)
                db.session.add(EngagementReading(
                    schedule_id=schedule.id, read_at=now, planned=planned, deleted=found is None,
                    **({} if found is None else {name: getattr(found, name) for name in COUNTS})))
                totals["gone" if found is None else "read"] += 1
            db.session.commit()
    return totals


def read_due(now=None):
    """Job: take every reading by age that has come."""
    return read(due(now))


def _reading(row):
    return {"read_at": row.read_at, "deleted": row.deleted, **{name: getattr(row, name) for name in COUNTS}}


def page_counts(page_id):
    """Per published schedule of the page: its channel, its latest reading and every reading, oldest first."""
    page = pages.get_page(page_id)
    published = [s for s in page.schedules if s.status == "published" and s.external_id]
    readings = db.session.scalars(select(EngagementReading).where(
        EngagementReading.schedule_id.in_([s.id for s in published])).order_by(EngagementReading.read_at,
                                                                             EngagementReading.id)).all()
    history = {}
    for row in readings:
        history.setdefault(row.schedule_id, []).append(_reading(row))
    return {"items": [{"schedule_id": s.id, "channel": s.channel, "url": s.url, "published_at": s.published_at,
                       "reads_counts": bool(getattr(provider_class(s.provider), "reads_counts", False)),
                       "latest": (history.get(s.id) or [None])[-1], "history": history.get(s.id, [])}
                      for s in published]}


def refresh_page(page_id):
    """Read the page's posts now (readings on demand: the readings by age go on as planned)."""
    page = pages.get_page(page_id)
    read([s.id for s in page.schedules if s.status == "published" and s.external_id], planned=False)
    return page_counts(page_id)
