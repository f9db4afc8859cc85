"""Matrix rooms, over the client-server API of any homeserver.

A channel here is a homeserver, an access token (or a user and password,
exchanged once for a token: the password is never kept) and a room (an id,
``!abc:example.org``, or an alias, ``#news:example.org``), joined on connect.

A page becomes ``m.room.message`` events: the text as ``m.text`` with an HTML
``formatted_body``, then each image or video uploaded to the media repository
and sent as ``m.image`` / ``m.video`` with its description as ``body`` (what
screen readers and text clients show) and its size in ``info``.

Exactly once: every event is sent with ``PUT /rooms/{room}/send/{type}/{txnId}``
and a transaction id derived from the schedule's key and the event's place in
the page, so a retry after an unknown outcome sends the same ids and the
homeserver answers a repeat with the event it already made (Matrix's own
idempotency). Transaction ids belong to one access token: a channel
reconnected with a new token meanwhile is not deduplicated, which the README
says.
"""

import hashlib
import html
from urllib.parse import quote

import httpx

from .. import outbound
from . import register
from .base import (
    Account, AuthenticationError, Connection, InvalidChannel, Limits, PermanentError, Provider, PublishResult,
    TransientError, UnusableAnswer,
)

FIELD = "settings.homeserver_url"
CLIENT = "/_matrix/client/v3"
MAX_TEXT_BYTES = 24_000  # an event is at most 64 KiB, and it carries the text twice (body, formatted_body)
MAX_ATTACHMENTS = 10
TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4")
FALLBACK_UPLOAD = 50 * 1024 * 1024  # Synapse's default max_upload_size, when the server does not say


def normalise_homeserver(url):
    url = (url or "").strip().rstrip("/")
    if url and "://" not in url:
        url = "https://" + url
    parts = outbound.split(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise InvalidChannel(FIELD, "Give the homeserver's address, like https://matrix.org.")
    return f"{parts.scheme}://{parts.netloc}"


def transaction_id(idempotency_key, index):
    """The transaction id of the page's ``index``-th event: the same on every attempt of a schedule."""
    return "ps" + hashlib.sha256(f"{idempotency_key}:{index}".encode()).hexdigest()[:32]


def formatted(text):
    """The text as Matrix's HTML (``org.matrix.custom.html``): escaped, line breaks kept."""
    return html.escape(text, quote=False).replace("\n", "<br>")


@register
class MatrixProvider(Provider):
    name = "matrix"
    label = "Matrix"
    description = ("Posts to a Matrix room. Give the homeserver and the room, and either an access token "
                   "(Element: Settings → Help & About → Access Token) or the account's user and password, "
                   "exchanged once for a token of pagesite's own (the password is not kept).")
    settings_schema = {
        "type": "object",
        "required": ["homeserver_url", "room"],
        "properties": {
            "homeserver_url": {"type": "string", "format": "uri", "title": "Homeserver", "maxLength": 2048,
                               "description": "https://matrix.org"},
            "room": {"type": "string", "title": "Room", "maxLength": 255,
                     "description": "#room:example.org or !id:example.org; joined when connecting"},
        },
    }
    credentials_schema = {
        "type": "object",
        "properties": {
            "access_token": {"type": "string", "title": "Access token", "secret": True, "maxLength": 500,
                             "description": "Leave empty to sign in with a user and password instead."},
            "user": {"type": "string", "title": "User", "maxLength": 255,
                     "description": "@name:example.org or name, with the password below"},
            "password": {"type": "string", "title": "Password", "secret": True, "maxLength": 500,
                         "description": "Used once to get a token; not kept."},
        },
    }

    @classmethod
    def default_limits(cls):
        return Limits(max_characters=MAX_TEXT_BYTES, counting="bytes of UTF-8 (a Matrix event is at most 64 KiB)",
                      max_attachments=MAX_ATTACHMENTS, content_types=TYPES, max_image_bytes=FALLBACK_UPLOAD,
                      max_video_bytes=FALLBACK_UPLOAD)

    def count_characters(self, text):
        return len(text.encode("utf-8"))

    # -- talking to the homeserver --------------------------------------------------------------------

    @property
    def homeserver(self):
        return normalise_homeserver(self.channel.settings.get("homeserver_url"))

    def _timeout(self):
        return float(self.config.get("PUBLISH_TIMEOUT") or 30)

    def _request(self, method, path, token=None, sending=False, **kwargs):
        """The JSON answer of one request; the error it means otherwise."""
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            with outbound.Client(base_url=self.homeserver, timeout=self._timeout(),
                                 total_seconds=self._timeout()) as client:
                response = client.request(method, path, headers=headers, **kwargs)
        except outbound.Refused as e:
            raise InvalidChannel(FIELD, str(e)) from None
        except outbound.Overtime as e:
            raise TransientError(f"The homeserver was still sending its answer after {e.total:g} s and was cut off; "
                                 "the retry uses the same transaction ids.", outcome_unknown=sending) from None
        except outbound.Unusable as e:
            raise UnusableAnswer(FIELD, f"{self.homeserver} answered with {e.what}, not Matrix's API.",
                                 outcome_unknown=sending) from None
        except httpx.TimeoutException:
            raise TransientError(f"The homeserver did not answer within {self._timeout():g} s; the retry uses the "
                                 "same transaction ids, so it cannot post twice.", outcome_unknown=sending) from None
        except httpx.ConnectError:
            raise TransientError(f"Could not reach {self.homeserver}.") from None
        except httpx.HTTPError as e:
            raise TransientError(f"The homeserver did not answer ({type(e).__name__}).",
                                 outcome_unknown=sending) from None
        answer = outbound.json_or_none(response)
        if response.is_success:
            if answer is None:
                raise UnusableAnswer(FIELD, f"{self.homeserver} answered with {outbound.described(response)}, not "
                                            "Matrix's API.", outcome_unknown=sending)
            return answer
        raise self._refusal(response, answer or {}, sending)

    def _refusal(self, response, answer, sending):
        code, said = answer.get("errcode"), outbound.printable(answer.get("error") or response.reason_phrase)
        status = response.status_code
        if status == 429 or code == "M_LIMIT_EXCEEDED":
            wait = answer.get("retry_after_ms")
            wait = wait / 1000 if isinstance(wait, (int, float)) and not isinstance(wait, bool) else None
            return TransientError(f"The homeserver asks to wait ({said}).", retry_after=wait)
        if code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN") or status == 401:
            return AuthenticationError(f"The homeserver refused the access token ({said}): sign in again.")
        if code == "M_FORBIDDEN" or status == 403:
            return AuthenticationError(f"The homeserver refused: {said}. The account must be in the room and "
                                       "allowed to post there.")
        if status >= 500:
            return TransientError(f"The homeserver had a problem ({status}: {said}); the retry uses the same "
                                  "transaction ids.", outcome_unknown=sending)
        if code == "M_TOO_LARGE" or status == 413:
            return PermanentError(f"The homeserver refused a file as too large ({said}).")
        if answer.get("errcode") is None:
            return UnusableAnswer(FIELD, f"{self.homeserver} answered {status} with {outbound.described(response)}, "
                                         "not Matrix's API.", outcome_unknown=sending)
        return PermanentError(f"The homeserver refused the post: {said} ({code})")

    # -- connecting ------------------------------------------------------------------------------------

    def connect(self):
        homeserver = self.homeserver
        room = (self.channel.settings.get("room") or "").strip()
        # Room ids of room version 12 and later carry no server name (!abc…); aliases always do.
        if len(room) < 2 or room[0] not in "#!" or (room[0] == "#" and ":" not in room):
            raise InvalidChannel("settings.room", "Give the room as #alias:example.org or !id:example.org.")
        credentials = dict(self.channel.credentials)
        token = (credentials.get("access_token") or "").strip()
        if not token:
            token, credentials = self._sign_in(credentials)
        try:
            who = outbound.fields(self._request("GET", f"{CLIENT}/account/whoami", token), user_id=str)
        except AuthenticationError:
            raise InvalidChannel("credentials.access_token", "The homeserver does not accept this access token.") \
                from None
        except outbound.Unusable as e:
            raise UnusableAnswer(FIELD, f"{homeserver} answered with {e.what}, not Matrix's API.") from None
        try:
            joined = self._request("POST", f"{CLIENT}/join/{quote(room, safe='')}", token, json={})
        except (AuthenticationError, PermanentError) as e:
            raise InvalidChannel("settings.room", f"Could not join {room}: {e}") from None
        room_id = joined.get("room_id")
        if not isinstance(room_id, str):
            raise UnusableAnswer(FIELD, f"{homeserver} joined the room but did not say its id.")
        limits = self.default_limits()
        try:
            config = self._request("GET", "/_matrix/client/v1/media/config", token)
            size = config.get("m.upload.size")
            if isinstance(size, int) and not isinstance(size, bool) and size > 0:
                limits = Limits(**{**limits.__dict__, "max_image_bytes": size, "max_video_bytes": size})
        except (PermanentError, TransientError):
            pass  # an older server: Synapse's default stands
        credentials = {"access_token": token, "user_id": who["user_id"],
                       **({"device_id": who["device_id"]} if isinstance(who.get("device_id"), str) else {})}
        settings = {"homeserver_url": homeserver, "room": room, "room_id": room_id}
        return Connection(account=Account(handle=who["user_id"], display_name=room), limits=limits,
                          credentials=credentials, settings=settings)

    def _sign_in(self, credentials):
        user, password = (credentials.get("user") or "").strip(), credentials.get("password") or ""
        if not user or not password:
            raise InvalidChannel("credentials.access_token", "Give an access token, or a user and a password.")
        identifier = user[1:].split(":", 1)[0] if user.startswith("@") else user
        try:
            answer = self._request("POST", f"{CLIENT}/login", json={
                "type": "m.login.password", "identifier": {"type": "m.id.user", "user": identifier},
                "password": password, "initial_device_display_name": "pagesite"})
        except (AuthenticationError, PermanentError):
            raise InvalidChannel("credentials.password", "The homeserver refused this user and password.") from None
        token = answer.get("access_token")
        if not isinstance(token, str):
            raise UnusableAnswer(FIELD, f"{self.homeserver} signed in but gave no access token.")
        return token, {"access_token": token}  # the password goes no further

    # -- publishing ------------------------------------------------------------------------------------

    def publish(self, page, idempotency_key, *, schedule_id, attempt, last_attempt_at=None):
        token = self.channel.credentials["access_token"]
        room = self.channel.settings.get("room_id") or self.channel.settings["room"]
        events = []
        if page.text.strip():
            events.append({"msgtype": "m.text", "body": page.text, "format": "org.matrix.custom.html",
                           "formatted_body": formatted(page.text)})
        for a in page.attachments:
            events.append(self._media_event(a, token))
        ids = []
        for index, content in enumerate(events):
            path = (f"{CLIENT}/rooms/{quote(room, safe='')}/send/m.room.message/"
                    f"{transaction_id(idempotency_key, index)}")
            answer = self._request("PUT", path, token, sending=True, json=content)
            if not isinstance(answer.get("event_id"), str):
                raise UnusableAnswer(FIELD, f"{self.homeserver} took the event but gave no event id; the retry uses "
                                            "the same transaction id.", outcome_unknown=True)
            ids.append(answer["event_id"])
        first = ids[0]
        return PublishResult(external_id=first, url=f"https://matrix.to/#/{quote(room, safe='!:')}/{quote(first)}")

    def _media_event(self, a, token):
        """Upload one attachment (a repeat only leaves an unused file) and the event that shows it."""
        uploaded = self._request("POST", "/_matrix/media/v3/upload", token, params={"filename": a.filename},
                                 headers={"Content-Type": a.content_type}, content=a.read())
        uri = uploaded.get("content_uri")
        if not isinstance(uri, str) or not uri.startswith("mxc://"):
            raise UnusableAnswer(FIELD, f"{self.homeserver} took {a.filename} but gave no mxc:// address.")
        info = {"mimetype": a.content_type, "size": a.size}
        if a.width and a.height:
            info.update(w=a.width, h=a.height)
        kind = "m.video" if a.content_type.startswith("video/") else "m.image"
        return {"msgtype": kind, "body": a.alt_text or a.filename, "filename": a.filename, "url": uri, "info": info}
