"""Secrets at rest (channel credentials, Mastodon app secrets): Fernet tokens under keys that can be rotated.

``PAGESITE_ENCRYPTION_KEY`` holds one Fernet key, or several separated by
commas: the first encrypts, every one of them decrypts (MultiFernet). To
rotate, put the new key first, run ``flask --app wsgi pagesite rotate-key``
(it re-encrypts every encrypted column under the first key), then drop the
old key. In development a key is generated into ``instance/encryption_key``.

A column that holds such tokens is declared with the ``Encrypted`` type:
that is how ``rotate-key`` finds every one of them (``encrypted_columns``),
those of a model added later included.
"""

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

# What a channel whose credentials no configured key can read says, wherever it is shown.
UNREADABLE = ("its credentials were encrypted with a key that is no longer configured "
              "(PAGESITE_ENCRYPTION_KEY): reconnect it")


class Encrypted(TypeDecorator):
    """Text holding a Fernet token of this module. Stored as plain text; the type marks the column
    for ``rotate-key``, so no list of encrypted columns has to be kept by hand."""

    impl = Text
    cache_ok = True


def encrypted_columns(metadata):
    """[(table, column)] of every column declared ``Encrypted``, in dependency order."""
    return [(table, column) for table in metadata.sorted_tables for column in table.columns
            if isinstance(column.type, Encrypted)]


def parse_keys(value):
    """The Fernet objects for a comma-separated key list; ValueError naming the bad one."""
    keys = [k.strip() for k in str(value or "").replace("\n", ",").split(",") if k.strip()]
    if not keys:
        raise ValueError("PAGESITE_ENCRYPTION_KEY is empty.")
    fernets = []
    for n, key in enumerate(keys, 1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            raise ValueError(
                f"PAGESITE_ENCRYPTION_KEY: key {n} is not a Fernet key (32 url-safe base64-encoded bytes; "
                "make one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)."
            ) from None
    return fernets


def init_app(app):
    """Check the configured keys at start-up, so a bad key stops the process, not a publish."""
    fernets = parse_keys(app.config["ENCRYPTION_KEY"])
    app.extensions["pagesite_fernets"] = fernets
    app.extensions["pagesite_fernet"] = MultiFernet(fernets)


def _fernet():
    return current_app.extensions["pagesite_fernet"]


def readable(token: str | None) -> bool:
    """Whether a configured key can read ``token`` (its signature is checked; nothing is decrypted)."""
    if not token:
        return True
    try:
        _fernet().extract_timestamp(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        return False
    return True


def encrypt(data: dict) -> str:
    return _fernet().encrypt(json.dumps(data, separators=(",", ":")).encode()).decode("ascii")


def decrypt(token: str | None) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode("ascii")))
    except (InvalidToken, UnicodeEncodeError):
        raise CredentialsUnreadable(UNREADABLE[0].upper() + UNREADABLE[1:] + ".") from None


def rotate(token: str | None) -> str | None:
    """``token`` re-encrypted under the first key (unchanged content); CredentialsUnreadable
    when no configured key can read it."""
    if not token:
        return token
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError):
        raise CredentialsUnreadable(UNREADABLE[0].upper() + UNREADABLE[1:] + ".") from None


def under_first_key(token: str) -> bool:
    """Whether ``token`` is already encrypted under the first key (rotating it would change nothing)."""
    try:
        current_app.extensions["pagesite_fernets"][0].extract_timestamp(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        return False
    return True


class CredentialsUnreadable(Exception):
    """The stored credentials do not decrypt with any configured key."""


def generate_key():
    return Fernet.generate_key().decode("ascii")
