"""Settings → Channels: list, connect, test, reconnect and remove channels.

The connect and reconnect forms are rendered from each provider's settings
and credentials schemas, so a new provider needs no template of its own.
Fields are named as the service reports errors (``settings.url``,
``credentials.secret``), so each message lands next to its field.
"""

from flask import flash, redirect, render_template, request, session, url_for

from .. import rate_limits
from ..errors import Conflict, ValidationFailed
from ..providers import provider_class, provider_names
from ..services import channels, mastodon_signin
from . import bp

SIGNIN_KEY = "mastodon_signin"  # the sign-in under way, in the signed session

ICONS = {"stub": "S", "webhook": "W", "mastodon": "M", "bluesky": "B"}


@bp.app_template_global()
def channel_icon(provider):
    """A letter badge standing for the provider (decorative; the name is always written next to it)."""
    return ICONS.get(provider, provider[:1].upper())


def _providers():
    return [provider_class(name) for name in provider_names()]


def _fields(prefix, schema, values=None):
    """Form fields for one of a provider's schemas: (name, spec, value); secrets are never filled in."""
    values = values or {}
    required = set(schema.get("required", []))
    return [
        (f"{prefix}.{key}", {**spec, "required": key in required},
         "" if spec.get("secret") else values.get(key, ""))
        for key, spec in schema.get("properties", {}).items()
    ]


def _posted(cls, form):
    """(name, settings, credentials) from a posted connect or reconnect form.

    An empty credential is left out: on connect the provider may generate it
    (a webhook secret), on reconnect the stored one is kept."""
    settings = {key: form.get(f"settings.{key}", "") for key in cls.settings_schema.get("properties", {})}
    credentials = {key: form.get(f"credentials.{key}", "") for key in cls.credentials_schema.get("properties", {})}
    return form.get("name", ""), settings, {k: v for k, v in credentials.items() if v}


def _refill(cls, name, settings, credentials=None):
    """What the connect form shows again after an error: everything typed except secrets."""
    secret = {k for k, spec in cls.credentials_schema.get("properties", {}).items() if spec.get("secret")}
    return {"name": name, "settings": settings,
            "credentials": {k: v for k, v in (credentials or {}).items() if k not in secret}}


def _render(status=200, **context):
    context.setdefault("connect_errors", {})
    context.setdefault("connect_values", {})
    context.setdefault("open_provider", None)
    return render_template(
        "web/channels.html", channels=channels.live_channels(), providers=_providers(), fields=_fields,
        default=channels.default_channel(), provider_class=provider_class, **context,
    ), status


@bp.get("/settings/channels")
def channel_list():
    return _render()


@bp.post("/settings/channels")
@rate_limits.channel_connection
def connect_channel():
    provider = request.form.get("provider", "")
    cls = provider_class(provider)
    if cls is None:
        flash("Choose a provider to connect.", "error")
        return redirect(url_for(".channel_list"))
    name, settings, credentials = _posted(cls, request.form)
    try:
        channel, revealed = channels.create_channel(provider, name, settings, credentials)
    except ValidationFailed as e:
        return _render(422, open_provider=provider, connect_errors=e.errors,
                       connect_values=_refill(cls, name, settings, credentials))
    return _render(201, connected=channel, revealed=revealed)


@bp.post("/settings/channels/mastodon/signin")
@rate_limits.channel_connection
def mastodon_signin_start():
    """Register with the instance (once), then offer the way there. Not a redirect: the page's
    Content-Security-Policy (form-action 'self') stops a form submission from leaving the site."""
    cls = provider_class("mastodon")
    name, settings, _ = _posted(cls, request.form)
    try:
        address, pending = mastodon_signin.start(name, settings)
    except ValidationFailed as e:
        return _render(422, open_provider=cls.name, connect_errors=e.errors,
                       connect_values=_refill(cls, name, settings))
    session[SIGNIN_KEY] = pending
    return render_template("web/channel_signin.html", address=address, instance_url=pending["instance_url"])


@bp.post("/settings/channels/<int:channel_id>/reconnect/signin")
def mastodon_reconnect_signin(channel_id):
    """Reconnect a Mastodon channel by signing in again, the way it was connected."""
    try:
        address, pending = mastodon_signin.start_reconnect(channel_id)
    except ValidationFailed as e:
        return _reconnect_refused(channel_id, e)
    session[SIGNIN_KEY] = pending
    return render_template("web/channel_signin.html", address=address, instance_url=pending["instance_url"])


@bp.get(mastodon_signin.CALLBACK_PATH)
def mastodon_signin_callback():
    """Where the instance sends the browser back, with a code (or the reason there is none)."""
    pending = session.pop(SIGNIN_KEY, None)
    reconnecting = pending.get("channel_id") if pending else None
    try:
        channel, _ = mastodon_signin.finish(pending, request.args)
    except ValidationFailed as e:
        if reconnecting is not None:
            return _reconnect_refused(reconnecting, e)
        values = _refill(provider_class("mastodon"), pending["name"], pending["settings"]) if pending else {}
        return _render(422, open_provider="mastodon", connect_errors=e.errors, connect_values=values)
    flash(f"{channel.label} is {'reconnected' if reconnecting is not None else 'connected'}.", "success")
    return redirect(url_for(".channel_list", _anchor=f"channel-{channel.id}"))


def _reconnect_refused(channel_id, error):
    return _render(422, row_errors={channel_id: [m for ms in error.errors.values() for m in ms]},
                   focus_channel=channel_id, reconnect_open=channel_id)


@bp.post("/settings/channels/<int:channel_id>/test")
def test_channel(channel_id):
    try:
        channel = channels.send_test(channel_id)
    except ValidationFailed as e:
        channel = channels.get_channel(channel_id)
        return _render(422, row_errors={channel.id: [m for ms in e.errors.values() for m in ms]},
                       focus_channel=channel.id)
    return _render(200, row_notice={channel.id: f"{channel.label} answered the test: it is connected."},
                   focus_channel=channel.id)


@bp.post("/settings/channels/<int:channel_id>/reconnect")
def reconnect_channel(channel_id):
    channel = channels.get_channel(channel_id)
    cls = provider_class(channel.provider)
    name, settings, credentials = _posted(cls, request.form)
    try:
        channel, revealed = channels.update_channel(channel_id, name=name, settings=settings,
                                                    credentials=credentials or None)
    except ValidationFailed as e:
        return _reconnect_refused(channel.id, e)
    return _render(200, row_notice={channel.id: f"{channel.label} is reconnected."}, revealed=revealed,
                   connected=channel if revealed else None, focus_channel=channel.id)


@bp.get("/settings/channels/<int:channel_id>/remove")
def confirm_remove_channel(channel_id):
    return render_template("web/channel_remove.html", channel=channels.get_channel(channel_id))


@bp.post("/settings/channels/<int:channel_id>/remove")
def remove_channel(channel_id):
    try:
        channel = channels.delete_channel(channel_id)
    except Conflict as e:
        return render_template("web/channel_remove.html", channel=channels.get_channel(channel_id),
                               error=e.detail), 409
    flash(f"{channel.label} was removed; its queued schedules were canceled.", "success")
    return redirect(url_for(".channel_list"))
