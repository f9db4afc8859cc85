"""Fixtures of the network tests: the real peers (see tests/peers.py) and test images."""

from peers import mastodon_mock, mastodon_mock_server, nostr_relay, pds, synapse  # noqa: F401 (fixtures)

import base64
import io
import json
import os

from PIL import Image

from pagesite.providers.base import AttachmentData, ChannelData, PageData


def image_bytes(width, height, fmt="PNG", noise=False, color=(200, 40, 40)):
    """An image made here: a flat colour, or random noise (which compresses badly, so it is large)."""
    if noise:
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), color)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def attachment(data, alt_text, filename, content_type=None, id=1):
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        content_type = content_type or Image.MIME[image.format]
    return AttachmentData(id=id, content_type=content_type, size=len(data), sha256="", alt_text=alt_text,
                          filename=filename, width=width, height=height, opener=lambda: io.BytesIO(data))


def page(text, *attachments, id=1):
    return PageData(id=id, text=text, attachments=tuple(attachments))


def channel(provider, settings, credentials, id=1):
    return ChannelData(id=id, provider=provider, name=f"{provider} test", settings=dict(settings),
                       credentials=dict(credentials))


def unsigned_jwt(claims):
    """A JWT with the given claims and a signature no server accepts."""
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'typ': 'at+jwt', 'alg': 'HS256'})}.{part(claims)}.{part('not-a-signature')}"
