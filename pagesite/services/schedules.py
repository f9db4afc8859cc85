"""Scheduling pages: create, list (and export as CSV), cancel, reschedule, retry, mark as published, publish now."""

import csv
import io
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from flask import current_app

from .. import heartbeats, queueing
from ..errors import Conflict, NotFound, ProviderBusy, ValidationFailed
from ..extensions import db
from ..models import SCHEDULE_STATUSES, Page, PageAttachment, PublishLog, Schedule
from ..timeutil import isoformat, parse_aware, utcnow
from ..tickets import Ticket
from . import calendar, channels, posting_queue, publishing
from .common import MAX_ID, collect_errors, get_or_404, is_unicode_text, paginate, parse_int
from .pages import (active_schedule, check_attachment_ids, check_versions, clean_text, create_page, get_page,
                    sent_problems)


MAX_CHANNELS_PER_REQUEST = 50
def _page_for(page_id):
    if page_id is None:
        raise ValidationFailed.single("page_id", "A page id is required.")
    page_id = parse_int(page_id, "page_id") if not isinstance(page_id, str) else None
    if page_id is None:
        raise ValidationFailed.single("page_id", "Must be a page id (a whole number).")
    page = db.session.get(Page, page_id) if 0 < page_id <= MAX_ID else None
    if page is None or page.deleted_at is not None:
        raise ValidationFailed.single("page_id", f"No page with id {page_id}.")
    return page


def _channel_ids(ids):
    """The live channels for a list of ids, in its order, or a 422 on ``channel_ids``."""
    field = "channel_ids"
    if not isinstance(ids, list) or not ids:
        raise ValidationFailed.single(field, "Choose at least one channel (a list of channel ids).")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed.single(field, "Must be a list of channel ids (whole numbers).")
    if len(ids) > MAX_CHANNELS_PER_REQUEST:
        raise ValidationFailed.single(field, f"At most {MAX_CHANNELS_PER_REQUEST} channels at once.")
    if len(set(ids)) != len(ids):
        raise ValidationFailed.single(field, "A channel may appear only once.")
    found = {c.id: c for c in channels.live_channels()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed.single(field, f"Unknown channel id(s): {', '.join(map(str, missing))}.")
    return [found[i] for i in ids]


def _check_limits(page, targets, field):
    """A 422 on ``field`` listing what each channel would refuse of what it would be
    sent (its version, else the page; each message names its channel)."""
    problems = [m for channel in targets for m in version_problems(page, channel)]
    if problems:
        raise ValidationFailed.single(field, problems[0]) if len(problems) == 1 else ValidationFailed(
            {field: problems})


def version_problems(page, channel):
    """What ``channel`` would refuse of ``page`` as it would be sent there."""
    return sent_problems(channel, page.text_for(channel.id), page.attachments, page.id,
                         versioned=any(v.channel_id == channel.id for v in page.versions))


def parse_when(value, now):
    """A future UTC datetime from user input, or a 422 on ``scheduled_at``."""
    try:
        when = parse_aware(value)
    except ValueError as e:
        raise ValidationFailed.single("scheduled_at", str(e)) from None
    if when <= now:
        raise ValidationFailed.single(
            "scheduled_at", f"{isoformat(when)} is in the past (it is now {isoformat(now)}); choose a later time."
        )
    return when


def _conflict(page_id, channel):
    existing = active_schedule(page_id, channel.id)
    detail = f"Page {page_id} already has a {existing.status if existing else 'live'} schedule for {channel.label}"
    return Conflict(
        detail + (f" (schedule {existing.id}); cancel it or wait for it to finish." if existing else "."),
        schedule_id=existing.id if existing else None,
    )


def new_schedules(page, targets, when):
    """One queued schedule per channel, added to the session (the caller commits);
    ``when`` is one time for all, or {channel id: time}."""
    def time_for(channel):
        return when[channel.id] if isinstance(when, dict) else when

    created = [
        Schedule(page=page, channel=channel, provider=channel.provider, status="queued",
                 scheduled_at=time_for(channel), next_attempt_at=time_for(channel),
                 attempts=0, max_attempts=current_app.config["PUBLISH_MAX_ATTEMPTS"])
        for channel in targets
    ]
    db.session.add_all(created)
    return created


def _insert(page, targets, when):
    """One queued schedule per channel, all in one transaction (all or nothing);
    ``when`` is one time for all, or {channel id: time}."""
    for channel in targets:
        if active_schedule(page.id, channel.id):
            raise _conflict(page.id, channel)
    created = new_schedules(page, targets, when)
    try:
        db.session.commit()
    except IntegrityError:  # lost a race with a concurrent request (unique live schedule)
        db.session.rollback()
        raced = next((c for c in targets if active_schedule(page.id, c.id)), targets[0])
        raise _conflict(page.id, raced) from None
    return created


def _queue_flag(queue, scheduled_at):
    if queue is None:
        return False
    if not isinstance(queue, bool):
        raise ValidationFailed.single("queue", "Must be true or false.")
    if queue and scheduled_at is not None:
        raise ValidationFailed.single("queue", "Send either scheduled_at or queue: true, not both.")
    return queue


def _schedule_all(page, targets, when, queue, now):
    """Insert one schedule per channel (with ``queue``, each at its own queue's next
    free time) and hand them to the job queue; a failed insert writes nothing."""
    if queue:
        when = posting_queue.claim_next_times(targets, now)  # holds the queues until _insert commits
    try:
        created = _insert(page, targets, when)
    except Conflict:
        db.session.rollback()  # also releases the posting queue's lock
        raise
    for schedule in created:
        queueing.dispatch(Ticket.of(schedule))
    return created


def create_schedule(page_id, scheduled_at=None, provider=None, channel_id=None, queue=False):
    """Queue ``page_id`` for ``scheduled_at`` (ISO 8601 with offset; now if omitted),
    or, with ``queue``, for the next free posting time of the channel's queue, on
    ``channel_id``, or through ``provider`` (None: the default channel)."""
    now = utcnow()
    page, when, channel, queue = collect_errors(
        lambda: _page_for(page_id),
        lambda: now if scheduled_at is None or queue is True else parse_when(scheduled_at, now),
        lambda: channels.resolve(channel_id, provider),
        lambda: _queue_flag(queue, scheduled_at),
    )
    _check_limits(page, [channel], "channel_id")
    schedule, = _schedule_all(page, [channel], when, queue, now)
    return schedule


def create_schedules(page_id, channel_ids, scheduled_at=None, queue=False):
    """One schedule per channel for ``page_id``; every channel's limits are checked
    and nothing is created unless all of them can be."""
    now = utcnow()
    page, when, targets, queue = collect_errors(
        lambda: _page_for(page_id),
        lambda: now if scheduled_at is None or queue is True else parse_when(scheduled_at, now),
        lambda: _channel_ids(channel_ids),
        lambda: _queue_flag(queue, scheduled_at),
    )
    _check_limits(page, targets, "channel_ids")
    return _schedule_all(page, targets, when, queue, now)


def get_schedule(schedule_id):
    return get_or_404(Schedule, schedule_id, "schedule")


MAX_SEARCH = 200


def _search(q):
    """A filter for pages whose text contains ``q`` (any case; % and _ are plain characters)."""
    if not isinstance(q, str) or "\x00" in q or not is_unicode_text(q):  # no database can search for those
        raise ValidationFailed.single("q", "Must be text.")
    q = q.strip()
    if len(q) > MAX_SEARCH:
        raise ValidationFailed.single("q", f"Must be at most {MAX_SEARCH} characters.")
    return [Schedule.page.has(Page.text.icontains(q, autoescape=True))] if q else []


def schedule_filters(status=None, page_id=None, start=None, end=None, q=None, channel_id=None):
    """The list's filters as SQL conditions: the schedules of kept pages that match them all."""
    bounds, searched = collect_errors(lambda: calendar.parse_range(start, end),
                                      lambda: _search(q) if q is not None else [])
    filters = calendar.range_filters(bounds) + searched
    filters.append(calendar.on_kept_pages())
    if status not in (None, "", "all"):
        if status not in SCHEDULE_STATUSES:
            raise ValidationFailed.single("status", f"Must be one of: all, {', '.join(SCHEDULE_STATUSES)}.")
        filters.append(Schedule.status == status)
    if page_id not in (None, ""):
        filters.append(Schedule.page_id == parse_int(page_id, "page_id", minimum=1, maximum=MAX_ID))
    if channel_id not in (None, ""):
        filters.append(Schedule.channel_id == parse_int(channel_id, "channel_id", minimum=1, maximum=MAX_ID))
    return filters


def list_schedules(status=None, page_id=None, page_number=None, per_page=None, start=None, end=None, q=None,
                   channel_id=None):
    """Schedules sorted by time then id, each with its page and attachments loaded;
    ``start`` and ``end`` (ISO 8601 with offsets) keep those due in [start, end),
    ``q`` those whose page's text contains it, ``channel_id`` those of one channel."""
    filters = schedule_filters(status, page_id, start, end, q, channel_id)
    order = (Schedule.scheduled_at, Schedule.id)
    statement = (
        select(Schedule)
        .options(
            joinedload(Schedule.page)
            .selectinload(Page.page_attachments)
            .joinedload(PageAttachment.attachment)
        )
        .order_by(*order)
    )
    # The page's ids come from the (status, scheduled_at, id) index alone.
    keys = select(Schedule.id).where(*filters).order_by(*order)
    return paginate(statement, page_number, per_page, select(func.count(Schedule.id)).where(*filters), keys=keys)


CSV_COLUMNS = ("schedule_id", "page_id", "text", "channel_id", "channel", "scheduled_at", "status", "published_at",
               "url", "last_error")


def _cell(value):
    """A cell a spreadsheet shows as text: one starting like a formula gets a ' first (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(status=None, page_id=None, start=None, end=None, q=None, channel_id=None):
    """Every schedule the list's filters keep, by time then id, as CSV lines (a generator: a year
    of schedules is read in batches, never held whole). Times are RFC 3339 with their offset."""
    filters = schedule_filters(status, page_id, start, end, q, channel_id)
    statement = (select(Schedule).options(joinedload(Schedule.page)).where(*filters)
                 .order_by(Schedule.scheduled_at, Schedule.id).execution_options(yield_per=500))

    def lines():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for schedule in db.session.scalars(statement):
            writer.writerow([_cell(v) for v in (
                schedule.id, schedule.page_id, schedule.page.text, schedule.channel_id, schedule.channel.name,
                isoformat(schedule.scheduled_at), schedule.status,
                isoformat(schedule.published_at) if schedule.published_at else "", schedule.url,
                schedule.last_error)])
            if out.tell() > 64 * 1024:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    return lines()


def _change_queued(schedule_id, **values):
    """Apply ``values`` only while the schedule is still queued; 409 otherwise."""
    schedule = get_schedule(schedule_id)
    old_job = queueing.publish_job_id(Ticket.of(schedule))
    result = db.session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id, Schedule.status == "queued")
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(schedule)
    if result.rowcount != 1:
        raise Conflict(f"Schedule {schedule.id} is {schedule.status}; only a queued schedule can be changed.",
                       schedule_status=schedule.status)
    return schedule, old_job


# What each change writes, for one schedule here and for many in bulk.py.
def canceled_values():
    return {"status": "canceled", "next_attempt_at": None}


def moved_values(when):
    return {"scheduled_at": when, "next_attempt_at": when}


def retried_values(now):
    """Queued again, due now, with a fresh set of attempts (the chosen time stays)."""
    return {"status": "queued", "next_attempt_at": now,
            "max_attempts": Schedule.attempts + current_app.config["PUBLISH_MAX_ATTEMPTS"]}


def cancel_schedule(schedule_id):
    """Cancel a queued schedule. It is never published, even if its job still fires."""
    schedule, old_job = _change_queued(schedule_id, **canceled_values())
    queueing.withdraw(old_job)
    return schedule


def reschedule(schedule_id, scheduled_at):
    if scheduled_at is None:
        raise ValidationFailed.single("scheduled_at", "A new time is required.")
    when = parse_when(scheduled_at, utcnow())
    schedule, old_job = _change_queued(schedule_id, **moved_values(when))
    queueing.move(old_job, Ticket.of(schedule))
    return schedule


def retry_schedule(schedule_id):
    """Queue a failed schedule again, due now, with a fresh set of attempts (the chosen time stays)."""
    schedule = get_schedule(schedule_id)
    if active_schedule(schedule.page_id, schedule.channel_id):
        raise _conflict(schedule.page_id, schedule.channel)
    now = utcnow()
    result = db.session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id, Schedule.status == "failed")
        .values(updated_at=now, **retried_values(now))
        .execution_options(synchronize_session=False)
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _conflict(schedule.page_id, schedule.channel) from None
    db.session.refresh(schedule)
    if result.rowcount != 1:
        raise Conflict(f"Schedule {schedule.id} is {schedule.status}; only a failed schedule can be retried.",
                       schedule_status=schedule.status)
    queueing.dispatch(Ticket.of(schedule))
    return schedule


def _post_link(url):
    """A link to a post, as a person pasted it: http(s), or None for none."""
    if url is None or (isinstance(url, str) and not url.strip()):
        return None
    url = url.strip() if isinstance(url, str) else url
    try:
        parts = urlsplit(url) if isinstance(url, str) and len(url) <= 2048 and is_unicode_text(url) else None
    except ValueError:  # "http://[" and the like
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed.single("url", "Must be the post's address, starting with https:// (or leave it "
                                             "empty).")
    return url


def mark_published(schedule_id, url=None):
    """Record that a failed schedule was published after all, as the person saw on the network
    (the answer to "may have been published"). Nothing is sent; the publish log says it was by hand."""
    schedule = get_schedule(schedule_id)
    url = _post_link(url)
    now = utcnow()
    result = db.session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id, Schedule.status == "failed")
        .values(status="published", published_at=now, url=url, external_id=None, last_error=None,
                next_attempt_at=None, outcome_unknown=False, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        db.session.refresh(schedule)
        raise Conflict(f"Schedule {schedule.id} is {schedule.status}; only a failed schedule can be marked as "
                       "published.", schedule_status=schedule.status)
    db.session.add(PublishLog(
        page_id=schedule.page_id, schedule_id=schedule.id, channel_id=schedule.channel_id,
        provider=schedule.provider, attempt=schedule.attempts, status="published", url=url, created_at=now,
        notes=["Marked as published by hand: pagesite sent nothing this time."]))
    db.session.commit()
    db.session.refresh(schedule)
    return schedule


def publish_now(provider, page_id):
    """Publish a page now through the channel ``provider`` names (see
    ``channels.resolve``), like ``publish_to_channel``; a 404 for an unknown provider name."""
    try:
        channel = channels.resolve(provider=provider)
    except ValidationFailed as e:
        raise NotFound(e.detail.partition(": ")[2] or e.detail) from None
    return publish_to_channel(channel.id, page_id)


def publish_to_channel(channel_id, page_id):
    """Publish a page now (through a schedule due now, so it shows in lists),
    waiting at most PUBLISH_NOW_WAIT seconds for the outcome.

    Returns the Attempt, whatever the provider answered (the API turns a refusal
    into a 502), or ``publishing`` when it is still under way (it carries on,
    and a worker takes over if this process dies); raises ProviderBusy when no
    slot of the channel is free (a worker then publishes it).
    """
    channel = channels.get_channel(channel_id)
    page = _page_for(page_id)
    _check_limits(page, [channel], "page_id")
    schedule, = _insert(page, [channel], utcnow())
    attempt = publishing.publish_within(schedule.id, heartbeats.process_id("web"),
                                        current_app.config["PUBLISH_NOW_WAIT"])
    if attempt.outcome == "busy":
        raise ProviderBusy(f"{channel.label} is at its limit of concurrent publishes; the page is queued and will "
                           "be published by the worker shortly.", schedule_id=schedule.id)
    return attempt


def publish_queued_now(schedule_id):
    """Try a queued schedule now, so the worker publishes it at once (the chosen time stays)."""
    schedule, old_job = _change_queued(schedule_id, next_attempt_at=utcnow())
    queueing.move(old_job, Ticket.of(schedule))
    return schedule


def check_compose(text, attachment_ids=None, scheduled_at=None, channel_ids=None, queue=False, versions=None):
    """Every rule ``compose`` applies, without writing anything; a 422 listing all problems.

    A channel's limits (on its version, where it has one) are reported under
    ``channel.<id>``, so a form can show each next to its channel.
    ``channel_ids`` None means the default channel.
    """
    text, assets, _, targets, own = collect_errors(
        lambda: clean_text(text),
        lambda: check_attachment_ids(attachment_ids),
        lambda: scheduled_at is None or parse_when(scheduled_at, utcnow()),
        lambda: [channels.resolve()] if channel_ids is None else _channel_ids(channel_ids),
        lambda: check_versions(versions),
    )
    problems = {f"channel.{c.id}": sent_problems(c, own.get(c.id, text), assets, versioned=c.id in own)
                for c in targets}
    problems = {k: v for k, v in problems.items() if v}
    if queue:
        try:
            posting_queue.check_has_times(targets)
        except ValidationFailed as e:
            problems.update(e.errors)
    if problems:
        raise ValidationFailed(problems)
    return targets


def compose(text, attachment_ids=None, scheduled_at=None, channel_ids=None, queue=False, descriptions=None,
            versions=None, link_card=True):
    """Create a page and schedule it on each channel (now when ``scheduled_at`` is
    None, with ``queue`` at each channel's next free posting time); (page, schedules).
    ``descriptions`` ({file id: text}) are set on the files first.

    One transaction: the descriptions, the page and every schedule are committed
    together, so a refusal at any step (a rule, a concurrent request taking the
    channel, the time passing meanwhile) leaves no page, draft or description behind.
    """
    targets = check_compose(text, attachment_ids, scheduled_at, channel_ids, queue, versions)
    try:
        page = create_page(text, attachment_ids, descriptions=descriptions, commit=False, versions=versions,
                           link_card=link_card)
        created = create_schedules(page.id, [c.id for c in targets], scheduled_at, queue)
    except BaseException:
        db.session.rollback()
        raise
    return get_page(created[0].page_id), created
