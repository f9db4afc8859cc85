"""Discord channels, through a channel's webhook.

A channel here is a webhook URL (Server Settings → Integrations → Webhooks →
Copy Webhook URL). It holds the webhook's token, so it is kept as a secret.
Connecting reads the webhook (``GET``); publishing is ``POST ...?wait=true``,
so Discord answers with the message it made: ``content`` (2,000 characters),
attachments as multipart with their ``description`` (Discord's alt text).
Mentions in the text are shown but never ping anyone (``allowed_mentions``).

Discord's webhooks have no idempotency: a call whose outcome is unknown is
never sent again by itself (``idempotent = False``; see Provider). A 429 is a
refusal before anything was posted, retried after Discord's ``retry_after``.
"""

import json
import re
from urllib.parse import urlsplit

import httpx

from .. import outbound
from . import register
from .base import (
    Account, AuthenticationError, Connection, InvalidChannel, Limits, PermanentError, Provider, PublishResult,
    TransientError, UnusableAnswer,
)
from .waits import seconds_to_wait

FIELD = "credentials.webhook_url"
WEBHOOK_PATH = re.compile(r"^/api(/v[0-9]+)?/webhooks/([0-9]{5,25})/([A-Za-z0-9_.-]{20,100})/?$")
MAX_CONTENT = 2000
MAX_FILES = 10
MAX_FILE_BYTES = 10 * 1024 * 1024  # a server without boosts takes uploads of up to 10 MiB
MAX_DESCRIPTION = 1024
TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4")


@register
class DiscordProvider(Provider):
    name = "discord"
    label = "Discord"
    description = ("Posts to a Discord channel through its webhook: in the channel's settings, Integrations → "
                   "Webhooks → New Webhook, then Copy Webhook URL.")
    idempotent = False
    settings_schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "title": "Posting name", "maxLength": 80,
                         "description": "The name posts appear under; empty keeps the webhook's own."},
        },
    }
    credentials_schema = {
        "type": "object",
        "required": ["webhook_url"],
        "properties": {
            "webhook_url": {"type": "string", "title": "Webhook URL", "secret": True, "maxLength": 300,
                            "description": "https://discord.com/api/webhooks/… (it holds the webhook's token, "
                                           "so it is kept like a password)"},
        },
    }

    @classmethod
    def default_limits(cls):
        return Limits(max_characters=MAX_CONTENT, counting="Unicode characters", max_attachments=MAX_FILES,
                      content_types=TYPES, max_image_bytes=MAX_FILE_BYTES, max_video_bytes=MAX_FILE_BYTES,
                      max_description=MAX_DESCRIPTION)

    def _timeout(self):
        return float(self.config.get("PUBLISH_TIMEOUT") or 30)

    def _webhook_url(self):
        url = (self.channel.credentials.get("webhook_url") or "").strip()
        parts = outbound.split(url)
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc \
                or not WEBHOOK_PATH.match(parts.path) \
                or parts.username or parts.password:
            raise InvalidChannel(FIELD, "That is not a webhook URL: Discord's look like "
                                        "https://discord.com/api/webhooks/123…/abc….")
        return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"

    def _send(self, method, url, sending=False, **kwargs):
        host = urlsplit(url).netloc
        try:
            with outbound.Client(timeout=self._timeout(), total_seconds=self._timeout()) as client:
                return client.request(method, url, **kwargs)
        except outbound.Refused as e:
            raise InvalidChannel(FIELD, str(e)) from None
        except outbound.Overtime as e:
            raise TransientError(f"{host} was still sending its answer after {e.total:g} s and was cut off.",
                                 outcome_unknown=sending) from None
        except outbound.Unusable as e:
            raise UnusableAnswer(FIELD, f"{host} answered with {e.what}.", outcome_unknown=sending) from None
        except httpx.TimeoutException:
            raise TransientError(f"{host} did not answer within {self._timeout():g} s.",
                                 outcome_unknown=sending) from None
        except httpx.ConnectError:
            raise TransientError(f"Could not reach {host}; nothing was sent.") from None
        except httpx.HTTPError as e:
            raise TransientError(f"{host} did not answer ({type(e).__name__}).", outcome_unknown=sending) from None

    def _refusal(self, response, sending):
        """The error a non-2xx answer means."""
        answer = outbound.json_or_none(response) or {}
        said = outbound.printable(answer.get("message") or response.reason_phrase)
        detail = _first_error(answer.get("errors"))
        said = f"{said} ({outbound.printable(detail, 200)})" if detail else said
        code = response.status_code
        if code == 429:
            wait = answer.get("retry_after")
            wait = float(wait) if isinstance(wait, (int, float)) and not isinstance(wait, bool) else None
            if wait is None:
                wait = seconds_to_wait(response.headers)
            return TransientError(f"Discord asks to wait ({said}); nothing was sent, so it is sent later.",
                                  retry_after=wait)
        if code in (401, 403, 404):
            return AuthenticationError(f"Discord refused the webhook ({said}): it was deleted or its channel is "
                                       "gone. Make a new webhook and paste its URL.")
        if code >= 500:
            return TransientError(f"Discord answered {code} ({said}).", outcome_unknown=sending)
        if code == 413:
            return PermanentError("Discord refused the post: the attachments are larger than this server takes.")
        return PermanentError(f"Discord refused the post: {said}")

    def connect(self):
        url = self._webhook_url()
        username = (self.channel.settings.get("username") or "").strip()
        if username and (len(username) > 80 or any(word in username.lower() for word in ("discord", "clyde"))):
            raise InvalidChannel("settings.username", "Discord does not allow names with “discord” or “clyde”, "
                                                      "nor longer than 80 characters.")
        response = self._send("GET", url)
        if not response.is_success:
            error = self._refusal(response, sending=False)
            if isinstance(error, AuthenticationError):
                raise InvalidChannel(FIELD, "Discord does not know this webhook (deleted, or the URL is cut "
                                            "short): copy its URL again.")
            raise error
        try:
            webhook = outbound.fields(outbound.json_of(response), id=str, channel_id=str)
        except outbound.Unusable as e:
            raise UnusableAnswer(FIELD, f"{urlsplit(url).netloc} answered with {e.what}, not a Discord "
                                        "webhook.") from None
        name = outbound.text_or_none(webhook.get("name")) or "Discord webhook"
        settings = {"username": username, "channel_id": webhook["channel_id"],
                    "guild_id": outbound.text_or_none(webhook.get("guild_id"))}
        return Connection(account=Account(handle=name, display_name=username or name), limits=self.default_limits(),
                          credentials={"webhook_url": url}, settings=settings)

    def publish(self, page, idempotency_key, *, schedule_id, attempt, last_attempt_at=None):
        url = self._webhook_url()
        payload = {"content": page.text, "allowed_mentions": {"parse": []}}
        if self.channel.settings.get("username"):
            payload["username"] = self.channel.settings["username"]
        if page.attachments:
            payload["attachments"] = [{"id": n, "filename": a.filename, "description": a.alt_text or None}
                                      for n, a in enumerate(page.attachments)]
            files = {f"files[{n}]": (a.filename, a.read(), a.content_type) for n, a in enumerate(page.attachments)}
            response = self._send("POST", url, sending=True, params={"wait": "true"},
                                  data={"payload_json": json.dumps(payload)}, files=files)
        else:
            response = self._send("POST", url, sending=True, params={"wait": "true"}, json=payload)
        if not response.is_success:
            raise self._refusal(response, sending=True)
        message = outbound.json_or_none(response) or {}
        message_id = message.get("id") if isinstance(message.get("id"), str) else None
        if message_id is None:  # posted (2xx), but the answer does not say as what
            return PublishResult(external_id="unknown", notes=("Discord confirmed the post but gave no message id.",))
        guild, channel = self.channel.settings.get("guild_id"), message.get("channel_id")
        link = f"https://discord.com/channels/{guild}/{channel}/{message_id}" if guild and isinstance(channel, str) \
            else None
        return PublishResult(external_id=message_id, url=link)


def _first_error(errors, path=""):
    """The first message in Discord's nested ``errors`` of a 400, with where it is: "content: Must be 2000
    or fewer in length." """
    if not isinstance(errors, dict):
        return None
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list) and value and isinstance(value[0], dict):
            message = value[0].get("message")
            return f"{path}: {message}" if path and isinstance(message, str) else message
        found = _first_error(value, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None
