"""Views of the web interface. Each parses its form, calls a service, renders."""

from dataclasses import dataclass

from flask import abort, current_app, redirect, render_template, request, session, url_for

from .. import signed_links
from ..errors import NotFound, ValidationFailed
from ..models import ACTIVE_STATUSES, SCHEDULE_STATUSES
from ..security import large_body
from ..services import attachments, channels, pages, schedules
from ..timeutil import isoformat
from . import bp
from .errors import is_htmx
from .forms import ComposeForm, parse_compose


@bp.after_request
def no_shared_caching(response):
    # One URL answers with a fragment or a whole page depending on HX-Request.
    response.vary.add("HX-Request")
    return response


@bp.app_template_filter("utc_iso")
def utc_iso(value):
    return isoformat(value)


FIELD_ANCHORS = {"text": "text", "attachment_ids": "attachments", "scheduled_at": "date", "provider": "when-now",
                 "channel_ids": "channels"}


@bp.app_template_global()
def error_anchor(name):
    """The id of the control an error about ``name`` belongs to."""
    if name.startswith("alt_text_"):
        return "alt-" + name.removeprefix("alt_text_")
    if name.startswith("channel."):
        return "channel-" + name.removeprefix("channel.")
    return FIELD_ANCHORS.get(name, "compose-form")


@bp.get("/")
def index():
    return redirect(url_for(".compose"))


# Compose

@dataclass
class ChannelChoice:
    channel: object
    checked: bool
    count: int
    max: int

    @property
    def over(self):
        return self.count > self.max


def _channel_choices(text, chosen):
    """Every live channel, whether it is ticked, and the text's length as it counts it.

    Not yet chosen: the last choice made here (kept in the session), else the default channel."""
    live = channels.live_channels()
    if chosen is None:
        chosen = session.get("compose_channel_ids")
        if not chosen:
            default = channels.default_channel()
            chosen = [default.id] if default else []
    text = text.replace("\r\n", "\n").strip()
    return [ChannelChoice(c, c.id in chosen, channels.count_characters(c, text), channels.limits_of(c).max_characters)
            for c in live]


def _compose_context(form, **extra):
    config = current_app.config
    assets = _known_attachments(form.attachment_ids)
    return dict(
        form=form,
        attachments=assets,
        channel_choices=_channel_choices(form.text, form.channel_ids),
        max_text=config["MAX_TEXT_LENGTH"],
        max_attachments=config["MAX_ATTACHMENTS"],
        accept=",".join(config["ALLOWED_TYPES"]),
        **extra,
    )


def _known_attachments(ids):
    """The uploaded attachments still listed on the form, in its order (unknown ids dropped)."""
    found = []
    for attachment_id in ids:
        try:
            found.append(attachments.get_attachment(attachment_id))
        except NotFound:
            continue
    return found


@bp.get("/compose")
def compose():
    return render_template("web/compose.html", **_compose_context(ComposeForm()))


@bp.post("/compose")
def create_page():
    form = parse_compose(request.form)
    errors = dict(form.errors)
    try:
        schedules.check_compose(form.text, form.attachment_ids, form.scheduled_at, form.channel_ids)
    except ValidationFailed as e:
        for name, messages in e.errors.items():
            errors.setdefault(name, []).extend(m for m in messages if m not in errors.get(name, []))
    for attachment_id, alt_text in form.alt_texts.items():
        try:
            attachments.check_alt_text(alt_text)
        except ValidationFailed as e:
            errors[f"alt_text_{attachment_id}"] = e.errors["alt_text"]
    if form.scheduled_utc and errors.get("scheduled_at"):
        # The service judged the UTC instant; say it in the zone the user chose it in.
        errors["scheduled_at"] = [
            f"{form.time} on {form.date} ({form.tz}) has already passed; choose a later time."
        ]
    if errors:
        form.errors = errors
        template = "web/_compose_form.html" if is_htmx() else "web/compose.html"
        return render_template(template, **_compose_context(form)), 422

    for attachment_id, alt_text in form.alt_texts.items():
        attachments.describe(attachment_id, alt_text)
    page, created = schedules.compose(form.text, form.attachment_ids, form.scheduled_at, form.channel_ids)
    session["compose_channel_ids"] = form.channel_ids  # remembered for the next page
    schedule = created[0]
    fresh = ComposeForm(tz=form.tz)
    context = _compose_context(fresh, created=page, schedule=schedule, created_schedules=created, note=form.note,
                               scheduled_later=form.scheduled_at is not None)
    template = "web/_compose_form.html" if is_htmx() else "web/compose.html"
    return render_template(template, **context), 201


@bp.post("/compose/counts")
def channel_counts():
    """Each channel's character count for the text being typed (swapped in place, out of band)."""
    text = request.form.get("text", "")
    return render_template("web/_channel_counts.html", channel_choices=_channel_choices(text, []))


@bp.post("/compose/preview")
def preview():
    form = parse_compose(request.form)
    return render_template(
        "web/_preview.html",
        text=form.text.replace("\r\n", "\n").strip(),
        attachments=_known_attachments(form.attachment_ids),
        alt_texts=form.alt_texts,
    )


@bp.post("/compose/attachments")
@large_body
def upload_attachment():
    upload = request.files.get("file")
    name = upload.filename if upload else request.headers.get("X-Upload-Filename", "")
    try:
        asset = attachments.upload(upload.stream if upload else None, upload.filename if upload else "")
    except ValidationFailed as e:
        messages = [m for ms in e.errors.values() for m in ms]
        display = attachments.sanitise_filename(name) if name else "This file"
        return render_template("web/_upload_error.html", name=display, messages=messages), e.status
    return render_template("web/_attachment_item.html", asset=asset, alt_text="", errors={}), 201


@bp.post("/compose/attachments/<int:attachment_id>/description")
def describe_attachment(attachment_id):
    alt_text = request.form.get(f"alt_text_{attachment_id}", request.form.get("alt_text", ""))
    try:
        attachments.describe(attachment_id, alt_text)
    except ValidationFailed as e:
        return render_template("web/_field_status.html", error=e.errors["alt_text"][0]), e.status
    return render_template("web/_field_status.html", saved=True)


@bp.get("/attachments/<int:attachment_id>/file")
def attachment_file(attachment_id):
    return attachments.send(attachments.get_attachment(attachment_id))


@bp.get("/links/attachments/<token>")
def attachment_link(token):
    """An attachment's bytes through a signed, expiring link (handed to webhook receivers)."""
    try:
        attachment_id, sha_prefix = signed_links.read_token(current_app.config, token)
    except signed_links.LinkExpired:
        abort(410, "This link has expired.")
    except signed_links.LinkInvalid:
        abort(404)
    asset = attachments.get_attachment(attachment_id)
    if not asset.sha256.startswith(sha_prefix):
        abort(404)
    response = attachments.send(asset)
    response.headers["Cache-Control"] = "private, no-store"  # no cache may outlive the link
    return response


# Schedules

def _schedules_context(status, page):
    status = status or "all"
    result = schedules.list_schedules(status, None, page, None)
    pages_total = max(1, -(-result.total // result.per_page))
    return dict(
        result=result,
        status=status,
        statuses=("all",) + SCHEDULE_STATUSES,
        pages_total=pages_total,
        polling=any(s.status in ACTIVE_STATUSES for s in result.items),
    )


@bp.get("/schedules")
def schedule_list():
    context = _schedules_context(request.args.get("status"), request.args.get("page"))
    if is_htmx():
        return render_template("web/_schedules_region.html", **context)
    return render_template("web/schedules.html", **context)


ACTIONS = {
    "cancel": (schedules.cancel_schedule, "Schedule {id} was canceled; it will not be published."),
    "retry": (schedules.retry_schedule, "Schedule {id} is queued again and will be published shortly."),
    "publish-now": (schedules.publish_queued_now, "Schedule {id} will be published now."),
}


@bp.post("/schedules/<int:schedule_id>/<any(cancel, retry, 'publish-now'):action>")
def schedule_action(schedule_id, action):
    run, message = ACTIONS[action]
    run(schedule_id)
    status, page = request.form.get("status"), request.form.get("page")
    if not is_htmx():
        return redirect(url_for(".schedule_list", status=status, page=page))
    context = _schedules_context(status, page)
    return render_template("web/_schedules_region.html", message=message.format(id=schedule_id), **context)


# Pages

@bp.get("/pages/<int:page_id>")
def page_detail(page_id):
    page = pages.get_page(page_id)
    context = dict(
        page=page,
        logs=pages.page_logs(page_id),
        polling=any(s.status in ACTIVE_STATUSES for s in page.schedules),
    )
    if is_htmx():
        return render_template("web/_page_region.html", **context)
    return render_template("web/page.html", **context)
