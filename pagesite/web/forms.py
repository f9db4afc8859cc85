"""Reading the web forms into the values the services take.

Only the shape of the input is handled here (strings to ids, a local date and
time to UTC); every rule about what is allowed lives in the services.
"""

from dataclasses import dataclass, field
from datetime import datetime

from ..timeutil import isoformat, local_time_kind, local_to_utc


@dataclass
class ComposeForm:
    text: str = ""
    attachment_ids: list = field(default_factory=list)
    channel_ids: list | None = None  # None: not chosen yet (the form shows the remembered choice)
    alt_texts: dict = field(default_factory=dict)  # attachment id -> description as typed
    when: str = "now"  # "now" or "later"
    date: str = ""
    time: str = ""
    tz: str = ""
    scheduled_at: str | None = None  # ISO 8601 UTC, for the service
    scheduled_utc: datetime | None = None
    note: str = ""  # said to the user about a daylight-saving adjustment
    errors: dict = field(default_factory=dict)

    def add_error(self, name, message):
        self.errors.setdefault(name, []).append(message)


def parse_compose(form):
    """A ComposeForm from the posted fields; shape errors are in ``.errors``."""
    data = ComposeForm(
        text=form.get("text", ""),
        when="later" if form.get("when") == "later" else "now",
        date=form.get("date", "").strip(),
        time=form.get("time", "").strip(),
        tz=form.get("tz", "").strip() or "UTC",
    )
    data.channel_ids = []
    for raw in form.getlist("channel_ids"):
        try:
            data.channel_ids.append(int(raw))
        except ValueError:
            data.add_error("channel_ids", f"{raw!r} is not a channel id; reload the page and choose again.")
    for raw in form.getlist("attachment_ids"):
        try:
            data.attachment_ids.append(int(raw))
        except ValueError:
            data.add_error("attachment_ids", f"{raw!r} is not an attachment id; remove it and upload the file again.")
            continue
        data.alt_texts[data.attachment_ids[-1]] = form.get(f"alt_text_{raw}", "")
    if data.when == "later":
        if not data.date:
            data.add_error("scheduled_at", "Choose a date.")
        if not data.time:
            data.add_error("scheduled_at", "Choose a time.")
        if data.date and data.time:
            try:
                data.scheduled_utc = local_to_utc(data.date, data.time, data.tz)
                kind = local_time_kind(data.date, data.time, data.tz)
            except ValueError as e:
                data.add_error("scheduled_at", str(e))
            else:
                data.scheduled_at = isoformat(data.scheduled_utc)
                data.note = _dst_note(data, kind)
    return data


def _dst_note(data, kind):
    from zoneinfo import ZoneInfo

    if kind == "normal":
        return ""
    actual = data.scheduled_utc.astimezone(ZoneInfo(data.tz)).strftime("%H:%M")
    if kind == "missing":
        return (f"{data.time} does not exist on {data.date} in {data.tz} (the clocks go forward), "
                f"so it was read as {actual}.")
    return (f"{data.time} happens twice on {data.date} in {data.tz} (the clocks go back); "
            "the first of the two was used.")
