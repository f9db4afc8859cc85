"""Sign-in, sign-out, first-run set-up and API tokens (the settings page)."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from .. import rate_limits
from ..errors import Conflict, ServiceError, ValidationFailed
from ..services import auth

bp = Blueprint("auth", __name__, template_folder="templates")


def _safe_next(target):
    """Only a local path: never send someone to another site after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _sign_in(user):
    """A fresh session: nothing carried over from before sign-in, and a new server-side session
    (a key planted in the browser beforehand is never the one signed in)."""
    session.clear()
    session["sid"] = auth.start_session(user)
    session["user_id"] = user.id
    session.permanent = True


@bp.route("/signin", methods=["GET", "POST"])
@rate_limits.failed_sign_ins
def signin():
    if not auth.has_users():
        return redirect(url_for("auth.setup"))
    email = request.form.get("email", "")
    error = None
    if request.method == "POST":
        user = auth.authenticate(email, request.form.get("password", ""))
        if user:
            _sign_in(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("web.index"))
        error = "That email and password do not match an account."
    status = 401 if error else 200
    return render_template("auth/signin.html", email=email, error=error, next=request.args.get("next")), status


@bp.post("/signout")
def signout():
    auth.end_session(session.get("sid"))  # ended server-side: a copy of the cookie no longer works
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.signin"))


SETUP_FIELDS = ("setup_code", "email", "password", "confirm")


@bp.route("/setup", methods=["GET", "POST"])
@rate_limits.failed_attempts
def setup():
    """First run: create the admin account with the code the web process printed. Gone once any account exists."""
    if request.method == "GET" and auth.has_users():
        return redirect(url_for("auth.signin"))
    errors, email = {}, request.form.get("email", "")
    if request.method == "POST":
        password, code = request.form.get("password", ""), request.form.get("setup_code", "")
        errors = auth.first_user_errors(email, password, code)
        if password != request.form.get("confirm", ""):
            errors["confirm"] = ["The two passwords differ."]
        if errors and auth.has_users():  # the code was spent by the set-up that finished first
            return _setup_taken(auth.ACCOUNT_EXISTS)
        if not errors:
            try:
                user = auth.create_first_user(email, password, code)
            except ValidationFailed as e:  # the code was replaced a moment ago
                errors = e.errors
            except Conflict as e:  # someone else finished set-up a moment ago
                return _setup_taken(e.detail)
            else:
                current_app.extensions["pagesite_has_users"] = True
                _sign_in(user)
                flash("Welcome to pagesite. Your account is ready.")
                return redirect(url_for("web.index"))
        errors = {name: errors[name] for name in SETUP_FIELDS if name in errors}  # in the form's order
    return render_template("auth/setup.html", email=email, errors=errors,
                           code_active=auth.setup_code_active()), 422 if errors else 200


def _setup_taken(message):
    """Set-up lost a race (or came after it): say so on the page, with the way to sign in."""
    return render_template("auth/setup.html", email="", errors={}, taken=message, code_active=False), 409


def _settings(status=200, **context):
    context.setdefault("errors", {})
    context.setdefault("password_errors", {})
    context.setdefault("new_token", None)
    return render_template("auth/settings.html", tokens=auth.list_tokens(g.user), **context), status


@bp.get("/settings")
def settings():
    # A token just created is shown once: it rides in the session across the redirect, then is gone.
    new_token = session.pop("new_token", None)
    tokens = auth.list_tokens(g.user)
    new_record = next((t for t in tokens if new_token and t.id == new_token["id"]), None)
    return _settings(new_token=new_token["token"] if new_record else None, new_record=new_record)


def _days(value):
    """The form's "expires in days": None when empty, else the number (the service checks its range)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed.single("expires_in_days", "Must be a whole number of days, or empty for never.")


@bp.post("/settings/tokens")
@rate_limits.token_creation
def create_token():
    try:
        token, record = auth.create_token(g.user, request.form.get("name"),
                                          expires_in_days=_days(request.form.get("expires_in_days")))
    except ValidationFailed as e:
        return _settings(422, errors=e.errors, name=request.form.get("name", ""),
                         expires_in_days=request.form.get("expires_in_days", ""))
    # Redirect after the POST, so a reload or Back never creates a second token.
    session["new_token"] = {"id": record.id, "token": token}
    return redirect(url_for("auth.settings"))


@bp.post("/settings/password")
@rate_limits.wrong_passwords
def change_password():
    """A new password, the current one required: every other browser is signed out, and API
    tokens are revoked unless "keep my API tokens" is ticked."""
    keep = request.form.get("keep_tokens") == "on"
    try:
        revoked = auth.change_password(g.user, request.form.get("current_password", ""),
                                       request.form.get("new_password", ""), request.form.get("confirm_password", ""),
                                       keep_tokens=keep)
    except ValidationFailed as e:
        return _settings(422, password_errors=e.errors, keep_tokens=keep)
    _sign_in(g.user)  # this browser goes on in a new session; every other one has ended
    kept = "Your API tokens were kept." if keep else f"Your API tokens were revoked ({revoked})."
    flash(f"Your password is changed. Every other browser signed in to your account is signed out. {kept}",
          "success")
    return redirect(url_for("auth.settings"))


@bp.post("/settings/tokens/<int:token_id>/revoke")
def revoke_token(token_id):
    try:
        record = auth.revoke_token(g.user, token_id)
    except ServiceError as e:
        flash(e.detail, "error")
    else:
        flash(f"Token “{record.name}” is revoked; requests using it are refused from now on.")
    return redirect(url_for("auth.settings"))
