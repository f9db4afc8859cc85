"""RFC 9457 problem details for everything under /api, errors included."""

from urllib.parse import quote

from flask import current_app, request
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE_BASE = "https://pagesite.dev/problems/"


def problem(status, title, detail, slug=None, **extra):
    body = {
        "type": PROBLEM_TYPE_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        # A URI reference, as RFC 9457 asks: the path as sent, percent-encoded.
        "instance": quote(request.path, safe="/!$&'()*+,;=:@"),
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    response = current_app.json.response(body)
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
    return response
