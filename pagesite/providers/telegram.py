"""Telegram channels and groups, through a bot and the Bot API.

A channel here is a bot (its token, from @BotFather), the chat it posts to
(``@channelname`` or a numeric id) and the Bot API server (Telegram's own, or
a self-hosted one). Text goes out with ``sendMessage`` (HTML parse mode,
escaped, so what the person typed is what is shown), one attachment with
``sendPhoto`` or ``sendVideo``, several with ``sendMediaGroup`` (the text as
the first one's caption).

Telegram offers no idempotency: a message sent twice is posted twice. So a
call whose outcome is unknown (no answer, a 5xx after sending) is never sent
again by itself (``idempotent = False``): the schedule says it may have been
published and the person decides. A 429 is a refusal before anything was
posted: it is retried after Telegram's ``retry_after``.

The token is part of every request's address (the Bot API's design): it is
never put in a message, and request lines are not logged (see create_app).
"""

import html
import json
import re

import httpx

from .. import outbound
from . import register
from .base import (
    Account, AuthenticationError, Connection, InvalidChannel, Limits, PermanentError, Provider, PublishResult,
    TransientError, UnusableAnswer,
)

DEFAULT_API = "https://api.telegram.org"
TOKEN = re.compile(r"^[0-9]{3,20}:[A-Za-z0-9_-]{30,80}$")
CHAT = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-?[0-9]{1,20})$")
MAX_TEXT = 4096  # characters of a message, as Telegram counts them (UTF-16 units)
MAX_CAPTION = 1024  # ... of a photo's, a video's or an album's caption
MAX_ALBUM = 10  # sendMediaGroup takes 2 to 10
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
VIDEO_TYPES = ("video/mp4",)
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # the Bot API's limits for uploads
MAX_VIDEO_BYTES = 50 * 1024 * 1024
SETTINGS_FIELD = "settings.api_url"
# 400s that mean the bot can no longer post to the chat: the channel needs reconnecting, not the page changing.
LOST_CHAT = ("chat not found", "rights", "not a member", "kicked", "upgraded to a supergroup", "chat_write_forbidden")


def telegram_length(text):
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _flag(value):
    return str(value or "").strip().lower() in ("yes", "true", "1", "on")


@register
class TelegramProvider(Provider):
    name = "telegram"
    label = "Telegram"
    description = ("Posts to a Telegram channel or group through a bot of yours: create one with @BotFather, "
                   "add it to the channel as an administrator allowed to post, and paste its token here.")
    idempotent = False
    settings_schema = {
        "type": "object",
        "required": ["chat"],
        "properties": {
            "chat": {"type": "string", "title": "Channel or group", "maxLength": 40,
                     "description": "@channelname, or the chat's numeric id (like -1001234567890) for a "
                                    "private one."},
            "descriptions_in_caption": {"type": "string", "enum": ["no", "yes"], "default": "no",
                                        "title": "Image descriptions in the caption",
                                        "description": "Telegram has no alt text: yes adds each image's "
                                                       "description to the caption, where everyone sees it."},
            "api_url": {"type": "string", "format": "uri", "title": "Bot API server", "maxLength": 2048,
                        "default": DEFAULT_API,
                        "description": f"{DEFAULT_API}, or the address of a Bot API server you run."},
        },
    }
    credentials_schema = {
        "type": "object",
        "required": ["bot_token"],
        "properties": {
            "bot_token": {"type": "string", "title": "Bot token", "secret": True, "maxLength": 120,
                          "description": "What @BotFather gave you: 123456789:AA…"},
        },
    }

    @classmethod
    def default_limits(cls):
        return Limits(max_characters=MAX_TEXT, counting="UTF-16 units, as Telegram counts (some emoji count 2); "
                                                        f"{MAX_CAPTION} with attachments",
                      max_attachments=MAX_ALBUM, content_types=PHOTO_TYPES + VIDEO_TYPES,
                      max_image_bytes=MAX_PHOTO_BYTES, max_video_bytes=MAX_VIDEO_BYTES)

    def count_characters(self, text):
        return telegram_length(text)

    # -- talking to the Bot API -----------------------------------------------------------------------

    @property
    def api_url(self):
        url = (self.channel.settings.get("api_url") or DEFAULT_API).strip().rstrip("/")
        parts = outbound.split(url)
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise InvalidChannel(SETTINGS_FIELD, f"Give the Bot API server's address, like {DEFAULT_API}.")
        return url

    def _timeout(self):
        return float(self.config.get("PUBLISH_TIMEOUT") or 30)

    def _call(self, method, sending=False, **kwargs):
        """The ``result`` of one Bot API method, or the error it means.

        ``sending``: the call may post, so an answer that never came (or a 5xx) leaves the
        outcome unknown."""
        token = self.channel.credentials.get("bot_token") or ""
        server = self.api_url
        try:
            with outbound.Client(timeout=self._timeout(), total_seconds=self._timeout()) as client:
                response = client.post(f"{server}/bot{token}/{method}", **kwargs)
        except outbound.Refused as e:
            raise InvalidChannel(SETTINGS_FIELD, str(e)) from None
        except outbound.Overtime as e:
            raise TransientError(f"Telegram was still sending its answer after {e.total:g} s and was cut off.",
                                 outcome_unknown=sending) from None
        except outbound.Unusable as e:
            raise UnusableAnswer(SETTINGS_FIELD, f"{server} answered with {e.what}, not the Bot API.",
                                 outcome_unknown=sending) from None
        except httpx.TimeoutException:
            raise TransientError(f"Telegram did not answer within {self._timeout():g} s.",
                                 outcome_unknown=sending) from None
        except httpx.ConnectError:
            raise TransientError(f"Could not reach {server}; nothing was sent.") from None
        except httpx.HTTPError as e:
            raise TransientError(f"Telegram did not answer ({type(e).__name__}).", outcome_unknown=sending) from None
        return self._result(response, sending)

    def _result(self, response, sending):
        answer = outbound.json_or_none(response)
        if answer is None or not isinstance(answer.get("ok"), bool):
            if response.status_code >= 500:
                raise TransientError(f"Telegram answered {response.status_code} {response.reason_phrase}.",
                                     outcome_unknown=sending)
            raise UnusableAnswer(SETTINGS_FIELD, f"{outbound.origin(response.request.url)} answered with "
                                 f"{outbound.described(response)}, not the Bot API.", outcome_unknown=sending)
        if answer["ok"]:
            return answer.get("result")
        code = answer.get("error_code") if isinstance(answer.get("error_code"), int) else response.status_code
        said = outbound.printable(answer.get("description") or response.reason_phrase)
        parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
        if code == 429:
            wait = parameters.get("retry_after")
            wait = float(wait) if isinstance(wait, (int, float)) and not isinstance(wait, bool) else None
            raise TransientError(f"Telegram asks to wait ({said}); nothing was sent, so it is sent later.",
                                 retry_after=wait)
        if code == 401 or code == 404:  # the Bot API answers 404 for an unknown token
            raise AuthenticationError(f"Telegram refused the bot token ({said}): the bot was deleted or its token "
                                      "revoked. Get the token from @BotFather again.")
        if code == 403 or (code == 400 and any(words in said.lower() for words in LOST_CHAT)) \
                or "migrate_to_chat_id" in parameters:
            raise AuthenticationError(f"Telegram: {said}. The bot must be in the chat and allowed to post there "
                                      "(a channel's administrator with “Post messages”).")
        if code >= 500:
            raise TransientError(f"Telegram answered {code} ({said}).", outcome_unknown=sending)
        raise PermanentError(f"Telegram refused the post: {said}")

    # -- connecting ------------------------------------------------------------------------------------

    def connect(self):
        token = (self.channel.credentials.get("bot_token") or "").strip()
        if not TOKEN.match(token):
            raise InvalidChannel("credentials.bot_token", "That is not a bot token: @BotFather gives one like "
                                                          "123456789:AAE… (digits, a colon, then letters).")
        self.channel.credentials = {**self.channel.credentials, "bot_token": token}
        chat = (self.channel.settings.get("chat") or "").strip()
        if chat and not chat.startswith("@") and not chat.lstrip("-").isdigit():
            chat = "@" + chat.removeprefix("https://t.me/").removeprefix("t.me/")
        if not CHAT.match(chat):
            raise InvalidChannel("settings.chat", "Give the channel as @channelname (5 to 32 letters, digits or _), "
                                                  "or its numeric id.")
        captions = self.channel.settings.get("descriptions_in_caption") or "no"
        if captions not in ("yes", "no"):
            raise InvalidChannel("settings.descriptions_in_caption", "Choose yes or no.")
        try:
            bot = self._checked(self._call("getMe"), "getMe", id=int, is_bot=bool)
            found = self._checked(self._call("getChat", json={"chat_id": chat}), "getChat", id=int, type=str)
            member = self._checked(self._call("getChatMember", json={"chat_id": found["id"], "user_id": bot["id"]}),
                                   "getChatMember", status=str)
        except AuthenticationError as e:
            if "bot token" in str(e):
                raise InvalidChannel("credentials.bot_token", "Telegram does not know this bot token; copy it "
                                                              "from @BotFather again.") from None
            raise InvalidChannel("settings.chat", f"The bot cannot see {chat}: add it to the channel or group "
                                                  "first (for a channel, as an administrator).") from None
        except PermanentError as e:
            raise InvalidChannel("settings.chat", str(e)) from None
        self._check_may_post(found, member, chat)
        username = outbound.text_or_none(found.get("username"))
        title = outbound.text_or_none(found.get("title")) or username or chat
        settings = {"chat": chat, "api_url": self.api_url, "descriptions_in_caption": captions,
                    "chat_id": found["id"], "chat_username": username}
        account = Account(handle=f"@{username}" if username else title, display_name=title,
                          url=f"https://t.me/{username}" if username else None)
        return Connection(account=account, limits=self.default_limits(), credentials=self.channel.credentials,
                          settings=settings)

    def _checked(self, result, method, **kinds):
        try:
            return outbound.fields(result, **kinds)
        except outbound.Unusable as e:
            raise UnusableAnswer(SETTINGS_FIELD, f"{self.api_url} answered {method} with {e.what}, not the "
                                                 "Bot API.") from None

    @staticmethod
    def _check_may_post(chat, member, name):
        status = member["status"]
        if chat["type"] == "channel":
            if status == "creator" or (status == "administrator" and member.get("can_post_messages")):
                return
            raise InvalidChannel("settings.chat", f"The bot may not post in {name}: make it an administrator of "
                                                  "the channel with “Post messages”, then connect again.")
        if status in ("creator", "administrator", "member") or (status == "restricted"
                                                               and member.get("can_send_messages")):
            return
        raise InvalidChannel("settings.chat", f"The bot is not allowed to write in {name} ({status}); add it to "
                                              "the group with permission to send messages.")

    # -- publishing ------------------------------------------------------------------------------------

    def _caption(self, page):
        """The text, and the images' descriptions when the channel keeps them in the caption."""
        text = page.text
        if page.attachments and _flag(self.channel.settings.get("descriptions_in_caption")):
            described = [f"{n}. {a.alt_text}" for n, a in enumerate(page.attachments, 1) if a.alt_text.strip()]
            if described:
                text = f"{text}\n\n" + "\n".join(described) if text.strip() else "\n".join(described)
        return text

    def check(self, page, limits):
        problems = super().check(page, limits)
        if page.attachments:
            length = telegram_length(self._caption(page))
            if length > MAX_CAPTION:
                kept = " with the image descriptions" if self._caption(page) != page.text else ""
                problems.append(f"with attachments, Telegram shows the text as a caption of at most {MAX_CAPTION} "
                                f"characters; this one is {length}{kept}.")
        return problems

    def publish(self, page, idempotency_key, *, schedule_id, attempt, last_attempt_at=None):
        chat = self.channel.settings.get("chat_id") or self.channel.settings.get("chat")
        caption = html.escape(self._caption(page), quote=False)
        if not page.attachments:
            message = self._call("sendMessage", sending=True, json={
                "chat_id": chat, "text": caption, "parse_mode": "HTML"})
        elif len(page.attachments) == 1:
            [a] = page.attachments
            kind = "photo" if a.content_type in PHOTO_TYPES else "video"
            method = "sendPhoto" if kind == "photo" else "sendVideo"
            message = self._call(method, sending=True,
                                 data={"chat_id": str(chat), "caption": caption, "parse_mode": "HTML"},
                                 files={kind: (a.filename, a.read(), a.content_type)})
        else:
            media, files = [], {}
            for n, a in enumerate(page.attachments):
                item = {"type": "photo" if a.content_type in PHOTO_TYPES else "video", "media": f"attach://file{n}"}
                if n == 0 and caption:
                    item.update(caption=caption, parse_mode="HTML")
                media.append(item)
                files[f"file{n}"] = (a.filename, a.read(), a.content_type)
            messages = self._call("sendMediaGroup", sending=True,
                                  data={"chat_id": str(chat), "media": json.dumps(media)}, files=files)
            message = messages[0] if isinstance(messages, list) and messages else messages
        return self._published(message)

    def _published(self, message):
        if not isinstance(message, dict) or not isinstance(message.get("message_id"), int):
            # Telegram said ok: the message is there, whatever else the answer lacks.
            return PublishResult(external_id="unknown", notes=("Telegram confirmed the post but gave no message id.",))
        message_id = message["message_id"]
        username = self.channel.settings.get("chat_username")
        chat_id = str(self.channel.settings.get("chat_id") or "")
        if username:
            url = f"https://t.me/{username}/{message_id}"
        elif chat_id.startswith("-100"):  # a private channel or supergroup: a link for its members
            url = f"https://t.me/c/{chat_id[4:]}/{message_id}"
        else:
            url = None
        return PublishResult(external_id=f"{chat_id or self.channel.settings.get('chat')}:{message_id}", url=url)
