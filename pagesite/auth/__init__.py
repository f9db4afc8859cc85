"""Sign-in, sign-out, first-run set-up and API tokens (the settings page)."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from ..errors import Conflict, ServiceError, ValidationFailed
from ..security import limiter
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
    session.clear()  # a fresh session: nothing carried over from before sign-in
    session["user_id"] = user.id
    session.permanent = True


def _failed_sign_in(response):
    return response.status_code != 302


def _email_key():
    return "signin-email:" + (request.form.get("email") or "").strip().lower()


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"], deduct_when=_failed_sign_in)
@limiter.limit("20 per hour", methods=["POST"], key_func=_email_key, deduct_when=_failed_sign_in)
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
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.signin"))


SETUP_FIELDS = ("setup_code", "email", "password", "confirm")


@bp.route("/setup", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"], deduct_when=_failed_sign_in)
def setup():
    """First run: create the admin account with the code the web process printed. Gone once any account exists."""
    if auth.has_users():
        return redirect(url_for("auth.signin"))
    errors, email = {}, request.form.get("email", "")
    if request.method == "POST":
        password, code = request.form.get("password", ""), request.form.get("setup_code", "")
        errors = auth.first_user_errors(email, password, code)
        if password != request.form.get("confirm", ""):
            errors["confirm"] = ["The two passwords differ."]
        if not errors:
            try:
                user = auth.create_first_user(email, password, code)
            except ValidationFailed as e:  # the code was spent a moment ago
                errors = e.errors
            except Conflict:  # someone else finished set-up a moment ago
                return redirect(url_for("auth.signin"))
            else:
                current_app.extensions["pagesite_has_users"] = True
                _sign_in(user)
                flash("Welcome to pagesite. Your account is ready.")
                return redirect(url_for("web.index"))
        errors = {name: errors[name] for name in SETUP_FIELDS if name in errors}  # in the form's order
    return render_template("auth/setup.html", email=email, errors=errors,
                           code_active=auth.setup_code_active()), 422 if errors else 200


@bp.get("/settings")
def settings():
    # A token just created is shown once: it rides in the session across the redirect, then is gone.
    new_token = session.pop("new_token", None)
    tokens = auth.list_tokens(g.user)
    new_record = next((t for t in tokens if new_token and t.id == new_token["id"]), None)
    return render_template("auth/settings.html", tokens=tokens, errors={},
                           new_token=new_token["token"] if new_record else None, new_record=new_record)


@bp.post("/settings/tokens")
def create_token():
    try:
        token, record = auth.create_token(g.user, request.form.get("name"))
    except ValidationFailed as e:
        return render_template("auth/settings.html", tokens=auth.list_tokens(g.user), new_token=None,
                               errors=e.errors, name=request.form.get("name", "")), 422
    # Redirect after the POST, so a reload or Back never creates a second token.
    session["new_token"] = {"id": record.id, "token": token}
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
