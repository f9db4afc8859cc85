"""Views of the web interface. Each parses its form, calls a service, renders."""

from dataclasses import dataclass
from datetime import date, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for

from .. import signed_links
from ..errors import Conflict, NotFound, ValidationFailed
from ..models import ACTIVE_STATUSES, SCHEDULE_STATUSES, PageFile
from ..security import large_body
from ..services import attachments, card_previews, channels, engagement, health, pages, schedules, snippets
from ..services.calendar import MAX_RANGE
from ..services.common import PageOf, collect_errors
from ..timeutil import isoformat, local_to_utc, utcnow
from . import bp
from .calendar import viewer_zone
from .errors import is_htmx
from .forms import ComposeForm, parse_compose, parse_flag, parse_ids


@bp.after_request
def no_shared_caching(response):
    # One URL answers with a fragment or a whole page depending on HX-Request.
    response.vary.add("HX-Request")
    return response


@bp.app_template_filter("utc_iso")
def utc_iso(value):
    return isoformat(value)


FIELD_ANCHORS = {"text": "text", "attachment_ids": "attachments", "scheduled_at": "date", "provider": "when-now",
                 "queue": "when-queue", "channel_ids": "channels"}


@bp.app_template_global()
def error_anchor(name):
    """The id of the control an error about ``name`` belongs to."""
    if name.startswith("alt_text_"):
        return "alt-" + name.removeprefix("alt_text_")
    if name.startswith("channel."):
        return "channel-" + name.removeprefix("channel.")
    return FIELD_ANCHORS.get(name, "compose-form")


@bp.app_template_global()
def attempts_in_words(schedule):
    """A schedule's attempts as a person reads them, also after a retry raised its limit."""
    per_try = current_app.config["PUBLISH_MAX_ATTEMPTS"]
    before_retry = max(0, schedule.max_attempts - per_try)  # attempts used before the latest retry
    this_try = schedule.attempts - before_retry
    if before_retry == 0:
        return f"{schedule.attempts} of {schedule.max_attempts}"
    attempts = "attempt" if this_try == 1 else "attempts"
    return f"Retried by you; {this_try} {attempts} so far in this try (up to {per_try}), {schedule.attempts} in all"


@bp.get("/")
def index():
    return redirect(url_for(".compose"))


# Compose

@dataclass
class ChannelChoice:
    channel: object
    checked: bool
    count: int  # of what the channel will be sent: its version, else the page's text
    max: int
    version: str = ""  # its own text as typed ("" : the page's)

    @property
    def over(self):
        return self.count > self.max


def _channel_choices(text, chosen, versions=None):
    """Every live channel, whether it is ticked, its own version as typed, and the
    length of what it will be sent as it counts it.

    Not yet chosen: the last choice made here (kept in the session), else the default channel."""
    live = channels.live_channels()
    if chosen is None:
        chosen = session.get("compose_channel_ids")
        if not chosen:
            default = channels.default_channel()
            chosen = [default.id] if default else []
    versions = versions or {}

    def sent(channel):
        own = versions.get(channel.id, "").replace("\r\n", "\n").strip()
        return own or text.replace("\r\n", "\n").strip()

    return [ChannelChoice(c, c.id in chosen, channels.count_characters(c, sent(c)),
                          channels.limits_of(c).max_characters, versions.get(c.id, ""))
            for c in live]


def _compose_context(form, **extra):
    config = current_app.config
    assets = _known_attachments(form.attachment_ids)
    return dict(
        form=form,
        attachments=assets,
        channel_choices=_channel_choices(form.text, form.channel_ids, form.versions),
        snippets=snippets.list_snippets(),
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
    # ?date=YYYY-MM-DD&time=HH:MM (from the calendar) fills in "Schedule for".
    day, clock = request.args.get("date", "")[:10], request.args.get("time", "")[:5]
    form = ComposeForm(when="later", date=day, time=clock) if day else ComposeForm()
    return render_template("web/compose.html", **_compose_context(form))


@bp.post("/compose")
def create_page():
    form = parse_compose(request.form)
    draft = request.form.get("action") == "draft"  # "Save as draft": no time, no schedule
    errors = {name: messages for name, messages in form.errors.items() if not (draft and name == "scheduled_at")}
    versions = form.own_versions()
    try:
        if draft:
            schedules.check_compose(form.text, form.attachment_ids, versions=versions)
        else:
            schedules.check_compose(form.text, form.attachment_ids, form.scheduled_at, form.channel_ids,
                                    queue=form.when == "queue", versions=versions)
    except ValidationFailed as e:
        for name, messages in e.errors.items():
            name = _version_field(name, versions)
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
    template = "web/_compose_form.html" if is_htmx() else "web/compose.html"
    if errors:
        form.errors = errors
        return render_template(template, **_compose_context(form)), 422
    undescribed = [a for a in _known_attachments(form.attachment_ids) if not form.alt_texts.get(a.id, "").strip()]
    if undescribed and not form.without_descriptions:
        # A gentle reminder, not a rule: the user may go on without descriptions.
        return render_template(template, **_compose_context(form, undescribed=undescribed)), 422
    if form.note and not form.time_confirmed:
        # A daylight-saving change moves the chosen time: ask before creating anything.
        return render_template(template, **_compose_context(form, time_question=True)), 422

    if draft:
        page = pages.create_page(form.text, form.attachment_ids, descriptions=form.alt_texts, versions=versions,
                                 link_card=form.link_card)
        context = _compose_context(ComposeForm(tz=form.tz), created=page, schedule=None, draft=True)
        template = "web/_compose_form.html" if is_htmx() else "web/compose.html"
        return render_template(template, **context), 201
    page, created = schedules.compose(form.text, form.attachment_ids, form.scheduled_at, form.channel_ids,
                                      queue=form.when == "queue", descriptions=form.alt_texts, versions=versions,
                                      link_card=form.link_card)
    session["compose_channel_ids"] = form.channel_ids  # remembered for the next page
    schedule = created[0]
    fresh = ComposeForm(tz=form.tz, when="queue" if form.when == "queue" else "now")
    context = _compose_context(fresh, created=page, schedule=schedule, created_schedules=created, note=form.note,
                               scheduled_later=form.scheduled_at is not None, queued=form.when == "queue")
    template = "web/_compose_form.html" if is_htmx() else "web/compose.html"
    return render_template(template, **context), 201


def _version_field(name, versions):
    """The form field of a service error about ``versions.<n>.text``: ``version_<channel id>``."""
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == "versions" and parts[1].isdigit() and int(parts[1]) < len(versions):
        return f"version_{versions[int(parts[1])]['channel_id']}"
    return name


@bp.post("/compose/counts")
def channel_counts():
    """Each channel's character count of what it will be sent, as typed (swapped in place, out of band)."""
    form = parse_compose(request.form)
    return render_template("web/_channel_counts.html", channel_choices=_channel_choices(form.text, [], form.versions))


@bp.post("/compose/versions/<int:channel_id>/reset")
def reset_version(channel_id):
    """A channel's customising box emptied: it gets the page's text again."""
    form = parse_compose(request.form)
    form.versions.pop(channel_id, None)
    choice = next((c for c in _channel_choices(form.text, [channel_id], form.versions) if c.channel.id == channel_id),
                  None)
    if choice is None:
        raise NotFound(f"No channel with id {channel_id}.")
    return render_template("web/_version.html", choice=choice, errors={}, reset=True)


@bp.post("/compose/preview")
def preview():
    form = parse_compose(request.form)
    text = form.text.replace("\r\n", "\n").strip()
    # Images take a card's place on Bluesky; the card is only shown when it will be sent.
    card = card_previews.preview(text) if form.link_card and not form.attachment_ids else None
    return render_template("web/_preview.html", text=text, attachments=_known_attachments(form.attachment_ids),
                           alt_texts=form.alt_texts, card=card)


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


# Live refresh: fast only while something is about to change.

FAST_POLL_SECONDS = 2
SLOW_POLL_SECONDS = 30
SOON_SECONDS = 60  # longer than the slow interval, so a slow poll always sees "soon" coming


def poll_seconds(shown):
    """How often a list of these schedules refreshes itself: 2 s, 30 s or not at all."""
    now = utcnow()
    active = [s for s in shown if s.status in ACTIVE_STATUSES]
    if not active:
        return None
    if any(s.status == "publishing" or (s.next_attempt_at - now).total_seconds() <= SOON_SECONDS for s in active):
        return FAST_POLL_SECONDS
    return SLOW_POLL_SECONDS


# Signed links

@bp.get("/links/attachments/<token>")
def attachment_link(token):
    """An attachment's bytes through a signed, expiring link (handed to webhook receivers)."""
    try:
        attachment_id, sha_prefix, expires = signed_links.read_link(current_app.config, token)
    except signed_links.LinkExpired:
        abort(410, "This link has expired.")
    except signed_links.LinkInvalid:
        abort(404)
    asset = attachments.get_attachment(attachment_id)
    if not asset.sha256.startswith(sha_prefix):
        abort(404)
    response = attachments.send(asset)
    if response.status_code in (301, 302, 303, 307, 308):
        # To object storage: a presigned URL that expires in seconds, so the redirect is kept nowhere.
        response.headers["Cache-Control"] = "private, no-store"
    else:
        response.headers["Cache-Control"] = signed_links.cache_control(expires)  # no cache outlives the link
    return response


# Schedules

FILTERS = ("status", "q", "channel_id", "from", "to")  # what the schedules list keeps in its URL


def _day_bound(value, zone, field):
    """The UTC start of a local date from the filter form (YYYY-MM-DD), or a 422 on ``field``."""
    try:
        return local_to_utc(date.fromisoformat(value), "00:00", zone)
    except ValueError:
        raise ValidationFailed.single(field, "Give a date as YYYY-MM-DD.") from None


def _date_range(start, end, zone):
    """The filter form's dates (``to`` included, in the viewer's zone) as UTC instants for the service."""
    if not start and not end:
        return None, None
    if not (start and end):
        missing = "to" if start else "from"
        raise ValidationFailed.single(missing, f"Choose the {'last' if start else 'first'} day too.")
    first, last = collect_errors(lambda: _day_bound(start, zone, "from"), lambda: _day_bound(end, zone, "to"))
    if last < first:
        raise ValidationFailed.single("to", "Choose a day on or after the first day (From).")
    return first, local_to_utc(date.fromisoformat(end) + timedelta(days=1), "00:00", zone)


def read_filters(values):
    """The list's filters as typed in ``values``, and their dates as UTC instants (a 422 on a bad date)."""
    filters = {name: values.get(name, "").strip() for name in FILTERS}
    return (filters, *_date_range(filters["from"], filters["to"], viewer_zone()))


def _schedules_context(values):
    """The list for the filters in ``values`` (query string or form); bad filters show an empty list
    and their errors, next to the fields in the filter form."""
    filters = {name: values.get(name, "").strip() for name in FILTERS}
    filters["status"] = filters["status"] or "all"
    errors = {}
    try:
        start, end = _date_range(filters["from"], filters["to"], viewer_zone())
        result = schedules.list_schedules(filters["status"], None, values.get("page"), None, start, end,
                                          filters["q"], filters["channel_id"])
    except ValidationFailed as e:
        errors = e.errors
        result = PageOf(items=[], total=0, page=1, per_page=1)
    return dict(
        result=result,
        status=filters["status"],
        filters={name: value for name, value in filters.items() if value and value != "all"},
        filter_values=filters,
        filter_errors=errors,
        filtered=any(value and value != "all" for value in filters.values()),
        statuses=("all",) + SCHEDULE_STATUSES,
        max_range_days=MAX_RANGE.days,
        channel_list=channels.live_channels(),
        pages_total=max(1, -(-result.total // result.per_page)),
        polling=poll_seconds(result.items),
        selected=set(parse_ids(values.getlist("ids"))),  # ticked for many at once, kept across a refresh
        bulk_errors={},
        bulk_form={},
    )


@bp.get("/schedules")
def schedule_list():
    context = _schedules_context(request.args)
    status = 422 if context["filter_errors"] else 200
    if is_htmx():  # the list, and each filter's errors beside its field
        return render_template("web/_schedules_region.html", oob_filter_errors=True, **context), status
    return render_template("web/schedules.html", **context), status


ACTIONS = {
    "cancel": (schedules.cancel_schedule, "Schedule {id} was canceled; it will not be published."),
    "retry": (schedules.retry_schedule, "Schedule {id} is queued again and will be published shortly."),
    "publish-now": (schedules.publish_queued_now, "Schedule {id} will be published now."),
}


@bp.post("/schedules/<int:schedule_id>/mark-published")
def mark_published(schedule_id):
    """The answer to "may have been published": it was, as the person saw on the network."""
    try:
        schedules.mark_published(schedule_id, request.form.get("url"))
    except ValidationFailed as e:
        if not is_htmx():
            raise
        context = _schedules_context(request.form)
        return render_template("web/_schedules_region.html", mark_errors={schedule_id: e.errors.get("url")},
                               mark_url=request.form.get("url", ""), **context), 422
    if not is_htmx():
        return redirect(url_for(".schedule_list", page=request.form.get("page"),
                                **{name: request.form[name] for name in FILTERS if request.form.get(name)}))
    context = _schedules_context(request.form)
    return render_template("web/_schedules_region.html", message=f"Schedule {schedule_id} is marked as published.",
                           **context)


@bp.post("/schedules/<int:schedule_id>/<any(cancel, retry, 'publish-now'):action>")
def schedule_action(schedule_id, action):
    run, message = ACTIONS[action]
    run(schedule_id)
    if not is_htmx():
        return redirect(url_for(".schedule_list", page=request.form.get("page"),
                                **{name: request.form[name] for name in FILTERS if request.form.get(name)}))
    context = _schedules_context(request.form)
    return render_template("web/_schedules_region.html", message=message.format(id=schedule_id), **context)


# Pages

@bp.get("/drafts")
def drafts():
    result = pages.list_pages(request.args.get("page"), None, "draft")
    return render_template("web/drafts.html", result=result,
                           pages_total=max(1, -(-result.total // result.per_page)))


@bp.post("/pages/<int:page_id>/duplicate")
def duplicate_page(page_id):
    copy = pages.duplicate_page(page_id)
    flash(f"Page {copy.id} is a copy of page {page_id}, saved as a draft.")
    return redirect(url_for(".page_detail", page_id=copy.id))


def _edit_context(page, text=None, alt_texts=None, removed=(), errors=None, problem=None, link_card=None):
    files = [PageFile(f, (alt_texts or {}).get(f.id, f.alt_text)) for f in page.attachments]
    return dict(page=page, text=page.text if text is None else text, files=files, removed=set(removed),
                errors=errors or {}, problem=problem, max_text=current_app.config["MAX_TEXT_LENGTH"],
                link_card=page.link_card if link_card is None else link_card)


@bp.get("/pages/<int:page_id>/edit")
def edit_page_form(page_id):
    return render_template("web/page_edit.html", **_edit_context(pages.live_page(page_id)))


@bp.post("/pages/<int:page_id>/edit")
def edit_page(page_id):
    page = pages.live_page(page_id)
    text = request.form.get("text", "")
    removed = {i for i in parse_ids(request.form.getlist("remove"))}
    kept = [i for i in parse_ids(request.form.getlist("attachment_ids")) if i not in removed]
    alt_texts = {i: request.form.get(f"alt_text_{i}", "") for i in parse_ids(request.form.getlist("attachment_ids"))}
    link_card = parse_flag(request.form, "link_card", default=page.link_card)
    try:
        pages.update_page(page_id, text, attachments=[{"id": i, "alt_text": alt_texts[i]} for i in kept],
                          link_card=link_card)
    except ValidationFailed as e:
        # A description's error sits next to its own field.
        errors = {(f"alt_text_{kept[int(k.split('.')[1])]}" if k.startswith("attachments.") else k): v
                  for k, v in e.errors.items()}
        context = _edit_context(page, text, alt_texts, removed, errors=errors, link_card=link_card)
        return render_template("web/page_edit.html", **context), e.status
    except Conflict as e:
        context = _edit_context(page, text, alt_texts, removed, problem=e.detail, link_card=link_card)
        return render_template("web/page_edit.html", **context), e.status
    flash(f"Page {page_id} was saved.", "success")
    return redirect(url_for(".page_detail", page_id=page_id))


@bp.get("/pages/<int:page_id>/delete")
def confirm_delete_page(page_id):
    return render_template("web/page_delete.html", page=pages.live_page(page_id))


@bp.post("/pages/<int:page_id>/delete")
def delete_page(page_id):
    try:
        pages.delete_page(page_id)
    except Conflict as e:
        return render_template("web/page_delete.html", page=pages.live_page(page_id), error=e.detail), e.status
    flash(f"Page {page_id} was deleted; its queued schedules were canceled.", "success")
    return redirect(url_for(".schedule_list"))


@bp.get("/pages/<int:page_id>")
def page_detail(page_id):
    page = pages.get_page(page_id)
    context = dict(
        page=page,
        logs=pages.page_logs(page_id),
        polling=poll_seconds(page.schedules),
        counts=engagement.page_counts(page_id)["items"],
    )
    if is_htmx():
        return render_template("web/_page_region.html", **context)
    return render_template("web/page.html", **context)


@bp.post("/pages/<int:page_id>/metrics/refresh")
def refresh_page_counts(page_id):
    """Read the page's counts now, then show them."""
    engagement.refresh_page(page_id)
    if is_htmx():
        return page_detail(page_id)
    return redirect(url_for(".page_detail", page_id=page_id) + "#counts-heading")


# Status

@bp.get("/status")
def status():
    healthy, details = health.report(with_channel_errors=True)  # signed in: the channels page shows them too
    context = dict(healthy=healthy, details=details, failures=health.recent_failures())
    return render_template("web/_status_region.html" if is_htmx() else "web/status.html", **context)
