"""The calendar: week and month views of the plan, drag to reschedule, the feed.

Everything is rendered on the server in the viewer's time zone (the browser
tells it in a cookie, or ``?tz=``); htmx swaps the calendar region on
previous / next / today and after a move.
"""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, make_response, render_template, request, url_for

from ..errors import Conflict, ValidationFailed
from ..services import calendar, schedules
from ..services import calendar_feed as feeds
from ..timeutil import isoformat, local_time_kind, local_to_utc, utcnow
from . import bp
from .errors import is_htmx

TZ_COOKIE = "pagesite_tz"
CHIPS_PER_CELL = 3  # more are summed up as "N more", so a busy month stays fast to render
VIEWS = ("week", "month")


def viewer_zone():
    """The viewer's IANA zone name: ``?tz=``, else the browser's cookie, else UTC."""
    for name in (request.values.get("tz"), unquote(request.cookies.get(TZ_COOKIE, ""))):
        if name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return "UTC"


def _anchor(value, today):
    try:
        return date.fromisoformat(value) if value else today
    except ValueError:
        return today


@dataclass
class Cell:
    day: date
    hour: int | None = None  # None in the month view
    chips: list = field(default_factory=list)
    more: int = 0
    kind: str = "normal"  # "missing" (clocks jump past this hour) or "repeated" (it happens twice)
    past: bool = False


@dataclass
class CalendarView:
    view: str
    anchor: date
    zone: str
    today: date
    days: list  # the dates shown, in order
    start: object  # UTC bounds of what is shown
    end: object
    cells: dict  # (day, hour or None) -> Cell
    previous: date
    next: date
    title: str
    month: int | None = None
    agenda: list = field(default_factory=list)  # [(day, [chips])] of days with schedules

    def url(self, **changes):
        args = {"view": self.view, "date": self.anchor.isoformat(), **changes}
        return url_for("web.calendar_page", **args)

    @property
    def weeks(self):
        return [self.days[i:i + 7] for i in range(0, len(self.days), 7)]


def build_view(view, anchor, zone):
    tz = ZoneInfo(zone)
    now = utcnow()
    today = now.astimezone(tz).date()
    if view == "month":
        first = anchor.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        grid_start = first - timedelta(days=first.weekday())
        grid_end = last + timedelta(days=6 - last.weekday())
        days = [grid_start + timedelta(days=n) for n in range((grid_end - grid_start).days + 1)]
        previous = (first - timedelta(days=1)).replace(day=1)
        following = last + timedelta(days=1)
        title = first.strftime("%B %Y")
        month = first.month
    else:
        view = "week"
        monday = anchor - timedelta(days=anchor.weekday())
        days = [monday + timedelta(days=n) for n in range(7)]
        previous, following = monday - timedelta(days=7), monday + timedelta(days=7)
        sunday = days[-1]
        title = (f"{monday.strftime('%-d %B')} – {sunday.strftime('%-d %B %Y')}" if monday.year == sunday.year
                 else f"{monday.strftime('%-d %B %Y')} – {sunday.strftime('%-d %B %Y')}")
        month = None
    start = local_to_utc(days[0], "00:00", zone)
    end = local_to_utc(days[-1] + timedelta(days=1), "00:00", zone)

    cells = {}
    for day in days:
        if view == "month":
            cells[(day, None)] = Cell(day, past=day < today)
        else:
            for hour in range(24):
                clock = f"{hour:02d}:00"
                cells[(day, hour)] = Cell(day, hour, kind=local_time_kind(day, clock, zone),
                                          past=local_to_utc(day, f"{hour:02d}:59", zone) <= now)

    # The database counts each cell's schedules; only the chips shown are read whole.
    ordered = list(cells.values())
    bounds = [_cell_start(cell, zone) for cell in ordered] + [end]
    counts = calendar.bucket_counts(bounds)
    shown = calendar.first_in_buckets(bounds, sorted(counts), CHIPS_PER_CELL)
    for schedule in calendar.load_schedules(shown):
        ordered[bisect_right(bounds, schedule.scheduled_at) - 1].chips.append(Chip(schedule, tz))
    per_day = defaultdict(list)
    for n, cell in enumerate(ordered):
        cell.more = counts.get(n, 0) - len(cell.chips)
        per_day[cell.day].extend(cell.chips)
    agenda = [(day, per_day[day]) for day in days if per_day[day] and (view == "week" or day.month == month)]
    return CalendarView(view=view, anchor=anchor, zone=zone, today=today, days=days, start=start, end=end,
                        cells=cells, previous=previous, next=following, title=title, month=month, agenda=agenda)


def _cell_start(cell, zone):
    return local_to_utc(cell.day, f"{cell.hour or 0:02d}:00", zone)


class Chip:
    """A schedule as the calendar shows it, in the viewer's zone."""

    def __init__(self, schedule, tz):
        self.schedule = schedule
        self.local = schedule.scheduled_at.astimezone(tz)
        self.words = calendar.first_words(schedule.page.text, words=6, characters=40)
        attachments = schedule.page.attachments
        self.thumbnail = next((a for a in attachments if a.kind == "image"), None)
        self.movable = schedule.status == "queued"

    @property
    def id(self):
        return self.schedule.id


def _render(cal, status=200, message=None, error=None, focus=None):
    context = dict(cal=cal, message=message, error=error, focus=focus, views=VIEWS)
    template = "web/_calendar.html" if is_htmx() else "web/calendar.html"
    response = make_response(render_template(template, **context), status)
    return response


@bp.get("/calendar")
def calendar_page():
    zone = viewer_zone()
    today = utcnow().astimezone(ZoneInfo(zone)).date()
    view = request.args.get("view") if request.args.get("view") in VIEWS else "week"
    return _render(build_view(view, _anchor(request.args.get("date"), today), zone))


@bp.get("/calendar/schedules/<int:schedule_id>/move")
def calendar_move_form(schedule_id):
    """The Reschedule form of one chip (the keyboard and touch way to move it)."""
    zone = viewer_zone()
    schedule = schedules.get_schedule(schedule_id)
    prefix = request.args.get("prefix", "")
    return render_template(
        "web/_chip_move_form.html", schedule=schedule, zone=zone, local=schedule.scheduled_at.astimezone(ZoneInfo(zone)),
        prefix=prefix if prefix in ("", "agenda-") else "",
        view=request.args.get("view") if request.args.get("view") in VIEWS else "week",
        anchor=request.args.get("anchor", "")[:10])


@bp.post("/calendar/schedules/<int:schedule_id>/move")
def calendar_move(schedule_id):
    """Move a queued schedule to a new local date and time (a drop, or the Reschedule form)."""
    zone = viewer_zone()
    today = utcnow().astimezone(ZoneInfo(zone)).date()
    view = request.form.get("view") if request.form.get("view") in VIEWS else "week"
    anchor = _anchor(request.form.get("anchor"), today)
    day, clock = request.form.get("date", ""), request.form.get("time", "")
    try:
        when = local_to_utc(day, clock, zone)
    except ValueError as e:
        return _render(build_view(view, anchor, zone), 422, error=str(e))
    try:
        schedule = schedules.reschedule(schedule_id, isoformat(when))
    except ValidationFailed:
        local = when.astimezone(ZoneInfo(zone))
        error = (f"{local.strftime('%a %-d %b, %H:%M')} has already passed, so the page was not moved; "
                 "it keeps its time. Choose a later time.")
        return _render(build_view(view, anchor, zone), 422, error=error)
    except Conflict as e:
        return _render(build_view(view, anchor, zone), 422, error=e.detail)
    local = schedule.scheduled_at.astimezone(ZoneInfo(zone))
    note = ""
    kind = local_time_kind(day, clock, zone)
    if kind == "missing":
        note = f" ({clock} does not exist that night: the clocks go forward.)"
    elif kind == "repeated":
        note = f" ({clock} happens twice that night; the first was used.)"
    message = f"Moved “{calendar.first_words(schedule.page.text, 6, 40)}” to {local.strftime('%a %-d %b, %H:%M')}.{note}"
    return _render(build_view(view, anchor, zone), message=message, focus=schedule.id)


@bp.get("/calendar/feed/<secret>.ics")
def calendar_feed(secret):
    """The secret iCalendar feed: no session or token, the secret in the URL is the key."""
    if not feeds.feed_exists(secret):
        abort(404)
    body = feeds.render_feed(lambda page_id: url_for("web.page_detail", page_id=page_id, _external=True))
    response = make_response(body)
    response.mimetype = "text/calendar"
    response.charset = "utf-8"
    response.headers["Cache-Control"] = "private, no-cache"
    return response
