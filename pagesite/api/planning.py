"""API routes for planning: the posting queue and the calendar feed."""

from flask import current_app, g, url_for

from ..services import calendar_feed, posting_queue
from . import bp
from . import shapes as s
from .declare import endpoint


@bp.get("/queue")
@endpoint("getPostingQueue", "Planning", "The posting queue",
          "Weekly posting times in a time zone; `queue: true` on a new schedule takes the next free one. "
          "UTC and no times until set.", response=s.PostingQueue)
def get_posting_queue():
    return posting_queue.get_queue()


@bp.put("/queue")
@endpoint("setPostingQueue", "Planning", "Set the posting queue",
          "Replaces the time zone and the posting times; answers with the queue as stored (sorted).",
          body=s.NewPostingQueue, response=s.PostingQueue)
def put_posting_queue(body):
    return posting_queue.set_queue(body.time_zone, [slot.model_dump() for slot in body.slots])


@bp.post("/calendar-feed")
@endpoint("createCalendarFeed", "Planning", "Make a secret calendar feed",
          "An iCalendar (`text/calendar`) address with a secret key, readable by calendar apps without a "
          "token: one event per queued, publishing or published schedule. A new address replaces the "
          "previous one, which then answers 404.", response=s.CalendarFeed, status=201)
def create_calendar_feed():
    secret = calendar_feed.create_feed(g.user)
    return {"url": url_for("web.calendar_feed", secret=secret, _external=True)}


@bp.delete("/calendar-feed")
@endpoint("revokeCalendarFeed", "Planning", "Turn off the calendar feed", "Its address answers 404 from now on.",
          responses={"204": {"description": "Turned off (or it was already off)."}})
def revoke_calendar_feed():
    calendar_feed.revoke_feed(g.user)
    return current_app.response_class(status=204)
