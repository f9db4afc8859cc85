"""API routes for planning: the posting queue and the calendar feed."""

from flask import current_app, g, url_for

from ..services import calendar_feed, posting_queue
from . import bp
from . import shapes as s
from .declare import CHANNEL_NOT_FOUND, endpoint


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


CHANNEL_QUEUE = ("A channel with no posting times of its own takes them from the default queue "
                 "(`/api/queue`); `uses_default` says which applies.")


@bp.get("/channels/<int:channel_id>/queue")
@endpoint("getChannelQueue", "Planning", "A channel's posting queue",
          "The channel's own weekly posting times (UTC and none until set). " + CHANNEL_QUEUE,
          response=s.ChannelPostingQueue, errors=[CHANNEL_NOT_FOUND])
def get_channel_queue(channel_id):
    return posting_queue.get_channel_queue(channel_id)


@bp.put("/channels/<int:channel_id>/queue")
@endpoint("setChannelQueue", "Planning", "Set a channel's posting queue",
          "Replaces the channel's time zone and posting times; no times (`slots: []`) hands the channel back to "
          "the default queue. " + CHANNEL_QUEUE,
          body=s.NewPostingQueue, response=s.ChannelPostingQueue, errors=[CHANNEL_NOT_FOUND])
def put_channel_queue(channel_id, body):
    return posting_queue.set_channel_queue(channel_id, body.time_zone, [slot.model_dump() for slot in body.slots])


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
