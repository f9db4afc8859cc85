"""A plan in from a CSV file: read it, show every row as it will be created
with its problems, then create the valid rows or all of them, in one transaction.

Columns (a header line names them, in any order, any case): ``text``,
``scheduled_at`` (RFC 3339 with an offset, or a local time in the file's time
zone) and ``channels`` (names or ids, separated by ``;`` or ``,``); a file
written by the export (``GET /api/schedules?format=csv``) has ``channel_id``
instead, which is read too, so a plan exported and imported again is the same
plan. Other columns are ignored.
"""

import csv
import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import Conflict, TooLarge, ValidationFailed
from ..extensions import db
from ..models import Import, Page
from .. import queueing
from ..tickets import Ticket
from ..timeutil import isoformat, local_time_kind, local_to_utc, parse_aware, utcnow
from . import channels
from .common import get_or_404
from .pages import clean_text, sent_problems
from .schedules import new_schedules

MAX_ROWS = 5000
MAX_BYTES = 20 * 1024 * 1024
MODES = ("valid", "all")
CHANNEL_COLUMNS = ("channels", "channel_id", "channel")  # the first one present is read


def read(stream, filename="", time_zone=None):
    """An Import holding every row of the CSV file ``stream``, as read (nothing is created)."""
    zone = _zone(time_zone)
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise TooLarge({"file": [f"The file is over {MAX_BYTES // (1024 * 1024)} MB; split it into smaller ones."]})
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.single("file", "The file is not UTF-8 text; save it from your spreadsheet as "
                                              "\"CSV UTF-8\".") from None
    reader = csv.reader(io.StringIO(content, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    column = next((c for c in CHANNEL_COLUMNS if c in header), None)
    missing = [c for c in ("text", "scheduled_at") if c not in header] + ([] if column else ["channels"])
    if missing:
        raise ValidationFailed.single("file", f"The first line must name the columns; missing: {', '.join(missing)}.")
    rows = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            if len(rows) == MAX_ROWS:
                raise ValidationFailed.single("file", f"At most {MAX_ROWS:,} rows a file; split it.")
            cells = dict(zip(header, record))
            rows.append({"line": reader.line_num, "text": cells.get("text", ""),
                         "scheduled_at": cells.get("scheduled_at", "").strip(),
                         "channels": cells.get(column, "").strip()})
    except csv.Error as e:
        raise ValidationFailed.single("file", f"Line {reader.line_num} cannot be read as CSV: {e}.") from None
    if not rows:
        raise ValidationFailed.single("file", "The file has no rows under its first line.")
    record = Import(filename=(filename or "")[:255], time_zone=time_zone or None, rows=rows)
    db.session.add(record)
    db.session.commit()
    return record


def get_import(import_id):
    return get_or_404(Import, import_id, "import")


def preview(record):
    """Each row as it will be created, with what is wrong with it, checked now."""
    checked = _check(record)
    return {
        "id": record.id, "filename": record.filename, "time_zone": record.time_zone,
        "created_at": record.created_at, "committed_at": record.committed_at,
        "schedule_ids": record.schedule_ids or [],
        "valid": sum(1 for row in checked if not row["problems"]),
        "invalid": sum(1 for row in checked if row["problems"]),
        "rows": checked,
    }


def commit(import_id, mode):
    """Create the valid rows (``mode`` "valid") or every row or none ("all"): a page
    and its schedules per row, in one transaction. The rows are checked again first,
    so a time that has passed since the preview is refused, not scheduled late."""
    if mode not in MODES:
        raise ValidationFailed.single("mode", f"Must be one of: {', '.join(MODES)}.")
    get_import(import_id)  # the 404
    record = db.session.get(Import, import_id, with_for_update=True, populate_existing=True)
    if record.committed_at is not None:
        raise Conflict(f"Import {record.id} was already committed; it created {len(record.schedule_ids or [])} "
                       "schedules.")
    checked = _check(record)
    bad = [row for row in checked if row["problems"]]
    if mode == "all" and bad:
        db.session.rollback()
        raise ValidationFailed({f"rows.{row['line']}": row["problems"] for row in bad},
                               detail=f"{len(bad)} of {len(checked)} rows have problems; nothing was created.")
    good = [row for row in checked if not row["problems"]]
    if not good:
        db.session.rollback()
        raise ValidationFailed.single("mode", "No row can be created; correct the file and upload it again.")
    found = {c.id: c for c in channels.live_channels()}
    created = []
    try:
        for row in good:
            page = Page(text=row["text"])
            db.session.add(page)
            when = parse_aware(row["scheduled_at"])
            created += new_schedules(page, [found[i] for i in row["channel_ids"]], when)
        db.session.flush()
        record.committed_at = utcnow()
        record.schedule_ids = [s.id for s in created]
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    for schedule in created:
        queueing.dispatch(Ticket.of(schedule))  # after the commit; the reconciler catches up if Redis is down
    return record


def _zone(name):
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed.single("time_zone", f"Unknown time zone {name!r}; use an IANA name such as "
                                                   "Europe/Berlin.") from None


def _check(record):
    zone = _zone(record.time_zone)
    now = utcnow()
    live = channels.live_channels()
    by_id = {c.id: c for c in live}
    by_name = {}
    for channel in live:
        by_name.setdefault(channel.name.strip().casefold(), []).append(channel)
    return [_check_row(row, zone, now, by_id, by_name) for row in record.rows]


def _check_row(row, zone, now, by_id, by_name):
    problems = []
    text = row["text"]
    try:
        text = clean_text(text)
    except ValidationFailed as e:
        problems += [f"text: {m}" for m in e.errors.get("text", [])]
    when, problem = _when(row["scheduled_at"], zone, now)
    if problem:
        problems.append(f"scheduled_at: {problem}")
    targets, problem = _targets(row["channels"], by_id, by_name)
    if problem:
        problems.append(f"channels: {problem}")
    if not problems:
        problems += [m for channel in targets for m in sent_problems(channel, text, ())]
    return {"line": row["line"], "text": text, "scheduled_at": when,
            "channel_ids": [c.id for c in targets], "channels": [c.label for c in targets], "problems": problems}


def _when(value, zone, now):
    """(the UTC time, None) or (None, what is wrong)."""
    if not value:
        return None, "A time is required."
    try:
        when = parse_aware(value)
    except ValueError:
        when = None
    if when is None:
        try:
            local = datetime.fromisoformat(value.replace(" ", "T", 1))
        except ValueError:
            return None, f"{value!r} is not a date and time (such as 2030-01-31 09:00, or with an offset +01:00)."
        if local.tzinfo is None and zone is None:
            return None, f"{value} has no offset; add one (such as +01:00) or choose a time zone for the file."
        try:
            if local.tzinfo is not None:
                when = local.astimezone(timezone.utc)
            else:  # one the clocks pass twice is taken at its first occurrence
                if local_time_kind(local.date(), local.time(), zone.key) == "missing":
                    return None, f"{value} does not exist in {zone.key}: the clocks skip it that night."
                when = local_to_utc(local.date(), local.time(), zone.key)
        except OverflowError:
            return None, f"{value} is outside the range of supported dates."
    if when <= now:
        return None, f"{isoformat(when)} is in the past; choose a later time."
    if when > now + timedelta(days=366 * 10):
        return None, f"{isoformat(when)} is more than ten years ahead."
    return when, None


def _targets(value, by_id, by_name):
    """(the channels, None) or ([], what is wrong)."""
    names = [n.strip() for n in value.replace(",", ";").split(";") if n.strip()]
    if not names:
        return [], "Name at least one channel (by name or id)."
    targets, unknown, ambiguous = [], [], []
    for name in names:
        if name.isdigit() and int(name) in by_id:
            channel = by_id[int(name)]
        else:
            matches = by_name.get(name.casefold(), [])
            if len(matches) > 1:
                ambiguous.append(name)
                continue
            if not matches:
                unknown.append(name)
                continue
            channel = matches[0]
        if channel not in targets:
            targets.append(channel)
    if unknown:
        return [], f"No channel named {', '.join(unknown)}."
    if ambiguous:
        return [], f"Several channels are named {', '.join(ambiguous)}; use their ids."
    return targets, None
