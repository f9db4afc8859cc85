"""Settings for planning: the calendar feed and the posting queue."""

from flask import flash, g, redirect, render_template, request, session, url_for

from ..errors import ValidationFailed
from ..services import auth, calendar_feed, posting_queue
from . import bp
from .calendar import viewer_zone

NEW_FEED_URL = "pagesite_new_feed_url"  # shown once after it is made, then forgotten


@bp.app_template_global()
def planning_settings():
    """What the settings page shows about the feed and the queue."""
    queue = posting_queue.get_queue()
    return dict(
        has_feed=calendar_feed.has_feed(g.user),
        new_feed_url=session.pop(NEW_FEED_URL, None),
        queue=queue,
        queue_zone=queue["time_zone"] if queue["slots"] else viewer_zone(),
        weekdays=posting_queue.WEEKDAYS,
    )


@bp.post("/settings/calendar-feed")
def settings_create_feed():
    secret = calendar_feed.create_feed(g.user)
    session[NEW_FEED_URL] = url_for("web.calendar_feed", secret=secret, _external=True)
    flash("Your calendar feed is ready: copy its address into your calendar app. Any older address stops working.")
    return redirect(url_for("auth.settings") + "#calendar-feed")


@bp.post("/settings/calendar-feed/revoke")
def settings_revoke_feed():
    calendar_feed.revoke_feed(g.user)
    flash("Your calendar feed is turned off; its address no longer works.")
    return redirect(url_for("auth.settings") + "#calendar-feed")


FULL_NAMES = {name: name[:3] for name in
              ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}


def parse_slots(form):
    """Posting times from the settings form: one line per time, "mon 09:00" (or "Monday 9:00")."""
    slots, errors = [], []
    for n, line in enumerate(form.get("slots", "").splitlines(), 1):
        parts = line.strip().lower().split()
        if not parts:
            continue
        if len(parts) != 2:
            errors.append(f"Line {n} (“{line.strip()}”): write a weekday and a time, such as “mon 09:00”.")
            continue
        slots.append({"weekday": FULL_NAMES.get(parts[0], parts[0]), "time": parts[1].zfill(5),
                      "line": line.strip()})
    return slots, errors


@bp.post("/settings/queue")
def settings_queue():
    slots, errors = parse_slots(request.form)
    if not errors:
        try:
            posting_queue.set_queue(request.form.get("time_zone"),
                                    [{"weekday": s["weekday"], "time": s["time"]} for s in slots])
        except ValidationFailed as e:
            errors = [_slot_message(name, message, slots) for name, messages in e.errors.items()
                      for message in messages]
    if errors:
        return render_template("auth/settings.html", tokens=auth.list_tokens(g.user), new_token=None, errors={},
                               queue_errors=errors, queue_form=request.form), 422
    flash("Posting times saved; “Add to queue” in Compose takes the next free one.")
    return redirect(url_for("auth.settings") + "#posting-queue")


def _slot_message(name, message, slots):
    """A message about one posting time names the line it came from."""
    if name.startswith("slots."):
        n = int(name.split(".")[1])
        return f"“{slots[n]['line']}”: {message}"
    return message
