"""Deliver each publish to a URL, signed per the Standard Webhooks specification.

For anyone whose destination is their own site, a chat room, n8n, Zapier or a
CMS. Each request carries ``webhook-id`` (the schedule's idempotency key, the
same on every retry), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``
under the channel's ``whsec_`` secret), so any Standard Webhooks library
verifies it. Redirects are not followed; the request goes out through
``outbound`` (no private addresses, the answer read within the timeout and 1 MB).
"""

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

import httpx

from .. import outbound
from ..signed_links import attachment_url
from ..version import VERSION
from . import link_cards, register
from .waits import seconds_to_wait
from .base import (
    Account, AuthenticationError, Connection, InvalidChannel, Limits, PermanentError, Provider, PublishResult,
    TransientError,
)

SECRET_PREFIX = "whsec_"
TRANSIENT_STATUSES = {408, 425, 429}
BODY_EXCERPT = 500  # characters of the receiver's body kept in a failed publish's message
SHORT = outbound.SHORT_EXCERPT  # ... and in a connect error, shown on the form


def generate_secret():
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode("ascii")


def secret_key(secret):
    """The HMAC key inside a ``whsec_<base64>`` secret; ValueError when it is not one."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"Must start with {SECRET_PREFIX} (the Standard Webhooks secret form).")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except ValueError:
        raise ValueError(f"After {SECRET_PREFIX} must come base64.") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("The secret must hold 24 to 64 bytes (32 is usual).")
    return key


def sign(secret, message_id, timestamp, body: bytes):
    """The ``webhook-signature`` header value for one request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _excerpt(response, limit=BODY_EXCERPT):
    return outbound.excerpt(response, limit)


def _iso(moment):
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@register
class WebhookProvider(Provider):
    name = "webhook"
    label = "Webhook"
    description = "POSTs each page as signed JSON to a URL of yours (Standard Webhooks)."
    settings_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "title": "URL", "format": "uri", "maxLength": 2048,
                    "description": "Where each page is POSTed (http or https; redirects are not followed)."},
        },
        "required": ["url"],
    }
    credentials_schema = {
        "type": "object",
        "properties": {
            "secret": {"type": "string", "title": "Signing secret", "secret": True, "maxLength": 200,
                       "revealed": "Copy it now into your receiver: it is not shown again.",
                       "description": "A Standard Webhooks secret (whsec_...). Leave empty to have one "
                                      "generated; it is shown once."},
        },
    }

    @classmethod
    def default_limits(cls):
        return Limits(max_characters=5000, counting="Unicode code points", max_attachments=4, content_types=())

    # Sending

    def _timeout(self):
        return float(self.config.get("WEBHOOK_TIMEOUT") or 10)

    def _post(self, url, secret, message_id, payload):
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"pagesite/{VERSION} (webhook)",
            "webhook-id": message_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": sign(secret, message_id, timestamp, body),
        }
        with outbound.Client(timeout=self._timeout(), total_seconds=self._timeout()) as client:
            try:
                return client.post(url, content=body, headers=headers)
            except outbound.Refused as e:  # connecting and publishing alike: the URL must change
                raise InvalidChannel("settings.url", str(e)) from None

    # Connecting

    def _check_url(self):
        url = (self.channel.settings.get("url") or "").strip()
        try:
            parts = urlsplit(url)
        except ValueError:  # "http://[" and the like
            raise InvalidChannel("settings.url", "Must be an http:// or https:// URL with a host.") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidChannel("settings.url", "Must be an http:// or https:// URL with a host.")
        if parts.username or parts.password:
            raise InvalidChannel("settings.url", "Put no user name or password in the URL; the signature "
                                                 "tells the receiver the request is from you.")
        try:
            parts.port
        except ValueError:
            raise InvalidChannel("settings.url", "The port is not a number from 1 to 65535.") from None
        return url, parts.netloc

    def connect(self):
        url, host = self._check_url()
        secret = self.channel.credentials.get("secret") or generate_secret()
        try:
            secret_key(secret)
        except ValueError as e:
            raise InvalidChannel("credentials.secret", str(e)) from None
        payload = {"type": "ping", "timestamp": _iso(datetime.now(timezone.utc)),
                   "data": {"channel": {"name": self.channel.name}}}
        try:
            response = self._post(url, secret, f"ping-{uuid.uuid4().hex}", payload)
        except outbound.Overtime as e:
            raise InvalidChannel("settings.url", f"{host} was still sending its answer to the test delivery "
                                                 f"after {e.total:g} s and was cut off; a receiver answers at "
                                                 "once.") from None
        except httpx.TimeoutException:
            raise InvalidChannel("settings.url", f"{host} did not answer a test delivery within "
                                                 f"{self._timeout():g} s.") from None
        except outbound.Unusable as e:
            raise InvalidChannel("settings.url", f"{host} answered the test delivery with {e.what}; a receiver "
                                                 "answers 2xx with a short body.") from None
        except httpx.HTTPError as e:
            raise InvalidChannel("settings.url", f"Could not reach {host}: {type(e).__name__}.") from None
        if not response.is_success:
            status = f"{response.status_code} {response.reason_phrase}".strip()
            if response.status_code in (401, 403):
                raise InvalidChannel("credentials.secret", f"The receiver refused the signed test delivery "
                                                           f"({status}: {_excerpt(response, SHORT)}); check that "
                                                           "it verifies with this channel's secret.")
            raise InvalidChannel("settings.url", f"The receiver answered {status} to a test delivery "
                                                 f"({_excerpt(response, SHORT)}); it must answer 2xx.")
        max_text = int(self.config.get("MAX_TEXT_LENGTH") or 5000)
        limits = Limits(max_characters=max_text, counting="Unicode code points",
                        max_attachments=int(self.config.get("MAX_ATTACHMENTS") or 4), content_types=())
        return Connection(account=Account(handle=host, url=url), limits=limits,
                          credentials={"secret": secret}, settings={"url": url})

    # Publishing

    def _attachment(self, a):
        return {
            "id": a.id, "content_type": a.content_type, "size": a.size, "sha256": a.sha256,
            "alt_text": a.alt_text, "width": a.width, "height": a.height,
            "url": attachment_url(self.config, a.id, a.sha256),
        }

    def _card(self, page, notes):
        """The card of the page's first link, for receivers that show one; None without a link, when
        the page turns cards off, or when the linked page gives none (a note says why)."""
        url = link_cards.first_link(page.text) if page.link_card else None
        if url is None:
            return None
        try:
            return link_cards.read(url, timeout=float(self.config.get("LINK_CARD_TIMEOUT", 5)),
                                   with_picture=False).to_dict()
        except link_cards.NoCard as e:
            notes.append(f"No link card for {url}: {e}")
            return None

    def publish(self, page, idempotency_key, *, schedule_id, attempt, last_attempt_at=None):
        url = self.channel.settings["url"]
        notes = []
        payload = {
            "type": "page.publish",
            "timestamp": _iso(datetime.now(timezone.utc)),
            "data": {
                "schedule": {"id": schedule_id,
                             "scheduled_at": _iso(page.scheduled_at) if page.scheduled_at else None},
                "page": {"id": page.id, "text": page.text,
                         "attachments": [self._attachment(a) for a in page.attachments],
                         "link_card": self._card(page, notes)},
            },
        }
        host = urlsplit(url).netloc
        try:
            response = self._post(url, self.channel.credentials["secret"], idempotency_key, payload)
        except outbound.Overtime as e:
            raise TransientError(f"{host} was still sending its answer after {e.total:g} s and was cut off; the "
                                 "delivery is retried with the same webhook-id.", outcome_unknown=True) from None
        except httpx.TimeoutException:
            raise TransientError(f"{host} did not answer within {self._timeout():g} s; the delivery is "
                                 "retried with the same webhook-id.", outcome_unknown=True) from None
        except outbound.Unusable as e:
            raise TransientError(f"{host} answered with {e.what}; the delivery is retried with the same "
                                 "webhook-id.", outcome_unknown=True) from None
        except httpx.HTTPError as e:
            raise TransientError(f"Could not reach {host} ({type(e).__name__}); retrying.") from None
        status = f"{response.status_code} {response.reason_phrase}".strip()
        code = response.status_code
        if response.is_success:
            return self._result(response, idempotency_key, notes)
        if code in TRANSIENT_STATUSES or code >= 500:
            raise TransientError(f"The receiver answered {status}: {_excerpt(response)}",
                                 retry_after=seconds_to_wait(response.headers))
        if code == 410:
            raise AuthenticationError(f"The receiver answered {status}: the endpoint is gone. "
                                      f"{_excerpt(response)}")
        if 300 <= code < 400:
            target = outbound.printable(response.headers.get("Location", "somewhere else"))
            raise PermanentError(f"The receiver answered {status} (a redirect to {target}); redirects are not "
                                 "followed, so update the channel's URL.")
        raise PermanentError(f"The receiver refused the delivery: {status}: {_excerpt(response)}")

    def _result(self, response, message_id, notes=()):
        external_id, url = message_id, None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            if isinstance(answer.get("id"), (str, int)) and not isinstance(answer.get("id"), bool):
                external_id = str(answer["id"])[:255]
            if isinstance(answer.get("url"), str) and answer["url"].startswith(("http://", "https://")):
                url = answer["url"][:2048]
        return PublishResult(external_id=external_id, url=url, notes=tuple(notes))
