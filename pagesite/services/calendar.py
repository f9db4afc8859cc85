"""The plan over time: schedules in a range, for the calendar and the API."""

from datetime import datetime, timedelta

from sqlalchemy import case, func, select, union_all
from sqlalchemy.orm import joinedload, selectinload

from ..errors import ValidationFailed
from ..extensions import db
from ..models import Page, PageAttachment, Schedule
from ..timeutil import parse_aware
from .common import collect_errors

# A calendar shows at most a quarter at once; longer ranges are paged by the caller.
MAX_RANGE = timedelta(days=93)


def _bound(value, field):
    if isinstance(value, datetime):  # already parsed at the edge
        return value
    try:
        return parse_aware(value)
    except ValueError as e:
        raise ValidationFailed.single(field, str(e)) from None


def parse_range(start, end):
    """(start, end) in UTC from ``from`` and ``to`` (ISO 8601 with offsets), or None when both are absent."""
    if start in (None, "") and end in (None, ""):
        return None
    start, end = collect_errors(
        lambda: _bound(start, "from") if start not in (None, "") else _missing("from", "to"),
        lambda: _bound(end, "to") if end not in (None, "") else _missing("to", "from"),
    )
    if start >= end:
        raise ValidationFailed.single("to", "Must be later than from.")
    if end - start > MAX_RANGE:
        raise ValidationFailed.single("to", f"A range may span at most {MAX_RANGE.days} days; ask for less at once.")
    return start, end


def _missing(field, other):
    raise ValidationFailed.single(field, f"Send {field} together with {other} (ISO 8601 with an offset).")


def range_filters(bounds):
    """Filters for schedules due in [start, end)."""
    if bounds is None:
        return []
    start, end = bounds
    return [Schedule.scheduled_at >= start, Schedule.scheduled_at < end]


def on_kept_pages():
    """A filter leaving out schedules of deleted pages: they leave every list and
    calendar, while their history stays readable from the page itself. (The
    schedule carries its page's deletion, so the lists' partial indexes apply.)"""
    return Schedule.page_deleted_at.is_(None)


def bucket_counts(bounds):
    """{i: how many schedules are due in [bounds[i], bounds[i + 1])}, counted by the database in one query.

    ``bounds`` are UTC instants in order (equal neighbours make an empty bucket,
    such as an hour that daylight saving skips).
    """
    bucket = case(*[(Schedule.scheduled_at < bound, n) for n, bound in enumerate(bounds[1:])])
    rows = db.session.execute(
        select(bucket, func.count())
        .where(*range_filters((bounds[0], bounds[-1])), on_kept_pages())
        .group_by(bucket)
    ).all()
    return {n: count for n, count in rows if n is not None}


def first_in_buckets(bounds, buckets, limit):
    """Ids of the first ``limit`` schedules (by time, then id) of each bucket in ``buckets``, in one query."""
    parts = []
    for n in buckets:
        first = (select(Schedule.id, Schedule.scheduled_at)
                 .where(*range_filters((bounds[n], bounds[n + 1])), on_kept_pages())
                 .order_by(Schedule.scheduled_at, Schedule.id).limit(limit).subquery())
        parts.append(select(first.c.id, first.c.scheduled_at))
    if not parts:
        return []
    rows = db.session.execute(union_all(*parts)).all()
    return [schedule_id for schedule_id, _ in sorted(rows, key=lambda row: (row[1], row[0]))]


def load_schedules(ids):
    """The schedules with these ids, each with its page and attachments, in the order given."""
    if not ids:
        return []
    rows = db.session.scalars(
        select(Schedule)
        .where(Schedule.id.in_(ids))
        .options(joinedload(Schedule.page).selectinload(Page.page_attachments)
                 .joinedload(PageAttachment.attachment))
    ).unique().all()
    by_id = {s.id: s for s in rows}
    return [by_id[i] for i in ids if i in by_id]


def first_words(text, words=8, characters=60):
    """The start of a page's text, for a chip or an event title."""
    head = " ".join(text.split()[:words])
    if len(head) > characters:
        head = head[:characters - 1].rstrip() + "…"
    elif len(text.split()) > words:
        head += "…"
    return head
