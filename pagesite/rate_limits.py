"""Rate limits on what can be tried over and over, counted in Redis (Flask-Limiter, ``security.limiter``).

===========================  ============================  ==========================================
What                         Setting (default)             Counted
===========================  ============================  ==========================================
sign-in, set-up              ``SIGNIN_RATE_LIMIT``         failed attempts, per client address (each
                             (10 per minute; 50 per hour)  form its own count)
sign-in                      ``SIGNIN_ACCOUNT_RATE_LIMIT`` failed attempts, per account (the email)
                             (20 per hour)
changing the password        ``SIGNIN_RATE_LIMIT``         wrong current passwords, per account
creating an API token        ``TOKEN_RATE_LIMIT``          tokens created, per account: Settings and
                             (10 per hour)                 ``POST /api/tokens`` together
connecting a channel         ``CONNECT_RATE_LIMIT``        every attempt, per account: ``POST
                             (20 per hour)                 /api/channels`` and the web's connect forms
                                                           together (each makes requests to the network)
===========================  ============================  ==========================================

Past a limit the API answers 429 with a problem+json and ``Retry-After``; a form
answers 429 with a page (or, for htmx, a message) saying what was limited and when
to try again. The settings are read at each request (``PAGESITE_TOKEN_RATE_LIMIT``...).
"""

import math
import time

from flask import current_app, g, request
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address

from .edge import is_api_request
from .security import limiter


def _setting(name):
    return lambda: current_app.config[name]


def _failed(response):
    """Only refusals count against a sign-in limit: a success answers with a redirect."""
    return response.status_code != 302


def _created(response):
    return response.status_code in (201, 302)


def _email_key():
    return "signin-email:" + (request.form.get("email") or "").strip().lower()


def _account_key():
    user = getattr(g, "user", None)
    return f"account:{user.id}" if user is not None else get_remote_address()


def failed_sign_ins(view):
    """Sign-in: failed attempts per address and per account."""
    view = limiter.limit(_setting("SIGNIN_ACCOUNT_RATE_LIMIT"), methods=["POST"], key_func=_email_key,
                         deduct_when=_failed)(view)
    return limiter.limit(_setting("SIGNIN_RATE_LIMIT"), methods=["POST"], deduct_when=_failed)(view)


def failed_attempts(view):
    """Set-up: failed attempts per address, counted apart from sign-in's."""
    return limiter.limit(_setting("SIGNIN_RATE_LIMIT"), methods=["POST"], deduct_when=_failed)(view)


def wrong_passwords(view):
    """Changing the password: wrong current passwords per account (a stolen session cannot guess on)."""
    return limiter.limit(_setting("SIGNIN_RATE_LIMIT"), methods=["POST"], key_func=_account_key,
                         deduct_when=_failed)(view)


# One count for each, wherever it is asked for (the API and the web forms share it).
token_creation = limiter.shared_limit(_setting("TOKEN_RATE_LIMIT"), scope="create-token", key_func=_account_key,
                                      methods=["POST"], deduct_when=_created)
channel_connection = limiter.shared_limit(_setting("CONNECT_RATE_LIMIT"), scope="connect-channel",
                                          key_func=_account_key, methods=["POST"])

WHAT = {
    "auth.signin": "failed sign-ins",
    "auth.setup": "failed set-up attempts",
    "auth.change_password": "wrong current passwords",
    "auth.create_token": "new API tokens",
    "api.create_token": "new API tokens",
    "api.create_channel": "channel connections",
    "web.connect_channel": "channel connections",
    "web.mastodon_signin_start": "channel connections",
}


def _detail(error):
    current = limiter.current_limit
    wait = max(1, math.ceil(current.reset_at - time.time())) if current is not None else None
    what = WHAT.get(request.endpoint, "requests")
    whose = "for your account" if error.limit.key_func is _account_key else (
        "for this account" if error.limit.key_func is _email_key else "from your address")
    later = f"Try again in {wait} second{'s' if wait != 1 else ''}." if wait else "Try again later."
    return f"Too many {what} {whose}: at most {error.limit.limit}. {later}", wait


def too_many(error):
    """A 429: a problem for the API, a message for a form."""
    detail, wait = _detail(error)
    if is_api_request():
        from .api.problems import problem

        response = problem(429, "Too many requests", detail, "too-many-requests")
    else:
        from .web.errors import message_response

        response = message_response(detail, 429, "Too many attempts")
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


def init_app(app):
    app.register_error_handler(RateLimitExceeded, too_many)
