"""Links to an attachment's bytes that work without a token, for a limited time.

A webhook receiver is handed one per attachment so it can fetch the bytes.
The link carries the attachment id, the start of its SHA-256 and an expiry,
signed with SECRET_KEY; nothing in it can be changed without breaking the
signature, and it names only those bytes.
"""

import time

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "pagesite.attachment-link"


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def _serializer(config):
    return URLSafeSerializer(config["SECRET_KEY"], salt=SALT)


def attachment_url(config, attachment_id, sha256, now=None):
    """An absolute URL (under BASE_URL) that serves the attachment for ATTACHMENT_LINK_SECONDS."""
    expires = int((now or time.time()) + int(config["ATTACHMENT_LINK_SECONDS"]))
    token = _serializer(config).dumps([attachment_id, sha256[:16], expires])
    return f"{config['BASE_URL']}/links/attachments/{token}"


def read_link(config, token, now=None):
    """(attachment id, sha256 prefix, expiry as a Unix time) of a valid link; LinkInvalid or LinkExpired otherwise."""
    try:
        attachment_id, sha_prefix, expires = _serializer(config).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise LinkInvalid() from None
    if (now or time.time()) >= expires:
        raise LinkExpired()
    return attachment_id, sha_prefix, expires


def read_token(config, token, now=None):
    """(attachment id, sha256 prefix) of a valid link; LinkInvalid or LinkExpired otherwise."""
    attachment_id, sha_prefix, _expires = read_link(config, token, now)
    return attachment_id, sha_prefix


def cache_control(expires, now=None):
    """How long caches may keep bytes served through a link that expires at ``expires``.

    Any cache (``public``): the link works for whoever holds it and names only those
    bytes. But no longer than the link itself works, so no cache serves a link past
    its expiry (whole seconds, rounded down)."""
    left = int(expires - (now or time.time()))
    return f"public, max-age={left}" if left > 0 else "no-store"
