"""Channels: connected accounts on providers, their encrypted credentials and limits.

Connecting (creating a channel, or replacing its settings or credentials)
asks the provider to verify the account first; nothing is saved when it says
no. Credentials are decrypted only to hand them to the provider and are
never returned from here except a value the provider generated for the user,
once (a webhook secret).
"""

import logging
from dataclasses import asdict
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from .. import encryption, queueing
from ..encryption import CredentialsUnreadable
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import Channel, Schedule
from ..providers import (
    AttachmentData, AuthenticationError, ChannelData, InvalidChannel, Limits, PageData, ProviderError,
    TransientError, UnusableAnswer, get_provider, provider_class, provider_names,
)
from ..timeutil import utcnow
from ..tickets import Ticket
from .common import MAX_ID, collect_errors, is_unicode_text

log = logging.getLogger("pagesite.channels")

MAX_NAME = 100
MAX_SETTING = 2048


# Reading

def live_channels():
    """Every channel not removed, oldest first."""
    return db.session.scalars(select(Channel).where(Channel.deleted_at.is_(None)).order_by(Channel.id)).all()


def get_channel(channel_id, field=None):
    """The live channel ``channel_id``; a 404, or a 422 on ``field`` when it came from a body."""
    channel = None
    if isinstance(channel_id, int) and not isinstance(channel_id, bool) and 0 < channel_id <= MAX_ID:
        channel = db.session.get(Channel, channel_id)
    if channel is None or channel.deleted_at is not None:
        if field:
            raise ValidationFailed.single(field, f"No channel with id {channel_id!r}.")
        raise NotFound(f"No channel with id {channel_id}.")
    return channel


def needing_attention():
    return db.session.scalars(
        select(Channel).where(Channel.deleted_at.is_(None), Channel.status == "needs_attention").order_by(Channel.id)
    ).all()


def default_channel():
    """What "default" means: PAGESITE_DEFAULT_CHANNEL (an id or a name), else the only
    connected channel, else the built-in stub channel; None when there is none of these."""
    channels = live_channels()
    configured = current_app.config.get("DEFAULT_CHANNEL")
    if configured not in (None, ""):
        for channel in channels:
            if str(channel.id) == str(configured) or channel.name == str(configured):
                return channel
        return None
    connected = [c for c in channels if c.status == "connected"]
    if len(connected) == 1:
        return connected[0]
    return next((c for c in channels if c.provider == "stub"), None)


def resolve(channel_id=None, provider=None):
    """The channel a schedule goes to: ``channel_id``, else through ``provider`` (a
    provider name, "default" or None: the default channel). A 422 when there is none."""
    if channel_id is not None:
        return get_channel(channel_id, field="channel_id")
    if provider is not None and not isinstance(provider, str):
        raise ValidationFailed.single("provider", "Must be a provider name.")
    default = default_channel()
    if provider in (None, "default"):
        if default is None:
            raise ValidationFailed.single(
                "channel_id", "No default channel: connect a channel or set PAGESITE_DEFAULT_CHANNEL.")
        return default
    if provider_class(provider) is None:
        raise ValidationFailed.single("provider", f"Unknown provider {provider!r}.")
    if default is not None and default.provider == provider:
        return default
    channel = next((c for c in live_channels() if c.provider == provider), None)
    if channel is None:
        raise ValidationFailed.single("provider", f"No {provider} channel is connected; connect one first.")
    return channel


def channel_data(channel, with_credentials=True):
    """The channel as a provider sees it (credentials decrypted only when asked)."""
    return ChannelData(
        id=channel.id, provider=channel.provider, name=channel.name, settings=dict(channel.settings or {}),
        credentials=stored_credentials(channel) if with_credentials else {},
        account=dict(channel.account or {}), limits=dict(channel.limits or {}),
    )


def stored_credentials(channel):
    """The channel's credentials, decrypted; a 422 on ``credentials`` when no configured key can read them
    (they were encrypted with a key dropped since: the channel has to be reconnected, its secrets typed again)."""
    try:
        return encryption.decrypt(channel.credentials_encrypted)
    except CredentialsUnreadable:
        raise ValidationFailed.single("credentials", f"{channel.label}: {encryption.UNREADABLE}, typing its "
                                                     "credentials again.") from None


def limits_of(channel):
    cls = provider_class(channel.provider)
    return Limits.from_dict(channel.limits) if channel.limits else cls.default_limits()


def page_data(text, assets, page_id=0):
    """A page as providers check it (no bytes needed to check limits)."""
    return PageData(id=page_id, text=text, attachments=tuple(
        AttachmentData(id=a.id, content_type=a.content_type, size=a.size_bytes, sha256=a.sha256,
                       alt_text=a.alt_text or "", filename=a.filename, width=a.width, height=a.height)
        for a in assets
    ))


def limit_problems(channel, page):
    """What ``channel`` would refuse about ``page`` (a PageData), each message naming the channel."""
    provider = get_provider(channel_data(channel, with_credentials=False), current_app.config)
    return [f"{channel.label}: {message}" for message in provider.check(page, limits_of(channel))]


def count_characters(channel, text):
    """``text``'s length as ``channel``'s network counts it."""
    return get_provider(channel_data(channel, with_credentials=False), current_app.config).count_characters(text)


# Connecting

def _check_name(name):
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed.single("name", "A name is required (how you will recognise this channel).")
    name = name.strip()
    if len(name) > MAX_NAME or not is_unicode_text(name) or "\x00" in name:
        raise ValidationFailed.single("name", f"Must be text of at most {MAX_NAME} characters.")
    return name


def _check_provider(name):
    cls = provider_class(name)
    if cls is None:
        raise ValidationFailed.single("provider", f"Must be one of: {', '.join(provider_names())}.")
    return cls


def _check_fields(values, schema, prefix, required=True):
    """``values`` checked against a provider's flat JSON schema (string fields);
    ``required=False`` for a partial change, checked whole afterwards."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValidationFailed.single(prefix, "Must be an object.")
    properties = schema.get("properties", {})
    errors = {}
    for key, value in values.items():
        spec = properties.get(key)
        if spec is None:
            errors[f"{prefix}.{key}"] = [f"Unknown field; expected: {', '.join(properties) or 'none'}."]
        elif not isinstance(value, str) or not is_unicode_text(value) or "\x00" in value:
            errors[f"{prefix}.{key}"] = ["Must be text."]
        elif len(value) > spec.get("maxLength", MAX_SETTING):
            errors[f"{prefix}.{key}"] = [f"Must be at most {spec.get('maxLength', MAX_SETTING)} characters."]
    for key in schema.get("required", []) if required else []:
        if key not in values and f"{prefix}.{key}" not in errors:
            errors[f"{prefix}.{key}"] = [f"{properties.get(key, {}).get('title', key)} is required."]
    if errors:
        raise ValidationFailed(errors)
    return {k: v.strip() if not properties[k].get("secret") else v for k, v in values.items()}


def _connect(data):
    """Ask the provider to verify ``data``; its Connection, or a 422 saying why not."""
    provider = get_provider(data, current_app.config)
    try:
        return provider.connect()
    except InvalidChannel as e:
        raise ValidationFailed.single(e.field, str(e)) from None
    except AuthenticationError as e:
        raise ValidationFailed.single("credentials", str(e)) from None
    except UnusableAnswer as e:  # most likely the address typed is not the network's
        raise ValidationFailed.single(e.field, str(e)) from None
    except TransientError as e:
        raise ValidationFailed.single("provider", f"{e} Try again in a moment.") from None
    except ProviderError as e:
        raise ValidationFailed.single("credentials", str(e)) from None


def _revealed(cls, given, stored):
    """Secrets the provider generated (not typed by the user): shown once, then never again."""
    secret = {k for k, spec in cls.credentials_schema.get("properties", {}).items() if spec.get("secret")}
    return {k: v for k, v in stored.items() if k in secret and not given.get(k)}


def _apply(channel, connection):
    channel.settings = connection.settings
    channel.credentials_encrypted = encryption.encrypt(connection.credentials)
    channel.account = {k: v for k, v in asdict(connection.account).items() if v is not None}
    channel.limits = connection.limits.to_dict()
    channel.status = "connected"
    channel.last_error = None
    channel.refreshed_at = utcnow()


def check_new(provider, name, settings, credentials=None):
    """(provider class, name, settings, credentials) of a channel to connect, each checked against the
    provider's schemas (credentials only when given); one 422 naming every wrong field."""
    cls = _check_provider(provider)
    name, settings, credentials = collect_errors(
        lambda: _check_name(name),
        lambda: _check_fields(settings, cls.settings_schema, "settings"),
        lambda: None if credentials is None else _check_fields(credentials, cls.credentials_schema, "credentials"),
    )
    return cls, name, settings, credentials


def create_channel(provider, name, settings=None, credentials=None):
    """Verify the account with the provider, then store it; (channel, secrets shown once)."""
    cls, name, settings, credentials = check_new(provider, name, settings, {} if credentials is None else credentials)
    connection = _connect(ChannelData(id=None, provider=provider, name=name, settings=settings,
                                      credentials=dict(credentials)))
    channel = Channel(provider=provider, name=name)
    _apply(channel, connection)
    db.session.add(channel)
    db.session.commit()
    log.info("channel %s connected (%s)", channel.id, provider)
    return channel, _revealed(cls, credentials, connection.credentials)


_UNSET = object()


def update_channel(channel_id, name=_UNSET, settings=None, credentials=None):
    """Rename; with settings or credentials, reconnect (verified like a new channel).

    Settings given are merged over the stored ones; credentials given replace
    the stored ones (an empty object lets the provider generate new ones).
    """
    channel = get_channel(channel_id)
    cls = provider_class(channel.provider)
    new_name, changed_settings, new_credentials = collect_errors(
        lambda: _check_name(name) if name is not _UNSET else channel.name,
        # Only what the user sends is checked: stored settings may hold what the provider added.
        lambda: _check_fields(settings, cls.settings_schema, "settings", required=False),
        lambda: None if credentials is None else _check_fields(credentials, cls.credentials_schema, "credentials"),
    )
    new_settings = {**channel.settings, **changed_settings}
    missing = {f"settings.{k}": ["This field is required."] for k in cls.settings_schema.get("required", [])
               if not new_settings.get(k)}
    if missing:
        raise ValidationFailed(missing)
    revealed = {}
    if settings is not None or credentials is not None:
        given = new_credentials if new_credentials is not None else stored_credentials(channel)
        connection = _connect(ChannelData(id=channel.id, provider=channel.provider, name=new_name,
                                          settings=new_settings, credentials=dict(given)))
        _apply(channel, connection)
        if new_credentials is not None:
            revealed = _revealed(cls, new_credentials, connection.credentials)
    channel.name = new_name
    db.session.commit()
    return channel, revealed


def send_test(channel_id):
    """Verify a channel again with its stored credentials (a webhook gets a ping).

    Success marks it connected and refreshes its account and limits; a failure
    is a 422 with the provider's reason and changes nothing.
    """
    channel = get_channel(channel_id)
    connection = _connect(channel_data(channel))
    _apply(channel, connection)
    db.session.commit()
    return channel


def delete_channel(channel_id):
    """Remove a channel: its queued schedules are canceled, its history stays,
    its credentials are erased. A 409 while one of its schedules is publishing."""
    channel = get_channel(channel_id)
    queued = db.session.scalars(
        select(Schedule).where(Schedule.channel_id == channel.id, Schedule.status == "queued")).all()
    job_ids = [queueing.publish_job_id(Ticket.of(s)) for s in queued]
    now = utcnow()
    # Cancel first, then look: a claim that got in before the cancel shows as publishing.
    db.session.execute(
        update(Schedule).where(Schedule.channel_id == channel.id, Schedule.status == "queued")
        .values(status="canceled", next_attempt_at=None, updated_at=now).execution_options(synchronize_session=False)
    )
    publishing = db.session.scalar(
        select(Schedule.id).where(Schedule.channel_id == channel.id, Schedule.status == "publishing").limit(1))
    if publishing is not None:
        db.session.rollback()
        raise Conflict(f"Schedule {publishing} of {channel.label} is publishing right now; remove the channel "
                       "once it has finished.", schedule_id=publishing)
    channel.deleted_at = now
    channel.credentials_encrypted = None
    db.session.commit()
    for job_id in job_ids:
        queueing.withdraw(job_id)
    return channel


# The daily refresh (a periodic job: see queueing.register_refresher)

def refresh_due(now=None):
    """Read again, from the network, the account and limits of each connected channel not refreshed for
    CHANNEL_REFRESH_SECONDS; {"refreshed", "unchanged", "failed", "needs_attention"} counts.

    Only a refused credential marks a channel ``needs_attention``; an unreachable
    network, a 5xx or a rate limit keep what is stored and are tried again next
    time. Each channel is its own transaction: one slow network delays, never undoes, the rest.
    """
    now = now or utcnow()
    due_before = now - timedelta(seconds=int(current_app.config["CHANNEL_REFRESH_SECONDS"]))
    ids = db.session.scalars(select(Channel.id).where(
        Channel.deleted_at.is_(None), Channel.status == "connected",
        or_(Channel.refreshed_at.is_(None), Channel.refreshed_at <= due_before)).order_by(Channel.id)).all()
    counts = dict.fromkeys(("refreshed", "unchanged", "failed", "needs_attention"), 0)
    for channel_id in ids:
        counts[_refresh(channel_id)] += 1
    return counts


def _refresh(channel_id):
    channel = db.session.get(Channel, channel_id)
    if channel.credentials_unreadable:  # nothing to send the network: it needs reconnecting
        mark_needs_attention(channel_id, channel.current_error)
        db.session.commit()
        log.warning("channel %s needs attention: %s", channel_id, encryption.UNREADABLE)
        return "needs_attention"
    data = channel_data(channel)
    before = dict(data.credentials)
    try:
        connection = get_provider(data, current_app.config).refresh()
    except AuthenticationError as e:
        mark_needs_attention(channel_id, str(e))
        db.session.commit()
        log.warning("channel %s needs attention after its refresh: %s", channel_id, e)
        return "needs_attention"
    except Exception as e:  # a provider error or a bug: keep what is stored, try again next time
        db.session.rollback()
        log.warning("channel %s was not refreshed (kept its stored limits): %s", channel_id, e)
        return "failed"
    now = utcnow()
    values = {"refreshed_at": now}
    if connection is not None:
        values.update(account={k: v for k, v in asdict(connection.account).items() if v is not None},
                      limits=connection.limits.to_dict(), updated_at=now)
        if connection.credentials != before:  # a session the provider refreshed on the way
            values["credentials_encrypted"] = encryption.encrypt(connection.credentials)
    # Only while it is still connected: a publish that found the credentials refused meanwhile wins.
    db.session.execute(update(Channel).where(Channel.id == channel_id, Channel.status == "connected",
                                             Channel.deleted_at.is_(None))
                       .values(**values).execution_options(synchronize_session=False))
    db.session.commit()
    return "refreshed" if connection is not None else "unchanged"


# Used by publishing, inside its own transaction (no commit here).

def mark_needs_attention(channel_id, message):
    db.session.execute(
        update(Channel).where(Channel.id == channel_id)
        .values(status="needs_attention", last_error=message, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def store_credentials(channel_id, credentials):
    """Credentials a provider refreshed while publishing (a new session), encrypted again."""
    db.session.execute(
        update(Channel).where(Channel.id == channel_id, Channel.deleted_at.is_(None))
        .values(credentials_encrypted=encryption.encrypt(credentials), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


# Installation (key rotation is services/keys.py)

def install_builtin():
    """The stub channel a fresh install has (the migration creates it; this restores it on an empty table)."""
    if db.session.scalar(select(Channel.id).limit(1)) is not None:
        return None
    cls = provider_class("stub")
    connection = get_provider(ChannelData(id=None, provider="stub", name="Stub", settings={}, credentials={}),
                              current_app.config).connect()
    channel = Channel(provider=cls.name, name="Stub")
    _apply(channel, connection)
    channel.credentials_encrypted = None  # nothing secret to keep
    db.session.add(channel)
    db.session.commit()
    return channel
