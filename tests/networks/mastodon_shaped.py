"""A small Mastodon-shaped HTTP server for what mastodon-mock does not do like
Mastodon, written from Mastodon's documentation and its StatusLengthValidator:

* media is processed asynchronously: ``POST /api/v2/media`` answers 202 with
  ``url: null``, ``GET /api/v1/media/:id`` answers 206 until it is ready, then
  200; a status with unprocessed media is refused with 422;
* text is counted in grapheme clusters, every http(s) link as
  ``characters_reserved_per_url`` and ``@user@domain`` as ``@user``;
* media types and sizes are checked against what ``/api/v2/instance`` says;
* ``Idempotency-Key`` is remembered per account for one hour (of this
  server's clock, which tests can move forward);
* a 429 carries ``X-RateLimit-Reset`` as an ISO 8601 time, as Mastodon sends it.

With ``software`` it answers as a server that speaks Mastodon's API the way
that server's documentation says, where pagesite depends on it: NodeInfo 2.0
naming it; Akkoma (and Pleroma) without ``/api/v2/instance``, their limits in
v1's ``max_toot_chars`` and ``upload_limit``, links counted in full;
Friendica without ``/api/v2/media`` (``/api/v1/media`` answers at once);
Pixelfed refusing a status without media; and only Mastodon and Akkoma
keeping ``Idempotency-Key``.

It runs in a thread of the test process on a free loopback port, and is a real
HTTP server: the provider talks to it over sockets like to any instance.
"""

import itertools
import json
import re
from datetime import datetime, timedelta, timezone

import regex
from werkzeug.wrappers import Response

from networks.shaped import ShapedServer

TOKEN = "shaped-token"
# twitter-text, which Mastodon uses, leaves sentence punctuation after a link out of it.
URL = re.compile(r"https?://[^\s<>\"]+?(?=[.,;:!?]*(?:\s|$))")
MENTION = regex.compile(r"(?<=^|[^\w/@])@(\w+(?:[\w.-]*\w)?)@[\w.-]+\w")


def mastodon_length(text, per_url):
    """Length as StatusLengthValidator counts it (URL placeholder, local part of remote mentions, graphemes);
    with ``per_url`` None, links count in full (Pleroma's way)."""
    text = text.rstrip()
    if per_url is not None:
        text = URL.sub(lambda m: "x" * per_url, text)
    text = MENTION.sub(lambda m: "@" + m.group(1), text)
    return len(regex.findall(r"\X", text))


class MastodonShaped(ShapedServer):
    def __init__(self, polls_before_ready=2, max_characters=500, per_url=23, software=None):
        super().__init__()
        self.software = software  # "gotosocial 0.17.3", "akkoma 3.13.2", ...; None: Mastodon without NodeInfo
        self.nodeinfo = True  # False: the server says what it is only in its instance's version
        self.polls_before_ready = polls_before_ready
        self.config = {
            "statuses": {"max_characters": max_characters, "max_media_attachments": 4,
                         "characters_reserved_per_url": per_url},
            "media_attachments": {"supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp",
                                                           "video/mp4"],
                                  "image_size_limit": 16 * 1024 * 1024, "image_matrix_limit": 33177600,
                                  "video_size_limit": 99 * 1024 * 1024, "description_limit": 1500},
        }
        self.clock_offset = timedelta()
        self.ids = itertools.count(110_000_000_000_000_000)
        self.media = {}  # id -> {"polls_left", "description", "type", "size"}
        self.statuses = []
        self.idempotency = {}  # key -> (status, stored_at)
        self.rate_limited = 0  # next N requests answer 429
        self.failing = None  # an HTTP status every request answers with (an instance having a bad day)
        self.token = TOKEN  # the access token it accepts; tests change it to revoke the old one

    def now(self):
        return datetime.now(timezone.utc) + self.clock_offset

    # -- the API ----------------------------------------------------------------------------------

    def serve(self, request):
        with self.lock:  # one request at a time: the state above is shared
            return self.route(request)

    @property
    def name(self):
        return (self.software or "mastodon").split()[0]

    def route(self, request):
        path, method = request.path, request.method
        if self.failing:
            return self.json({"error": "Something went wrong"}, self.failing)
        if path == "/.well-known/nodeinfo" and self.software and self.nodeinfo:
            return self.json({"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                                         "href": f"{self.url}/nodeinfo/2.0"}]})
        if path == "/nodeinfo/2.0" and self.software:
            name, _, version = self.software.partition(" ")
            return self.json({"version": "2.0", "software": {"name": name, "version": version},
                              "protocols": ["activitypub"], "openRegistrations": False})
        if path == "/api/v2/instance" and self.name not in ("akkoma", "pleroma"):
            return self.json({"domain": "shaped.test", "version": "4.4.0", "configuration": self.config})
        if path == "/api/v1/instance" and self.name in ("akkoma", "pleroma"):
            return self.json({"uri": "shaped.test", "version": f"2.7.2 (compatible; {self.software.title()})",
                              "max_toot_chars": self.config["statuses"]["max_characters"],
                              "upload_limit": self.config["media_attachments"]["image_size_limit"]})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self.json({"error": "The access token is invalid"}, 401)
        if self.rate_limited:
            self.rate_limited -= 1
            reset = (self.now() + timedelta(seconds=90)).isoformat(timespec="microseconds").replace("+00:00", "Z")
            return self.json({"error": "Too many requests"}, 429, {
                "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
        if path == "/api/v1/accounts/verify_credentials":
            return self.json(self.account())
        if path == "/api/v2/media" and method == "POST" and self.name != "friendica":
            return self.upload(request)
        if path == "/api/v1/media" and method == "POST":  # the first version: processed at once
            return self.upload(request, processed=True)
        if match := re.fullmatch(r"/api/v1/media/(\d+)", path):
            return self.poll(match.group(1))
        if path == "/api/v1/statuses" and method == "POST":
            return self.post_status(request)
        if re.fullmatch(r"/api/v1/accounts/1/statuses", path):
            return self.json(list(reversed(self.statuses))[: int(request.args.get("limit", 20))])
        if match := re.fullmatch(r"/api/v1/statuses/(\d+)/source", path):
            found = [s for s in self.statuses if s["id"] == match.group(1)]
            return self.json({"id": found[0]["id"], "text": found[0]["_text"], "spoiler_text": ""}) if found \
                else self.json({"error": "Record not found"}, 404)
        return self.json({"error": "Record not found"}, 404)

    def account(self):
        return {"id": "1", "username": "alice", "acct": "alice", "display_name": "Alice",
                "url": f"{self.url}/@alice", "avatar": f"{self.url}/avatar.png"}

    def upload(self, request, processed=False):
        file = request.files.get("file")
        if file is None:
            return self.json({"error": "Validation failed: File can't be blank"}, 422)
        data = file.read()
        media = self.config["media_attachments"]
        if file.mimetype not in media["supported_mime_types"]:
            return self.json({"error": "Validation failed: File content type is invalid"}, 422)
        limit = media["video_size_limit"] if file.mimetype.startswith("video/") else media["image_size_limit"]
        if len(data) > limit:
            return self.json({"error": f"Validation failed: File file size must be less than {limit} Bytes"}, 422)
        description = request.form.get("description", "")
        if len(description) > media["description_limit"]:
            return self.json({"error": "Validation failed: Description is too long"}, 422)
        media_id = str(next(self.ids))
        self.media[media_id] = {"polls_left": 0 if processed else self.polls_before_ready,
                                "description": description, "type": file.mimetype.split("/")[0], "size": len(data)}
        return self.json(self.media_entity(media_id), 200 if processed else 202)

    def poll(self, media_id):
        media = self.media.get(media_id)
        if media is None:
            return self.json({"error": "Record not found"}, 404)
        if media["polls_left"] > 0:
            media["polls_left"] -= 1
            return self.json(self.media_entity(media_id), 206)
        return self.json(self.media_entity(media_id), 200)

    def media_entity(self, media_id):
        media = self.media[media_id]
        ready = media["polls_left"] <= 0
        return {"id": media_id, "type": media["type"], "description": media["description"],
                "url": f"{self.url}/media/{media_id}" if ready else None}

    def post_status(self, request):
        body = request.get_json(silent=True) or request.form.to_dict()
        key = request.headers.get("Idempotency-Key") if self.name in ("mastodon", "akkoma", "pleroma") else None
        if key and key in self.idempotency:
            status, stored = self.idempotency[key]
            if self.now() - stored < timedelta(hours=1):
                return self.json(status)
        text = body.get("status") or ""
        media_ids = body.get("media_ids") or []
        if not text.strip() and not media_ids:
            return self.json({"error": "Validation failed: Text can't be blank"}, 422)
        if self.name == "pixelfed" and not media_ids:
            return self.json({"error": "Validation failed: Media can't be blank"}, 422)
        limit = self.config["statuses"]["max_characters"]
        per_url = None if self.name in ("akkoma", "pleroma") else self.config["statuses"]["characters_reserved_per_url"]
        if mastodon_length(text, per_url) > limit:
            return self.json({"error": f"Validation failed: Text character limit of {limit} exceeded"}, 422)
        for media_id in media_ids:
            media = self.media.get(str(media_id))
            if media is None:
                return self.json({"error": "Validation failed: Media attachments are invalid"}, 422)
            if media["polls_left"] > 0:
                return self.json({"error": "Cannot attach files that have not finished processing. "
                                           "Try again in a moment!"}, 422)
        status_id = str(next(self.ids))
        status = {"id": status_id, "created_at": self.now().isoformat().replace("+00:00", "Z"),
                  "url": f"{self.url}/@alice/{status_id}", "visibility": body.get("visibility", "public"),
                  "language": body.get("language"), "content": f"<p>{text}</p>", "_text": text,
                  "media_attachments": [self.media_entity(str(m)) for m in media_ids]}
        self.statuses.append(status)
        if key:
            self.idempotency[key] = (status, self.now())
        return self.json(status)

    @staticmethod
    def json(body, status=200, headers=None):
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")
