"""A Discord-webhook-shaped server, written from Discord's documentation
(Webhook resource, "Execute Webhook"; Rate Limits; Uploading Files): there is
no Discord server to run.

What it does as Discord documents:

* ``GET /api/webhooks/{id}/{token}`` answers the webhook object (no user);
  a wrong token is 401 ``Invalid Webhook Token`` (code 50027), an unknown id
  404 ``Unknown Webhook`` (code 10015);
* ``POST /api/webhooks/{id}/{token}?wait=true`` takes JSON, or multipart
  with ``payload_json`` and ``files[n]``, whose ``attachments`` give each
  file's ``description``; ``content`` at most 2,000 characters, at most 10
  files; errors as ``{"code", "message", "errors": {...}}`` (50035
  ``Invalid Form Body``; 50006 ``Cannot send an empty message``); with
  ``wait=true`` the answer is the message made;
* 429 with ``retry_after`` (seconds, a float), ``Retry-After`` and the
  ``X-RateLimit-*`` headers.

Messages posted are kept in ``messages`` to read back.
"""

import itertools
import json
import re

from werkzeug.wrappers import Response

from networks.shaped import ShapedServer

WEBHOOK_ID = "1187654321098765432"
WEBHOOK_TOKEN = "xT3kWq9vZp4LmN8rS2uY6aB1cD5eF7gH0jK3lM6nP9qR2sT5vW8"
CHANNEL_ID = "1133557799002244668"
GUILD_ID = "1122334455667788990"


class DiscordShaped(ShapedServer):
    def __init__(self):
        super().__init__()
        self.token = WEBHOOK_TOKEN
        self.deleted = False
        self.ids = itertools.count(1200000000000000001)
        self.messages = []  # {"id", "content", "username", "allowed_mentions", "attachments": [...]}
        self.rate_limited = 0
        self.retry_after = 2.5

    @property
    def webhook_url(self):
        return f"{self.url}/api/webhooks/{WEBHOOK_ID}/{self.token}"

    @staticmethod
    def answer(body, status=200, headers=None):
        return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)

    def invalid(self, field, message, code="BASE_TYPE_MAX_LENGTH"):
        return self.answer({"code": 50035, "message": "Invalid Form Body",
                            "errors": {field: {"_errors": [{"code": code, "message": message}]}}}, 400)

    def serve(self, request):
        match = re.fullmatch(r"/api(?:/v\d+)?/webhooks/(\d+)/([^/]+)", request.path)
        if not match:
            return self.answer({"message": "404: Not Found", "code": 0}, 404)
        webhook_id, token = match.groups()
        if webhook_id != WEBHOOK_ID or self.deleted:
            return self.answer({"message": "Unknown Webhook", "code": 10015}, 404)
        if token != self.token:
            return self.answer({"message": "Invalid Webhook Token", "code": 50027}, 401)
        if request.method == "GET":
            return self.answer({"type": 1, "id": WEBHOOK_ID, "name": "pagesite", "avatar": None,
                                "channel_id": CHANNEL_ID, "guild_id": GUILD_ID, "application_id": None,
                                "token": self.token})
        if request.method != "POST":
            return self.answer({"message": "405: Method Not Allowed", "code": 0}, 405)
        if self.rate_limited:
            with self.lock:
                self.rate_limited -= 1
            return self.answer({"message": "You are being rate limited.", "retry_after": self.retry_after,
                                "global": False}, 429,
                               headers={"Retry-After": str(int(self.retry_after) + 1), "X-RateLimit-Limit": "5",
                                        "X-RateLimit-Remaining": "0",
                                        "X-RateLimit-Reset-After": str(self.retry_after),
                                        "X-RateLimit-Bucket": "abcd1234"})
        return self.execute(request)

    def execute(self, request):
        if request.is_json:
            payload, files = request.get_json(), {}
        else:
            try:
                payload = json.loads(request.form.get("payload_json") or "{}")
            except ValueError:
                return self.invalid("payload_json", "Must be valid JSON.", "JSON_INVALID")
            files = {name: upload for name, upload in request.files.items()}
        content = payload.get("content") or ""
        if len(content) > 2000:
            return self.invalid("content", "Must be 2000 or fewer in length.")
        if len(files) > 10:
            return self.invalid("attachments", "Must be 10 or fewer in length.")
        if not content.strip() and not files:
            return self.answer({"message": "Cannot send an empty message", "code": 50006}, 400)
        described = {str(a.get("id")): a for a in payload.get("attachments") or []}
        attachments = []
        for n, (name, upload) in enumerate(sorted(files.items())):
            index = re.fullmatch(r"files\[(\d+)\]", name)
            meta = described.get(index.group(1) if index else "", {})
            data = upload.read()
            attachments.append({"id": str(next(self.ids)), "filename": upload.filename, "size": len(data),
                                "content_type": upload.mimetype, "description": meta.get("description")})
        with self.lock:
            message = {"id": str(next(self.ids)), "type": 0, "channel_id": CHANNEL_ID, "content": content,
                       "username": payload.get("username"), "allowed_mentions": payload.get("allowed_mentions"),
                       "attachments": attachments, "webhook_id": WEBHOOK_ID}
            self.messages.append(message)
        if request.args.get("wait") != "true":
            return Response(status=204)
        return self.answer(message)
