"""Routes of the JSON API. Each one parses, calls a service, serialises."""

from flask import current_app, jsonify, request, send_file, url_for
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from ..errors import ValidationFailed
from ..providers import provider_class, provider_names
from ..security import large_body
from ..services import attachments, channels, health, pages, schedules
from . import bp
from . import serialize as out
from .openapi import document
from .problems import problem


def json_body():
    """The request's JSON object, or a 415/400/422 problem."""
    if not request.is_json:
        raise UnsupportedMediaType("Send a JSON body with Content-Type: application/json.")
    try:
        body = request.get_json()
    except (BadRequest, RecursionError):
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ValidationFailed.single("body", "The body must be a JSON object.")
    return body


def created(data, location):
    response = jsonify(data)
    response.status_code = 201
    response.headers["Location"] = location
    return response


# Attachments

@bp.post("/attachment")
@large_body
def upload_attachment():
    upload = request.files.get("file")
    asset = attachments.upload(
        upload.stream if upload else None,
        upload.filename if upload else "",
        request.form.get("alt_text", ""),
    )
    return created(out.attachment(asset), url_for(".get_attachment", attachment_id=asset.id))


@bp.get("/attachment")
def list_attachments():
    result = attachments.list_attachments(request.args.get("page"), request.args.get("per_page"))
    return out.listing(result, out.attachment)


@bp.get("/attachment/<int:attachment_id>")
def get_attachment(attachment_id):
    return out.attachment(attachments.get_attachment(attachment_id))


@bp.patch("/attachment/<int:attachment_id>")
def describe_attachment(attachment_id):
    body = json_body()
    return out.attachment(attachments.describe(attachment_id, body.get("alt_text", "")))


@bp.get("/attachment/<int:attachment_id>/file")
def attachment_file(attachment_id):
    return attachments.send(attachments.get_attachment(attachment_id))


# Pages

@bp.post("/pages")
def create_page():
    body = json_body()
    page = pages.create_page(body.get("text"), body.get("attachment_ids"))
    return created(out.page(page), url_for(".get_page", page_id=page.id))


@bp.get("/pages")
def list_pages():
    result = pages.list_pages(request.args.get("page"), request.args.get("per_page"))
    return out.listing(result, out.page)


@bp.get("/pages/<int:page_id>")
def get_page(page_id):
    return out.page(pages.get_page(page_id))


@bp.get("/pages/<int:page_id>/logs")
def page_logs(page_id):
    return {"items": [out.publish_log(entry) for entry in pages.page_logs(page_id)]}


# Schedules

@bp.post("/schedules")
def create_schedule():
    body = json_body()
    schedule = schedules.create_schedule(body.get("page_id"), body.get("scheduled_at"), body.get("provider"),
                                         body.get("channel_id"))
    return created(out.schedule(schedule), url_for(".get_schedule", schedule_id=schedule.id))


@bp.get("/schedules")
def list_schedules():
    args = request.args
    result = schedules.list_schedules(args.get("status"), args.get("page_id"), args.get("page"), args.get("per_page"))
    return out.listing(result, out.schedule)


@bp.get("/schedules/<int:schedule_id>")
def get_schedule(schedule_id):
    return out.schedule(schedules.get_schedule(schedule_id))


@bp.patch("/schedules/<int:schedule_id>")
def reschedule(schedule_id):
    body = json_body()
    return out.schedule(schedules.reschedule(schedule_id, body.get("scheduled_at")))


@bp.post("/schedules/<int:schedule_id>/cancel")
def cancel_schedule(schedule_id):
    return out.schedule(schedules.cancel_schedule(schedule_id))


@bp.post("/schedules/<int:schedule_id>/retry")
def retry_schedule(schedule_id):
    return out.schedule(schedules.retry_schedule(schedule_id))


# Providers

@bp.get("/providers")
def list_providers():
    default = channels.default_channel()
    return {"items": [
        {"name": name, "label": provider_class(name).label, "default": default is not None and default.provider == name,
         "settings_schema": provider_class(name).settings_schema,
         "credentials_schema": provider_class(name).credentials_schema}
        for name in provider_names()
    ]}


@bp.post("/providers/<name>/publish")
def publish_now(name):
    body = json_body()
    attempt = schedules.publish_now(name, body.get("page_id"))
    entry = out.publish_log(attempt.log) if attempt.log else None
    if attempt.outcome in ("published",):
        return created({"publish_log": entry, "schedule": out.schedule(attempt.schedule, with_page=False)},
                       url_for(".get_schedule", schedule_id=attempt.schedule.id))
    detail = attempt.log.error if attempt.log else "The schedule could not be claimed."
    if attempt.outcome == "retrying":
        detail += f" It will be retried automatically (schedule {attempt.schedule.id})."
    return problem(502, "Publishing failed", detail, "publish-failed", publish_log=entry,
                   schedule=out.schedule(attempt.schedule, with_page=False))


# Reference

@bp.get("/openapi.json")
def openapi_document():
    return document(current_app.config)


# Health

@bp.get("/health")
def get_health():
    healthy, details = health.report()
    return details, 200 if healthy else 503


