"""Connecting a Mastodon channel by signing in through the instance (OAuth 2
with PKCE) instead of pasting an access token.

``start`` registers pagesite on the instance once (remembered per instance in
``mastodon_apps``, its client secret encrypted) and returns the instance's
authorisation address plus what must be kept until the browser comes back
(state, PKCE verifier, the form's values; the web layer keeps them in the
signed session). ``finish`` checks the state, exchanges the code and connects
the channel exactly as a pasted token would be.
"""

import logging
import secrets
import time

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import encryption
from ..errors import ValidationFailed
from ..extensions import db
from ..models import MastodonApp
from ..providers import InvalidChannel, ProviderError, TransientError, UnusableAnswer
from ..providers.mastodon import authorize_url, exchange_code, normalise_instance_url, pkce_pair, register_app
from . import channels

log = logging.getLogger("pagesite.channels")

CALLBACK_PATH = "/settings/channels/mastodon/callback"
FIELD = "signin"  # errors about the sign-in itself, shown beside its button
MAX_AGE = 15 * 60  # seconds a started sign-in may take


def redirect_uri():
    """Where the instance sends the browser back: PAGESITE_BASE_URL, which must be set for this."""
    if not current_app.config.get("BASE_URL_GIVEN"):
        raise ValidationFailed.single(FIELD, (
            "Signing in through the instance needs PAGESITE_BASE_URL: the address you open pagesite at (like "
            "https://pagesite.example.com), so the instance can send you back here. Ask whoever runs pagesite to "
            "set it, or paste an access token instead."))
    return current_app.config["BASE_URL"] + CALLBACK_PATH


def start(name, settings):
    """(the address to send the browser to, what to keep until it comes back); a 422 on the form's fields."""
    _, name, settings, _ = channels.check_new("mastodon", name, settings)
    try:
        instance_url = normalise_instance_url(settings.get("instance_url"))
    except InvalidChannel as e:
        raise ValidationFailed.single(e.field, str(e)) from None
    return _begin(instance_url, name, {**settings, "instance_url": instance_url})


def start_reconnect(channel_id):
    """Sign in again for a Mastodon channel whose token was revoked or has expired: like ``start``,
    and ``finish`` then gives the channel its new token (verified like a pasted one)."""
    channel = channels.get_channel(channel_id)
    if channel.provider != "mastodon":
        raise ValidationFailed.single(FIELD, f"{channel.label} is not a Mastodon channel: reconnect it with its "
                                             "credentials instead.")
    settings = dict(channel.settings)
    return _begin(settings["instance_url"], channel.name, settings, channel_id=channel.id)


def _begin(instance_url, name, settings, channel_id=None):
    uri = redirect_uri()
    client_id, _ = _app_for(instance_url, uri)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(32)
    pending = {"state": state, "verifier": verifier, "instance_url": instance_url, "name": name,
               "settings": settings, "started": time.time(), "channel_id": channel_id}
    return authorize_url(instance_url, client_id, uri, state, challenge), pending


def finish(pending, answer):
    """Connect the channel (or reconnect it) from the instance's answer (the callback's query); (channel, {}).

    ``pending`` is what ``start`` returned to keep (None when it was lost). A 422
    on ``signin`` says in words what to do when the answer cannot be used."""
    if not pending or not secrets.compare_digest(str(answer.get("state", "")), pending.get("state", "")):
        raise ValidationFailed.single(FIELD, (
            "This sign-in does not match one started here (it may have been started in another browser, or "
            "already used). Nothing was connected: sign in through the instance again."))
    instance_url = pending["instance_url"]
    if time.time() - pending.get("started", 0) > MAX_AGE:
        raise ValidationFailed.single(FIELD, f"This sign-in took longer than {MAX_AGE // 60} minutes and has "
                                             "expired. Nothing was connected: sign in through the instance again.")
    if answer.get("error"):
        if answer["error"] == "access_denied":
            message = (f"You did not authorise pagesite on {instance_url}, so nothing was connected. To connect, "
                       "sign in again and choose Authorise, or paste an access token.")
        else:
            message = (f"{instance_url} did not finish the sign-in "
                       f"({answer.get('error_description') or answer['error']}). Try again in a moment.")
        raise ValidationFailed.single(FIELD, message)
    if not answer.get("code"):
        raise ValidationFailed.single(FIELD, f"{instance_url} sent you back without a sign-in code. "
                                             "Nothing was connected: sign in through the instance again.")
    uri = redirect_uri()
    client_id, client_secret = _app_for(instance_url, uri)
    try:
        token = exchange_code(instance_url, client_id, client_secret, uri, answer["code"], pending["verifier"])
    except TransientError as e:
        raise ValidationFailed.single(FIELD, f"{e} Nothing was connected: sign in through the instance again.")
    except ProviderError as e:
        raise ValidationFailed.single(FIELD, str(e)) from None
    if pending.get("channel_id") is not None:  # a reconnect: the same channel, its new token
        return channels.update_channel(pending["channel_id"], credentials={"access_token": token})
    return channels.create_channel("mastodon", pending["name"], pending["settings"], {"access_token": token})


def _app_for(instance_url, uri):
    """(client_id, client_secret) of pagesite's app on the instance, registered now if it is not yet
    (or was registered with another redirect URI, as after PAGESITE_BASE_URL changed)."""
    app = db.session.scalar(select(MastodonApp).where(MastodonApp.instance_url == instance_url))
    # A secret no configured key can read (an old key dropped too soon) is replaced by registering again.
    if app is not None and app.redirect_uri == uri and encryption.readable(app.client_secret_encrypted):
        return app.client_id, encryption.decrypt(app.client_secret_encrypted)["client_secret"]
    registered = _register(instance_url, uri)
    if app is None:
        app = MastodonApp(instance_url=instance_url)
        db.session.add(app)
    app.redirect_uri, app.client_id = uri, registered["client_id"]
    app.client_secret_encrypted = encryption.encrypt({"client_secret": registered["client_secret"]})
    try:
        db.session.commit()
    except IntegrityError:  # another sign-in registered it at the same moment: either app works
        db.session.rollback()
    log.info("registered with %s for signing in", instance_url)
    return registered["client_id"], registered["client_secret"]


def _register(instance_url, uri):
    try:
        return register_app(instance_url, uri, website=current_app.config["BASE_URL"])
    except (InvalidChannel, UnusableAnswer) as e:  # a private address, or an answer that is not Mastodon's
        raise ValidationFailed.single("settings.instance_url", str(e)) from None
    except TransientError:
        raise ValidationFailed.single("settings.instance_url", (
            f"Nothing answered at {instance_url}. Check the instance's address, or try again in a moment.")) from None
    except ProviderError as e:
        raise ValidationFailed.single("settings.instance_url", str(e)) from None
