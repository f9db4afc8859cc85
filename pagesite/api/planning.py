"""API routes for planning: the posting queue and the calendar feed."""

from flask import g, url_for

from ..services import calendar_feed, posting_queue
from . import bp
from .routes import json_body


@bp.get("/queue")
def get_posting_queue():
    return posting_queue.get_queue()


@bp.put("/queue")
def put_posting_queue():
    body = json_body()
    return posting_queue.set_queue(body.get("time_zone"), body.get("slots"))


@bp.post("/calendar-feed")
def create_calendar_feed():
    secret = calendar_feed.create_feed(g.user)
    return {"url": url_for("web.calendar_feed", secret=secret, _external=True)}, 201


@bp.delete("/calendar-feed")
def revoke_calendar_feed():
    calendar_feed.revoke_feed(g.user)
    return "", 204
