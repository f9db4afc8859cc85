"""A Telegram-Bot-API-shaped server, written from Telegram's documentation
(https://core.telegram.org/bots/api): there is no Telegram server to run.

What it does as the Bot API is documented to:

* ``/bot<token>/<method>``; every answer is ``{"ok": true, "result": ...}`` or
  ``{"ok": false, "error_code", "description", "parameters"?}``; an unknown
  token is 401 ``Unauthorized``;
* ``getMe``, ``getChat`` (400 ``Bad Request: chat not found``),
  ``getChatMember`` (``administrator`` with ``can_post_messages`` in a channel);
* ``sendMessage`` with ``parse_mode: HTML``: the entities are parsed (an
  unknown tag is 400 ``can't parse entities``), then the text is counted in
  UTF-16 units, at most 4,096 (``message is too long``);
* ``sendPhoto`` / ``sendVideo`` (multipart) and ``sendMediaGroup`` (2 to 10
  items, each ``attach://<name>``; a caption counted the same way, at most
  1,024: ``message caption is too long``);
* 429 ``Too Many Requests: retry after N`` with ``parameters.retry_after``;
  403 ``Forbidden: bot was kicked from the channel chat``.

Messages posted are kept in ``messages`` to read back.
"""

import itertools
import json
import re
from html.parser import HTMLParser

from werkzeug.wrappers import Response

from networks.shaped import ShapedServer

TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra"
BOT_ID = 123456789
CHANNEL = {"id": -1001234567890, "type": "channel", "title": "pagesite news", "username": "pagesite_news"}
SUPPORTED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
                  "tg-spoiler", "blockquote", "tg-emoji"}


def utf16_length(text):
    return len(text.encode("utf-16-le")) // 2


class _Entities(HTMLParser):
    """The text a message shows once its HTML entities are parsed; ValueError on an unsupported tag."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if tag not in SUPPORTED_TAGS:
            raise ValueError(f'Unsupported start tag "{tag}"')

    def handle_data(self, data):
        self.parts.append(data)


def shown_text(text, parse_mode):
    if parse_mode != "HTML":
        return text
    if re.search(r"&(?!(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);)", text):
        raise ValueError("Character '&' is reserved and must be escaped")
    parser = _Entities()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)  # character references already converted


class TelegramShaped(ShapedServer):
    def __init__(self):
        super().__init__()
        self.token = TOKEN
        self.chats = {"@pagesite_news": dict(CHANNEL),
                      "@reading_room": {"id": -1009876543210, "type": "channel", "title": "Reading room",
                                        "username": "reading_room"}}
        self.members = {CHANNEL["id"]: {"status": "administrator", "can_post_messages": True},
                        -1009876543210: {"status": "member"}}
        self.ids = itertools.count(101)
        self.messages = []  # {"chat_id", "message_id", "kind", "text", "media": [...]}
        self.rate_limited = 0  # the next N sends answer 429
        self.retry_after = 3
        self.kicked = False  # the bot was removed from the channel

    # -- answers, as the Bot API gives them -----------------------------------------------------------

    @staticmethod
    def ok(result):
        return Response(json.dumps({"ok": True, "result": result}), content_type="application/json")

    @staticmethod
    def error(code, description, **parameters):
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return Response(json.dumps(body), status=code, content_type="application/json")

    def serve(self, request):
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", request.path)
        if not match:
            return self.error(404, "Not Found")
        token, method = match.groups()
        if token != self.token:
            return self.error(401, "Unauthorized")
        if request.is_json:
            params = request.get_json()
        else:
            params = request.form.to_dict()
        handler = getattr(self, f"m_{method}", None)
        if handler is None:
            return self.error(404, "Not Found")
        if method.startswith("send"):
            if self.rate_limited:
                with self.lock:
                    self.rate_limited -= 1
                return self.error(429, f"Too Many Requests: retry after {self.retry_after}",
                                  retry_after=self.retry_after)
            if self.kicked:
                return self.error(403, "Forbidden: bot was kicked from the channel chat")
        return handler(params, request.files)

    def _chat(self, chat_id):
        """A chat by @username or by its numeric id."""
        return self.chats.get(str(chat_id)) or next(
            (c for c in self.chats.values() if str(c["id"]) == str(chat_id)), None)

    # -- methods ----------------------------------------------------------------------------------------

    def m_getMe(self, params, files):
        return self.ok({"id": BOT_ID, "is_bot": True, "first_name": "pagesite", "username": "pagesite_test_bot",
                        "can_join_groups": True})

    def m_getChat(self, params, files):
        chat = self._chat(params.get("chat_id"))
        return self.ok(chat) if chat else self.error(400, "Bad Request: chat not found")

    def m_getChatMember(self, params, files):
        chat = self._chat(params.get("chat_id"))
        if not chat:
            return self.error(400, "Bad Request: chat not found")
        member = self.members.get(chat["id"], {"status": "left"})
        return self.ok({"user": {"id": int(params.get("user_id", 0)), "is_bot": True}, **member})

    def _post(self, chat, kind, text, media=()):
        with self.lock:
            message = {"chat_id": chat["id"], "message_id": next(self.ids), "kind": kind, "text": text,
                       "media": list(media)}
            self.messages.append(message)
        return {"message_id": message["message_id"], "chat": chat, "date": 1_700_000_000,
                **({"text": text} if kind == "text" else {"caption": text})}

    def _shown(self, text, parse_mode, limit, what):
        try:
            shown = shown_text(text or "", parse_mode)
        except ValueError as e:
            return None, self.error(400, f"Bad Request: can't parse entities: {e}")
        if utf16_length(shown) > limit:
            return None, self.error(400, f"Bad Request: message {what} too long")
        return shown, None

    def m_sendMessage(self, params, files):
        chat = self._chat(params.get("chat_id"))
        if not chat:
            return self.error(400, "Bad Request: chat not found")
        text, refused = self._shown(params.get("text"), params.get("parse_mode"), 4096, "is")
        if refused:
            return refused
        if not text.strip():
            return self.error(400, "Bad Request: message text is empty")
        return self.ok(self._post(chat, "text", text))

    def _send_one(self, params, files, kind):
        chat = self._chat(params.get("chat_id"))
        if not chat:
            return self.error(400, "Bad Request: chat not found")
        upload = files.get(kind)
        if upload is None:
            return self.error(400, f"Bad Request: there is no {kind} in the request")
        caption, refused = self._shown(params.get("caption"), params.get("parse_mode"), 1024, "caption is")
        if refused:
            return refused
        return self.ok(self._post(chat, kind, caption, [{"type": kind, "bytes": len(upload.read()),
                                                         "filename": upload.filename}]))

    def m_sendPhoto(self, params, files):
        return self._send_one(params, files, "photo")

    def m_sendVideo(self, params, files):
        return self._send_one(params, files, "video")

    def m_sendMediaGroup(self, params, files):
        chat = self._chat(params.get("chat_id"))
        if not chat:
            return self.error(400, "Bad Request: chat not found")
        try:
            media = json.loads(params.get("media") or "")
        except ValueError:
            return self.error(400, "Bad Request: can't parse media JSON object")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            return self.error(400, "Bad Request: media must include 2-10 items")
        kept, caption = [], ""
        for item in media:
            name = str(item.get("media", "")).removeprefix("attach://")
            if item.get("type") not in ("photo", "video") or name not in files:
                return self.error(400, "Bad Request: wrong file identifier/HTTP URL specified")
            if item.get("caption"):
                shown, refused = self._shown(item["caption"], item.get("parse_mode"), 1024, "caption is")
                if refused:
                    return refused
                caption = caption or shown
            kept.append({"type": item["type"], "bytes": len(files[name].read()), "filename": files[name].filename})
        first = self._post(chat, "album", caption, kept)
        return self.ok([first] + [{"message_id": next(self.ids), "chat": chat} for _ in kept[1:]])
