"""Channel credentials at rest: Fernet tokens under keys that can be rotated.

``PAGESITE_ENCRYPTION_KEY`` holds one Fernet key, or several separated by
commas: the first encrypts, every one of them decrypts (MultiFernet). To
rotate, put the new key first, run ``flask --app wsgi pagesite rotate-key``
(it re-encrypts every channel under the first key), then drop the old key.
In development a key is generated into ``instance/encryption_key``.
"""

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


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
    app.extensions["pagesite_fernet"] = MultiFernet(parse_keys(app.config["ENCRYPTION_KEY"]))


def _fernet():
    return current_app.extensions["pagesite_fernet"]


def encrypt(data: dict) -> str:
    return _fernet().encrypt(json.dumps(data, separators=(",", ":")).encode()).decode("ascii")


def decrypt(token: str | None) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode("ascii")))
    except InvalidToken:
        raise CredentialsUnreadable(
            "The channel's credentials cannot be decrypted with the configured PAGESITE_ENCRYPTION_KEY "
            "(was the key changed without keeping the old one?). Reconnect the channel."
        ) from None


def rotate(token: str | None) -> str | None:
    """``token`` re-encrypted under the first key (unchanged content)."""
    if not token:
        return token
    return _fernet().rotate(token.encode("ascii")).decode("ascii")


class CredentialsUnreadable(Exception):
    """The stored credentials do not decrypt with any configured key."""


def generate_key():
    return Fernet.generate_key().decode("ascii")
