"""Many schedules at once from the list: tick them (or take every one the filters
match), choose cancel, move or retry, confirm the number, done in one transaction."""

from flask import flash, redirect, render_template, request, url_for

from ..errors import ValidationFailed
from ..services import bulk
from . import bp
from .forms import parse_ids
from .routes import FILTERS, _schedules_context, read_filters

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
DONE = {"cancel": "canceled", "move": "moved", "retry": "queued again"}


def _choice(values):
    """(action, ids, filters, by_seconds) from the bulk form, or a 422 naming its field."""
    action = values.get("action", "")
    if action not in bulk.ACTIONS:
        raise ValidationFailed.single("action", "Choose what to do: cancel, move or retry.")
    by_seconds = None
    if action == "move":
        amount, unit = values.get("amount", "").strip(), values.get("unit", "hours")
        if not amount.isdigit() or int(amount) == 0 or unit not in UNITS:
            raise ValidationFailed.single("amount", "Give how far to move them: a whole number of minutes, hours "
                                                    "or days.")
        by_seconds = int(amount) * UNITS[unit] * (-1 if values.get("direction") == "earlier" else 1)
        if abs(by_seconds) > bulk.MAX_MOVE_SECONDS:
            raise ValidationFailed.single("amount", "At most a year either way.")
    if values.get("scope") == "filter":
        filters, start, end = read_filters(values)
        return action, None, {"status": filters["status"] or None, "q": filters["q"] or None,
                              "channel_id": filters["channel_id"] or None, "from": start, "to": end}, by_seconds
    ids = parse_ids(values.getlist("ids"))
    if not ids:
        raise ValidationFailed.single("ids", "Tick the schedules to change first, or choose every one matching "
                                             "the filters.")
    return action, ids, None, by_seconds


def _with_errors(values, error):
    context = _schedules_context(values)
    context.update(bulk_errors=error.errors, bulk_form=values)
    return render_template("web/schedules.html", **context), error.status


def _back(values):
    return url_for(".schedule_list", **{name: values[name] for name in FILTERS if values.get(name)})


@bp.get("/schedules/bulk")
def bulk_review():
    """The confirmation: what will happen to how many, before anything does."""
    values = request.args
    try:
        action, ids, filters, by_seconds = _choice(values)
        chosen, applies = bulk.review(action, ids, filters)
    except ValidationFailed as e:
        return _with_errors(values, e)
    return render_template("web/bulk_confirm.html", action=action, chosen=chosen, applies=applies,
                           by_seconds=by_seconds, fields=[(k, v) for k in values for v in values.getlist(k)],
                           back=_back(values), done=DONE[action])


@bp.post("/schedules/bulk")
def bulk_apply():
    values = request.form
    try:
        action, ids, filters, by_seconds = _choice(values)
        result = bulk.act(action, ids, filters, by_seconds)
    except ValidationFailed as e:
        return _with_errors(values, e)
    changed = len(result.changed)
    message = f"{changed} {'schedule' if changed == 1 else 'schedules'} {DONE[action]}."
    if result.skipped:
        message += f" {len(result.skipped)} left as they were (not {bulk.ELIGIBLE[action]}, or changed meanwhile)."
    flash(message)
    return redirect(_back(values))
