"""Who may do what, how much they may send, and the headers every response carries.

* ``/api/*`` needs ``Authorization: Bearer <token>``, except ``GET /api/health``, which
  answers anyone ok or degraded, and its details only with a token or a session
  (``optional_caller``); calls without either are rate-limited (``limit_anonymous``).
* Every other page needs a signed-in session, except sign-in, first-run set-up
  and static files. Until an account exists, every page leads to set-up.
* Failed sign-ins are rate-limited in Redis (Flask-Limiter).
* No answer to a signed-in or token-holding caller may be kept by a shared
  cache: it is ``no-store`` unless its view chose otherwise, and never ``public``.
"""

import math
import time

from flask import current_app, g, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import TooManyRequests, Unauthorized
from werkzeug.middleware.proxy_fix import ProxyFix

from .edge import is_api_request
from .extensions import db

from .services import auth
from .storage import get_storage

limiter = Limiter(key_func=get_remote_address)

# web.calendar_feed: its URL is its secret. web.attachment_link: its URL is signed and expires (signed_links.py).
PUBLIC_ENDPOINTS = {"auth.signin", "auth.setup", "api.get_health", "web.calendar_feed", "web.attachment_link"}
SMALL_BODY = 1024 * 1024  # JSON and forms; uploads are marked with @large_body

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:{files}",
    "media-src 'self' blob:{files}",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def large_body(view):
    """Mark a view that receives uploads, so it may take more than SMALL_BODY."""
    view.large_body = True
    return view


def init_app(app):
    config = app.config
    config.setdefault("RATELIMIT_STORAGE_URI", config["REDIS_URL"])
    config.setdefault("RATELIMIT_KEY_PREFIX", "pagesite-limits")
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # Flask has defaults for these, so they are set, not defaulted.
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_SECURE"] = bool(config["HTTPS"])
    config["SESSION_COOKIE_NAME"] = "pagesite_session"
    limiter.init_app(app)
    if config["PROXY_FIX"]:
        # Behind one reverse proxy that sets X-Forwarded-For/-Proto/-Host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.before_request(_limit_body)
    app.before_request(_authenticate)
    app.after_request(_security_headers)


def _limit_body():
    view = current_app.view_functions.get(request.endpoint)
    if not getattr(view, "large_body", False):
        request.max_content_length = min(SMALL_BODY, current_app.config["MAX_CONTENT_LENGTH"] or SMALL_BODY)


def _bearer_token():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _users_exist():
    # Once true it stays true; skip the query from then on.
    if not current_app.extensions.get("pagesite_has_users"):
        current_app.extensions["pagesite_has_users"] = auth.has_users()
    return current_app.extensions["pagesite_has_users"]


def _authenticate():
    g.user = g.api_token = None
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.endswith(".static"):
        return None
    signed_in = _signed_in_user()  # first, so no view (public ones too) sees an ended session's user_id
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    if is_api_request():  # API clients and metrics scrapers send an API token
        return _authenticate_api()
    if not _users_exist():
        return _redirect(url_for("auth.setup"))
    g.user = signed_in
    if g.user is None:
        return _redirect(url_for("auth.signin", next=request.full_path if request.method == "GET" else None))
    return None


def _signed_in_user():
    """The user of this browser's session, when its row in ``user_sessions`` is live; else None.

    The cookie alone proves nothing once its session ended (signed out, the password changed,
    the account deleted): its ``sid`` and ``user_id`` are forgotten then, but the rest is kept
    (the CSRF token of a sign-in form open in another tab, say)."""
    key = session.get("sid")
    record = auth.session_for(key) if key else None
    if record is not None and record.user_id == session.get("user_id"):
        return record.user
    for name in ("sid", "user_id"):
        if name in session:
            session.pop(name)
    return None


def _authenticate_api():
    token = _bearer_token()
    try:
        record = auth.verify_token(token) if token else None
    except auth.TokenExpired as e:
        challenge = WWWAuthenticate("bearer", {"realm": "pagesite", "error": "invalid_token",
                                               "error_description": "The token expired"})
        raise Unauthorized(str(e), www_authenticate=challenge) from None
    if record is None:
        detail = ("The bearer token is not valid (revoked, or never issued)." if token else
                  "Send an API token: Authorization: Bearer <token>. Create one under Settings, or with "
                  "'flask --app wsgi token create NAME'.")
        challenge = WWWAuthenticate("bearer", {"realm": "pagesite", **({"error": "invalid_token"} if token else {})})
        raise Unauthorized(detail, www_authenticate=challenge)  # a 401 problem, like every API error
    g.api_token = record
    g.user = record.user
    return None


def optional_caller():
    """The user behind a valid bearer token or session, for a public endpoint that tells them
    more than anyone else (GET /api/health), or None for a caller with neither.

    A bearer token that is sent but not valid is a 401, as anywhere under /api: a monitor
    whose token was revoked hears so, rather than a shorter answer. When the database cannot
    say whose token or session it is, the caller is anonymous (and the answer says degraded).
    Sets ``g.user`` (and ``g.api_token``), so the answer is kept from shared caches like every
    signed-in one."""
    token = _bearer_token()
    try:
        if token:
            _authenticate_api()
        elif session.get("user_id") is not None:
            g.user = auth.get_user(session["user_id"])
    except SQLAlchemyError:
        current_app.logger.warning("could not check the credentials of %s %s", request.method, request.path,
                                   exc_info=True)
        db.session.rollback()
        g.user = g.api_token = None
    return g.user


def limit_anonymous(setting, scope):
    """Count this call against the limits in ``current_app.config[setting]`` ("60 per minute"),
    per client address, in Flask-Limiter's storage (Redis) and strategy; a 429 past them.

    Called by a view, not declared with ``@limiter.limit``, for two reasons: the limit is only
    for callers without credentials, which the view finds out (``optional_caller``), and a
    health check must still answer when Redis does not (the decorator would turn the storage's
    error into an error answer): then the call is not counted."""
    if not limiter.enabled:
        return
    config = current_app.config
    key = (config["RATELIMIT_KEY_PREFIX"], get_remote_address(), scope)
    breached = None
    try:
        for item in parse_many(config[setting]):
            if not limiter.limiter.hit(item, *key):
                breached = item, limiter.limiter.get_window_stats(item, *key).reset_time
                break
    except Exception:  # the storage does not answer: the caller is not refused for it
        current_app.logger.warning("could not count a call to %s against its rate limit", request.path,
                                   exc_info=True)
        return
    if breached:
        item, reset_time = breached
        raise TooManyRequests(f"At most {item} without a token; try again later.",
                              retry_after=max(1, math.ceil(reset_time - time.time())))


def _redirect(location):
    """A redirect that htmx follows as a full page load."""
    if request.headers.get("HX-Request"):
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location)


def _content_security_policy():
    """The policy, letting images and videos load from object storage's origin
    (attachments are served by redirects to presigned URLs there)."""
    policy = current_app.extensions.get("pagesite_csp")
    if policy is None:
        origin = getattr(get_storage(current_app), "origin", None)
        policy = CONTENT_SECURITY_POLICY.format(files=f" {origin}" if origin else "")
        current_app.extensions["pagesite_csp"] = policy
    return policy


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["HTTPS"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if getattr(g, "user", None) is not None or getattr(g, "api_token", None) is not None:
        # An answer behind sign-in or a token is the caller's alone: a view may let the caller's
        # own browser keep it (private), never a shared cache (public).
        if response.cache_control.public:
            response.cache_control.public = False
            response.cache_control.private = True
    # What says nothing about caching is not kept anywhere: pages, JSON and problems change with
    # every edit, and the sign-in form carries its session's CSRF token. Static files and the
    # views that chose (attachment bytes, signed links, the calendar feed) say for themselves.
    headers.setdefault("Cache-Control", "no-store")
    return response
