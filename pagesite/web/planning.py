"""Settings for planning: the calendar feed and the posting queue."""

from flask import flash, g, redirect, render_template, request, session, url_for

from ..errors import ValidationFailed
from ..services import auth, calendar_feed, channels, posting_queue
from . import bp
from .calendar import viewer_zone

NEW_FEED_URL = "pagesite_new_feed_url"  # shown once after it is made, then forgotten


@bp.app_template_global()
def planning_settings():
    """What the settings page shows about the feed and the queues: the default one, then each channel's."""
    default = posting_queue.get_queue()
    queues = [dict(key="default", channel=None, queue=default,
                   zone=default["time_zone"] if default["slots"] else viewer_zone())]
    for channel in channels.live_channels():
        own = posting_queue.get_channel_queue(channel.id)
        queues.append(dict(key=str(channel.id), channel=channel, queue=own,
                           zone=own["time_zone"] if own["slots"] else queues[0]["zone"]))
    return dict(
        has_feed=calendar_feed.has_feed(g.user),
        new_feed_url=session.pop(NEW_FEED_URL, None),
        queues=queues,
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
    """Save the default queue's times, or a channel's (``channel_id``); errors go next to their field."""
    channel_id = request.form.get("channel_id", "")
    channel = channels.get_channel(int(channel_id)) if channel_id.isdigit() else None
    key = str(channel.id) if channel else "default"
    slots, line_errors = parse_slots(request.form)
    errors = {"slots": line_errors} if line_errors else {}
    if not errors:
        try:
            posting_queue.set_queue(request.form.get("time_zone"),
                                    [{"weekday": s["weekday"], "time": s["time"]} for s in slots],
                                    channel.id if channel else None)
        except ValidationFailed as e:
            for name, messages in e.errors.items():
                field = "time_zone" if name == "time_zone" else "slots"
                errors.setdefault(field, []).extend(_slot_message(name, m, slots) for m in messages)
    if errors:
        return render_template("auth/settings.html", tokens=auth.list_tokens(g.user), new_token=None, errors={},
                               password_errors={}, queue_errors=errors, queue_form=request.form, queue_key=key), 422
    if channel and not slots:
        flash(f"{channel.name} now takes the default posting times.")
    else:
        flash(f"Posting times{f' of {channel.name}' if channel else ''} saved; “Add to queue” in Compose takes "
              "the next free one.")
    return redirect(url_for("auth.settings") + f"#queue-{key}")


def _slot_message(name, message, slots):
    """A message about one posting time names the line it came from."""
    if name.startswith("slots."):
        n = int(name.split(".")[1])
        return f"“{slots[n]['line']}”: {message}"
    return message
