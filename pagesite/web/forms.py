"""Reading the web forms into the values the services take.

Only the shape of the input is handled here (strings to ids, a local date and
time to UTC); every rule about what is allowed lives in the services.
"""

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ..timeutil import isoformat, local_time_kind, local_to_utc


@dataclass
class ComposeForm:
    text: str = ""
    attachment_ids: list = field(default_factory=list)
    channel_ids: list | None = None  # None: not chosen yet (the form shows the remembered choice)
    alt_texts: dict = field(default_factory=dict)  # attachment id -> description as typed
    versions: dict = field(default_factory=dict)  # channel id -> its own text as typed ("" or absent: the page's)
    when: str = "now"  # "now", "later" or "queue" (the next free posting time)
    date: str = ""
    time: str = ""
    tz: str = ""
    scheduled_at: str | None = None  # ISO 8601 UTC, for the service
    scheduled_utc: datetime | None = None
    note: str = ""  # said to the user about a daylight-saving adjustment
    shifted_time: str = ""  # the wall-clock time a daylight-saving adjustment lands on
    time_confirmed: bool = False  # the user accepted that adjustment
    without_descriptions: bool = False  # the user chose to publish attachments without descriptions
    link_card: bool = True  # a card for the first link (see providers/link_cards.py)
    errors: dict = field(default_factory=dict)

    def add_error(self, name, message):
        self.errors.setdefault(name, []).append(message)

    def own_versions(self, channel_ids=None):
        """The versions written for the chosen channels (``channel_ids``, else the form's),
        as the services take them; a blank one means the page's text."""
        chosen = self.channel_ids if channel_ids is None else channel_ids
        return [{"channel_id": channel_id, "text": text} for channel_id, text in self.versions.items()
                if text.strip() and channel_id in (chosen or [])]


def parse_flag(form, name, default=True):
    """A checkbox that follows a hidden "no" of the same name: the last value sent decides, and a
    form that has no such field at all keeps ``default``."""
    values = form.getlist(name)
    return values[-1] == "yes" if values else default


def parse_compose(form):
    """A ComposeForm from the posted fields; shape errors are in ``.errors``."""
    data = ComposeForm(
        text=form.get("text", ""),
        when=form.get("when") if form.get("when") in ("later", "queue") else "now",
        date=form.get("date", "").strip(),
        time=form.get("time", "").strip(),
        tz=form.get("tz", "").strip() or "UTC",
    )
    confirmed = form.get("confirm_time", "")
    data.without_descriptions = form.get("without_descriptions") == "yes"
    data.link_card = parse_flag(form, "link_card")
    data.channel_ids = []
    for raw in form.getlist("channel_ids"):
        try:
            data.channel_ids.append(int(raw))
        except ValueError:
            data.add_error("channel_ids", f"{raw!r} is not a channel id; reload the page and choose again.")
    for name, value in form.items():
        if name.startswith("version_") and name[len("version_"):].isdigit():
            data.versions[int(name[len("version_"):])] = value
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
                data.shifted_time = _wall_time(data)
                data.time_confirmed = confirmed == data.scheduled_at
    return data


def _wall_time(data):
    return data.scheduled_utc.astimezone(ZoneInfo(data.tz)).strftime("%H:%M")


def _dst_note(data, kind):
    if kind == "normal":
        return ""
    actual = _wall_time(data)
    if kind == "missing":
        return (f"{data.time} does not exist on {data.date} in {data.tz} (the clocks go forward), "
                f"so it is read as {actual}.")
    return (f"{data.time} happens twice on {data.date} in {data.tz} (the clocks go back); "
            "the first of the two is used.")


def parse_ids(values):
    """The whole numbers among form values, in order (anything else cannot name a record)."""
    return [int(v) for v in values if v.strip().isdigit() and len(v.strip()) < 10]
