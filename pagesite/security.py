"""Who may do what, how much they may send, and the headers every response carries.

* ``/api/*`` needs ``Authorization: Bearer <token>``, except ``GET /api/health``.
* Every other page needs a signed-in session, except sign-in, first-run set-up
  and static files. Until an account exists, every page leads to set-up.
* Failed sign-ins are rate-limited in Redis (Flask-Limiter).
"""

from flask import current_app, g, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from .services import auth

limiter = Limiter(key_func=get_remote_address)

# web.attachment_link is public by design: its URL is signed and expires (signed_links.py).
PUBLIC_ENDPOINTS = {"auth.signin", "auth.setup", "api.get_health", "web.attachment_link"}
SMALL_BODY = 1024 * 1024  # JSON and forms; uploads are marked with @large_body

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
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


def is_api_request():
    return request.path == "/api" or request.path.startswith("/api/")


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
    if endpoint in PUBLIC_ENDPOINTS or endpoint == "static" or endpoint.endswith(".static"):
        return None
    if is_api_request():
        return _authenticate_api()
    if not _users_exist():
        return _redirect(url_for("auth.setup"))
    g.user = auth.get_user(session.get("user_id"))
    if g.user is None:
        # Forget a deleted account, but keep the rest (the CSRF token of a
        # sign-in form open in another tab, say).
        session.pop("user_id", None)
        return _redirect(url_for("auth.signin", next=request.full_path if request.method == "GET" else None))
    return None


def _authenticate_api():
    from .api.problems import problem

    token = _bearer_token()
    record = auth.verify_token(token) if token else None
    if record is None:
        detail = ("The bearer token is not valid (revoked, or never issued)." if token else
                  "Send an API token: Authorization: Bearer <token>. Create one under Settings, or with "
                  "'flask --app wsgi token create NAME'.")
        response = problem(401, "Unauthorized", detail, "unauthorized")
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="pagesite", error="invalid_token"' if token else 'Bearer realm="pagesite"'
        )
        return response
    g.api_token = record
    g.user = record.user
    return None


def _redirect(location):
    """A redirect that htmx follows as a full page load."""
    if request.headers.get("HX-Request"):
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["HTTPS"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if getattr(g, "user", None) is not None and not is_api_request():
        headers.setdefault("Cache-Control", "no-store")  # private pages stay out of shared caches
    return response
