"""How the web interface reports errors.

An htmx request gets a short plain-text message (shown by app.js in a visible
banner, or next to the upload it belongs to); a full page load gets a page.
Nothing fails silently.
"""

import redis
from flask import current_app, make_response, render_template, request
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException

from ..errors import ServiceError
from ..extensions import db
from . import bp

CSRF_HEADER = "X-CSRF-Token"


def is_htmx():
    """True for an htmx request that wants a fragment (a history restore wants the whole page)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def message_response(message, status, title="Something went wrong"):
    if is_htmx():
        response = make_response(message, status)
        response.mimetype = "text/plain"
    else:
        response = make_response(render_template("web/error.html", title=title, message=message), status)
    return response


@bp.errorhandler(CSRFError)
def csrf_failed(error):
    response = message_response(
        "This page was open too long and its security token expired. It has been renewed: "
        "please try again. Nothing you typed was lost.",
        400, "Security token expired",
    )
    # app.js puts the new token where the next request will send it.
    response.headers[CSRF_HEADER] = generate_csrf()
    return response


@bp.errorhandler(ServiceError)
def service_failed(error):
    return message_response(error.detail, error.status, error.title)


@bp.errorhandler(HTTPException)
def http_failed(error):
    if error.code == 413:
        text = "The upload is larger than the server accepts."
    else:
        text = error.description or error.name
    return message_response(text, error.code or 500, error.name)


@bp.errorhandler(redis.RedisError)
def redis_failed(error):
    current_app.logger.exception("Redis unavailable")
    db.session.rollback()
    return message_response(
        "The job queue (Redis) is not answering; try again shortly.", 503, "Service unavailable"
    )


@bp.errorhandler(Exception)
def unexpected(error):
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    return message_response("Something went wrong on our side; it has been logged. Please try again.", 500)
