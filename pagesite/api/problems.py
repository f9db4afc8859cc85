"""RFC 9457 problem details for everything under /api, errors included, and the
OpenAPI document that describes the API."""

from urllib.parse import quote

from flask import current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date

from . import declare
from .shapes import PROBLEMS, Problem

PROBLEM_TYPE_BASE = "https://pagesite.dev/problems/"

INFO = {
    "title": "pagesite API",
    "summary": "Compose pages, schedule them, publish them through providers.",
    "description": (
        "Every request except `GET /api/health` (which shows its details only with one) needs a bearer "
        "token: `Authorization: Bearer <token>`. Every timestamp carries an explicit offset (UTC, `Z`). "
        "Every error is an RFC 9457 problem (`application/problem+json`); a 422 or 413 names the "
        "fields at fault in `errors`."
    ),
}
TAGS = [
    {"name": "Attachments", "description": "Images and videos to put on pages."},
    {"name": "Pages", "description": "Text and attachments, composed once and published anywhere."},
    {"name": "Schedules", "description": "When and where a page is published, and how it went."},
    {"name": "Planning", "description": "The posting queue and the secret calendar feed."},
    {"name": "Feeds", "description": "RSS, Atom and JSON feeds whose new items become pages, each once."},
    {"name": "Providers", "description": "The kinds of places pages are published to."},
    {"name": "Channels", "description": "Connected accounts on providers; schedules publish to one."},
    {"name": "Tokens", "description": "API tokens of your account; revoke them under Settings."},
    {"name": "Health", "description": "For monitoring."},
    {"name": "Reference", "description": "This description of the API."},
]


def document(app):
    """The OpenAPI 3.1 document of the API, generated from the declarations (built once per app)."""
    cached = app.extensions.get("pagesite_openapi")
    if cached is None:
        cached = app.extensions["pagesite_openapi"] = declare.document(
            app, "api", info=INFO, tags=TAGS, extra_schemas=PROBLEMS)
    return cached


def problem(status, title, detail, slug=None, **extra):
    """A problem+json response; ``extra`` members (ORM objects too) are rendered through ``Problem``."""
    body = {
        "type": PROBLEM_TYPE_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        # A URI reference, as RFC 9457 asks: the path as sent, percent-encoded.
        "instance": quote(request.path, safe="/!$&'()*+,;=:@"),
        **{k: v for k, v in extra.items() if v is not None},
    }
    data = Problem.model_validate(body, from_attributes=True).model_dump(mode="json", exclude_unset=True)
    response = current_app.json.response(data)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def from_service_error(error):
    return problem(error.status, error.title, error.detail, error.slug, **error.extra)


def from_http_exception(error: HTTPException):
    detail = error.description
    if error.code == 413:
        # The limit in force for this request: uploads may be larger than JSON bodies.
        limit = request.max_content_length or current_app.config.get("MAX_CONTENT_LENGTH")
        size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
        detail = f"The request is larger than the {size} this server accepts."
        field = "file" if request.mimetype == "multipart/form-data" else "body"
        response = problem(413, "Payload too large", detail, "payload-too-large",
                           errors={field: [detail]})
    else:
        response = problem(error.code, error.name, detail,
                           error.name.lower().replace(" ", "-"))
    if error.code == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    retry_after = getattr(error, "retry_after", None)  # a 429 or 503 that says when to come back
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after) if isinstance(retry_after, int) else http_date(retry_after)
    for challenge in getattr(error, "www_authenticate", None) or ():
        # Parameters as quoted strings, as RFC 6750's examples write them.
        params = ", ".join(f'{key}="{value}"' for key, value in challenge.parameters.items())
        response.headers.add("WWW-Authenticate", f"{challenge.type.title()} {params}".strip())
    return response
