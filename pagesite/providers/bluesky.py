"""Bluesky (bsky.social or any AT Protocol PDS), over plain XRPC with httpx.

Plain HTTP rather than the ``atproto`` SDK: publishing exactly once depends on
telling a repeated record key (the PDS answers HTTP 500) from a real failure,
and on the ``RateLimit-Reset`` header and the session tokens themselves, all of
which the SDK's client hides; the few calls needed here are short.

Exactly once: every schedule gets a record key (a valid TID) derived from its
own random idempotency key, the same on every attempt; a record found there
is that schedule's. A retry
first reads that record back (``getRecord``); any failure or unknown outcome
of ``createRecord`` is settled the same way, so a post is created at most once
per schedule whatever happened to the previous attempt.

Every request goes through ``outbound`` (a PDS's address is typed by a
person), and every answer is checked for the fields read from it: an answer
that is not Bluesky's API is an ``UnusableAnswer`` on the service address.
"""

import base64
import hashlib
import hmac
import io
import json
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

import httpx
import regex
from PIL import Image, ImageOps

from .. import outbound
from . import link_cards, register
from .waits import seconds_to_wait
from .base import (
    LEGACY_KEY_PREFIX, Account, AuthenticationError, Connection, InvalidChannel, Limits, PermanentError, Provider,
    PublishResult, TransientError, UnusableAnswer,
)
from .textcount import find_urls, graphemes, utf8_offset

DEFAULT_SERVICE = "https://bsky.social"
FIELD = "settings.service_url"  # where a service that cannot be used is said to be wrong
POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000
MAX_CARD_SIDE = 2000  # a card's picture is re-encoded at most this wide or high, as Bluesky's app does
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
APP_PASSWORD_HELP = ("Create an app password in Bluesky under Settings → Privacy and security → "
                     "App passwords, and use it here instead.")
# Errors that mean "this token is no good": refresh the session, then sign in again.
TOKEN_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}

# Mentions and hashtags as Bluesky's own composer finds them.
MENTION = regex.compile(r"(?:^|\s|\()@([a-zA-Z0-9.-]+)\b")
HANDLE = regex.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
HASHTAG = regex.compile(
    rf"(?:^|\s)([#＃]((?!\ufe0f)[^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}]+[^\s{_INVISIBLE}]*))")
MAX_TAG_GRAPHEMES = 64

# Record keys: TIDs are 13 characters of base32-sortable over 53 bits of
# microseconds and 10 bits of clock id. Ours fall in a fixed window in early 2024.
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_EPOCH_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
_TID_WINDOW_US = 1 << 40  # about 12.7 days


def record_key(idempotency_key, legacy_secret=""):
    """The TID record key of a schedule: the same on every attempt, unlike any other schedule's.

    Derived from the schedule's own random key alone, so rotating SECRET_KEY
    never changes a retry's record key. A key from before keys were random
    (``pagesite-schedule-<id>``, kept by schedules attempted before the
    upgrade) is keyed with the secret as it was then, so their retries still
    find their records.
    """
    if idempotency_key.startswith(LEGACY_KEY_PREFIX):
        digest = hmac.new(str(legacy_secret or "").encode(), idempotency_key.encode(), hashlib.sha256).digest()
    else:
        digest = hashlib.sha256(idempotency_key.encode()).digest()
    micros = _TID_EPOCH_US + int.from_bytes(digest[:8], "big") % _TID_WINDOW_US
    clock_id = int.from_bytes(digest[8:10], "big") & 0x3FF
    value = (micros << 10) | clock_id  # 63 bits: the top bit stays 0
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _jwt_claims(token):
    """The claims of a JWT, unverified (the server verifies it; we only read expiry and scope)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, AttributeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _expires(token):
    """When a JWT expires (Unix seconds); 0, so it is refreshed, when it does not say."""
    exp = _jwt_claims(token).get("exp")
    return exp if isinstance(exp, (int, float)) and not isinstance(exp, bool) else 0


@register
class BlueskyProvider(Provider):
    name = "bluesky"
    label = "Bluesky"
    description = ("Posts to Bluesky (bsky.social or your own PDS) with an app password, never your account "
                   "password: make one in Bluesky under Settings → Privacy and security → App passwords.")
    settings_schema = {
        "type": "object",
        "properties": {
            "service_url": {"type": "string", "format": "uri", "default": DEFAULT_SERVICE, "title": "Service URL",
                            "description": "Your PDS; leave empty for accounts on bsky.social."},
        },
    }
    credentials_schema = {
        "type": "object",
        "required": ["identifier", "app_password"],
        "properties": {
            "identifier": {"type": "string", "title": "Handle or email", "description": "alice.bsky.social"},
            "app_password": {"type": "string", "title": "App password", "secret": True,
                             "description": "Not your account password. " + APP_PASSWORD_HELP},
        },
    }

    @classmethod
    def default_limits(cls):
        return Limits(max_characters=MAX_GRAPHEMES, counting="graphemes (at most 3,000 bytes)",
                      max_attachments=MAX_IMAGES, content_types=IMAGE_TYPES,
                      max_image_bytes=None,  # larger images are scaled down to 1,000,000 bytes
                      max_video_bytes=0, max_description=None)

    # -- connecting ---------------------------------------------------------

    @property
    def service_url(self):
        return _normalise_service_url(self.channel.settings.get("service_url"))

    def connect(self):
        credentials = self.channel.credentials
        identifier = (credentials.get("identifier") or "").strip().lstrip("@")
        if not identifier:
            raise InvalidChannel("credentials.identifier", "Give your Bluesky handle (alice.bsky.social) or email.")
        if not credentials.get("app_password"):
            raise InvalidChannel("credentials.app_password", "Give an app password. " + APP_PASSWORD_HELP)
        credentials["identifier"] = identifier
        for key in ("access_jwt", "refresh_jwt"):
            credentials.pop(key, None)
        with self._client() as client:
            self._create_session(client)
        settings = {**self.channel.settings, "service_url": self.service_url}
        handle = credentials["handle"]
        return Connection(
            account=Account(handle=handle, url=f"https://bsky.app/profile/{handle}"),
            limits=self.default_limits(), credentials=credentials, settings=settings)

    def refresh(self):
        """The handle again (it can change) through the stored session, refreshed when it expired:
        one cheap call (``com.atproto.server.getSession``)."""
        with self._client() as client:
            response = self._call(client, "GET", "com.atproto.server.getSession")
            _raise_for(response, "reading the account")
            session = _answer(response, did=str, handle=str)
        self.channel.credentials.update({"did": session["did"], "handle": session["handle"]})
        handle = session["handle"]
        return Connection(account=Account(handle=handle, url=f"https://bsky.app/profile/{handle}"),
                          limits=self.default_limits(), credentials=self.channel.credentials,
                          settings=self.channel.settings)

    def _client(self):
        timeout = float(self.config.get("PUBLISH_TIMEOUT", 30))
        return outbound.Client(base_url=self.service_url, total_seconds=timeout,
                               timeout=httpx.Timeout(max(2.0, timeout / 3), connect=5.0),
                               headers={"User-Agent": "pagesite"})

    def _create_session(self, client):
        credentials = self.channel.credentials
        response = _send(client, "POST", "com.atproto.server.createSession",
                         json={"identifier": credentials["identifier"], "password": credentials["app_password"]})
        error = _error_name(response)
        if response.status_code == 401 and error == "AuthFactorTokenRequired":
            # Only an account password (with two-factor sign-in on) gets this answer.
            raise InvalidChannel("credentials.app_password",
                                 "That looks like your account password. " + APP_PASSWORD_HELP)
        if response.status_code == 401 or error in TOKEN_ERRORS or error == "AccountTakedown":
            raise InvalidChannel("credentials.app_password", "Bluesky did not accept this handle and app password"
                                 f" ({_error_message(response)}). Check both; " + APP_PASSWORD_HELP)
        _raise_for(response, "signing in")
        session = _answer(response, **SESSION)
        if _jwt_claims(session["accessJwt"]).get("scope") == "com.atproto.access":
            # The server issued a full-access session: that was the account password.
            _send(client, "POST", "com.atproto.server.deleteSession",
                  headers={"Authorization": f"Bearer {session.get('refreshJwt')}"})
            raise InvalidChannel("credentials.app_password",
                                 "That is your account password, which pagesite does not keep. " + APP_PASSWORD_HELP)
        self._store_session(session)

    def _store_session(self, session):
        self.channel.credentials.update({
            "access_jwt": session["accessJwt"], "refresh_jwt": session["refreshJwt"],
            "did": session["did"], "handle": session["handle"],
        })

    def _refresh_session(self, client):
        """A new access token from the refresh token; a new session when that is gone too."""
        refresh = self.channel.credentials.get("refresh_jwt")
        if refresh:
            response = _send(client, "POST", "com.atproto.server.refreshSession",
                             headers={"Authorization": f"Bearer {refresh}"})
            if response.status_code == 200:
                self._store_session(_answer(response, **SESSION))
                return
            if response.status_code not in (400, 401):
                _raise_for(response, "refreshing the session")
        try:
            self._create_session(client)
        except InvalidChannel as e:
            raise AuthenticationError(f"Bluesky no longer accepts this channel's app password: reconnect it. ({e})")

    def _call(self, client, method, nsid, headers=None, **kwargs):
        """An authenticated XRPC call; refreshes the session once when the token is refused."""
        credentials = self.channel.credentials
        if not credentials.get("access_jwt") or _expires(credentials["access_jwt"]) < time.time() + 30:
            self._refresh_session(client)
        for attempt in (1, 2):
            auth = {"Authorization": f"Bearer {credentials['access_jwt']}"}
            response = _send(client, method, nsid, headers={**(headers or {}), **auth}, **kwargs)
            refused = response.status_code == 401 or _error_name(response) in TOKEN_ERRORS
            if not refused:
                return response
            if attempt == 1:
                self._refresh_session(client)
        raise AuthenticationError("Bluesky refused this channel's session after signing in again: reconnect it.")

    # -- checking -----------------------------------------------------------

    def count_characters(self, text):
        return graphemes(text)

    def attachment_problems(self, a, limits):
        if a.content_type.startswith("video/"):  # one message that says why, not "not accepted"
            return [f"{a.filename}: Bluesky channels take images only; video cannot be posted there."]
        return super().attachment_problems(a, limits)

    def check(self, page, limits):
        problems = super().check(page, limits)
        size = len(page.text.encode("utf-8"))
        if size > MAX_BYTES:
            problems.append(f"text is {size} bytes; Bluesky takes at most {MAX_BYTES}.")
        return problems

    # -- publishing ---------------------------------------------------------

    def publish(self, page, idempotency_key, *, schedule_id, attempt, last_attempt_at=None):
        rkey = record_key(idempotency_key, legacy_secret=self.config.get("SECRET_KEY"))
        with self._client() as client:
            if attempt > 1:
                earlier = self._existing(client, rkey, page)
                if earlier:
                    return earlier
            notes = []
            images = [self._upload_image(client, index, a, notes) for index, a in enumerate(page.attachments, 1)]
            record = {"$type": POST, "text": page.text, "createdAt": _now_iso()}
            facets = self._facets(client, page.text)
            if facets:
                record["facets"] = facets
            if images:
                record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
            elif page.link_card:
                card = self._card(client, page.text, notes)
                if card:
                    record["embed"] = card
            did = self.channel.credentials["did"]
            try:
                response = self._call(client, "POST", "com.atproto.repo.createRecord",
                                      json={"repo": did, "collection": POST, "rkey": rkey, "record": record})
                if response.status_code == 200:
                    return self._result(_answer(response, outcome_unknown=True, uri=str)["uri"], rkey, notes)
                _raise_for(response, "posting")
            except (TransientError, PermanentError) as error:
                if isinstance(error, AuthenticationError):
                    raise
                # A repeated key is a 500; a lost answer is a timeout: the record decides.
                try:
                    earlier = self._existing(client, rkey, page, notes)
                except TransientError as unsettled:  # still unknown when the record cannot be read either
                    unsettled.outcome_unknown = unsettled.outcome_unknown or getattr(error, "outcome_unknown", False)
                    raise
                if earlier:
                    return earlier
                raise

    def _existing(self, client, rkey, page, notes=()):
        """The post already made under ``rkey``, or None.

        The record key comes from this schedule's own random key, so a record
        there is this schedule's, made by an earlier attempt whose answer was
        lost: it is published, whatever its text (the page may have been
        edited since, and the record keeps what that attempt sent)."""
        did = self.channel.credentials["did"]
        response = self._call(client, "GET", "com.atproto.repo.getRecord",
                              params={"repo": did, "collection": POST, "rkey": rkey})
        if response.status_code == 400 and _error_name(response) == "RecordNotFound":
            return None
        _raise_for(response, "checking for an earlier post")
        found = _answer(response, uri=str, value=dict)
        notes = (*notes, "Found the post made by an earlier attempt; not posted again.")
        if found["value"].get("text") != page.text:
            notes += ("Its text differs from the page as it is now: it is what that attempt sent.",)
        return self._result(found["uri"], rkey, notes)

    def _result(self, uri, rkey, notes):
        handle = self.channel.credentials.get("handle")
        return PublishResult(external_id=uri, url=f"https://bsky.app/profile/{handle}/post/{rkey}", notes=tuple(notes))

    def _upload_image(self, client, index, attachment, notes):
        data = attachment.read()
        content_type = attachment.content_type
        if content_type not in IMAGE_TYPES:
            raise PermanentError(f"{attachment.filename}: Bluesky channels take images only ({content_type}).")
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        if len(data) > MAX_IMAGE_BYTES:
            original = len(data)
            data, content_type, width, height = _shrink(data)
            notes.append(f"Image {index} ({attachment.filename}) was {original:,} bytes; Bluesky takes at most "
                         f"{MAX_IMAGE_BYTES:,}, so a {width}×{height} {content_type.split('/')[1].upper()} of "
                         f"{len(data):,} bytes was sent. The original is kept.")
        response = self._call(client, "POST", "com.atproto.repo.uploadBlob", content=data,
                              headers={"Content-Type": content_type})
        _raise_for(response, f"uploading {attachment.filename}")
        return {"image": _answer(response, blob=dict)["blob"], "alt": attachment.alt_text or "",
                "aspectRatio": {"width": width, "height": height}}

    def _card(self, client, text, notes):
        """The ``app.bsky.embed.external`` card of the text's first link, or None (with a note saying why
        when there was a link): Bluesky shows a card only when the post carries one."""
        url = link_cards.first_link(text)
        if url is None:
            return None
        try:
            card = link_cards.read(url, timeout=float(self.config.get("LINK_CARD_TIMEOUT", 5)))
        except link_cards.NoCard as e:
            notes.append(f"No link card for {url}: {e}")
            return None
        external = {"uri": url, "title": card.title, "description": card.description}
        if card.picture:
            data, content_type, width, height = _shrink(card.picture, max_side=MAX_CARD_SIDE)
            response = self._call(client, "POST", "com.atproto.repo.uploadBlob", content=data,
                                  headers={"Content-Type": content_type})
            _raise_for(response, "uploading the link card's picture")
            external["thumb"] = _answer(response, blob=dict)["blob"]
            picture = "."
        elif card.picture_problem:
            picture = f", without a picture: {card.picture_problem}"
        else:
            picture = ", without a picture (the page names none)."
        notes.append(f"Link card: “{card.title}” ({urlsplit(url).hostname}){picture}")
        return {"$type": "app.bsky.embed.external", "external": external}

    def _facets(self, client, text):
        facets = []
        for start, end in find_urls(text):
            facets.append(_facet(text, start, end, {"$type": "app.bsky.richtext.facet#link", "uri": text[start:end]}))
        for match in MENTION.finditer(text):
            handle = match.group(1).rstrip(".")
            if not HANDLE.match(handle):
                continue
            did = self._resolve_handle(client, handle)
            if did:  # an unknown handle stays plain text
                start = match.start(1) - 1
                facets.append(_facet(text, start, start + 1 + len(handle),
                                     {"$type": "app.bsky.richtext.facet#mention", "did": did}))
        for match in HASHTAG.finditer(text):
            tag = regex.sub(r"\p{P}+$", "", match.group(2))
            if not tag or graphemes(tag) > MAX_TAG_GRAPHEMES:
                continue
            start = match.start(1)
            facets.append(_facet(text, start, start + 1 + len(tag), {"$type": "app.bsky.richtext.facet#tag", "tag": tag}))
        return sorted(facets, key=lambda f: f["index"]["byteStart"])

    def _resolve_handle(self, client, handle):
        try:
            response = _send(client, "GET", "com.atproto.identity.resolveHandle", params={"handle": handle})
        except TransientError:
            return None
        did = (outbound.json_or_none(response) or {}).get("did") if response.status_code == 200 else None
        return did if isinstance(did, str) and did.startswith("did:") else None


def _facet(text, start, end, feature):
    return {"index": {"byteStart": utf8_offset(text, start), "byteEnd": utf8_offset(text, end)}, "features": [feature]}


def _shrink(data, max_side=None):
    """Re-encode (and if needed scale down) an image to at most MAX_IMAGE_BYTES: (bytes, type, width, height).
    ``max_side``: scaled down first so neither side is longer (a card's picture is shown small)."""
    with Image.open(io.BytesIO(data)) as source:
        image = ImageOps.exif_transpose(source).convert("RGBA")
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.LANCZOS)
    keep_alpha = image.getextrema()[3][0] < 255  # some pixel is see-through
    if not keep_alpha:
        image = image.convert("RGB")
    scale = 1.0
    while True:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        candidate = image if scale == 1.0 else image.resize(size, Image.LANCZOS)
        out = io.BytesIO()
        if keep_alpha:
            candidate.save(out, "PNG", optimize=True)
        else:
            candidate.save(out, "JPEG", quality=85, optimize=True)
        if out.tell() <= MAX_IMAGE_BYTES:
            return out.getvalue(), "image/png" if keep_alpha else "image/jpeg", *candidate.size
        scale *= 0.8


def _normalise_service_url(url):
    url = (url or DEFAULT_SERVICE).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidChannel("settings.service_url", "Give the service URL as https://host (https://bsky.social).")
    return f"{parts.scheme}://{parts.netloc}"


def _now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


SESSION = {"accessJwt": str, "refreshJwt": str, "did": str, "handle": str}  # what a session answer must hold


def _send(client, method, nsid, **kwargs):
    """One XRPC call's answer; a refused address, or an answer that is no XRPC one, as provider errors."""
    posting = nsid == "com.atproto.repo.createRecord"
    try:
        response = client.request(method, f"/xrpc/{nsid}", **kwargs)
    except outbound.Refused as e:
        raise InvalidChannel(FIELD, str(e)) from None
    except outbound.Unusable as e:
        raise _unusable(client.base_url, e, outcome_unknown=posting) from None
    except outbound.Overtime as e:
        raise UnusableAnswer(FIELD, f"{outbound.origin(client.base_url)} was still sending its answer after {e.total:g} s "
                                    "and was cut off: check the service address, or try again later.",
                             outcome_unknown=posting) from None
    except httpx.TimeoutException:
        raise TransientError("Bluesky did not answer in time; the outcome is unknown and will be checked.",
                             outcome_unknown=posting)
    except httpx.TransportError as e:
        raise TransientError(f"Could not reach Bluesky ({type(e).__name__}).")
    if 400 <= response.status_code < 500 and response.status_code != 429 and outbound.json_or_none(response) is None:
        # Every XRPC error is a JSON object: a web page here is some other server's.
        raise _unusable(response.request.url, outbound.Unusable(
            f"HTTP {response.status_code} and {outbound.described(response)}"), outcome_unknown=posting)
    return response


def _unusable(url, error, outcome_unknown=False):
    return UnusableAnswer(FIELD, f"{outbound.origin(url)} answered with {error.what}, not Bluesky's API: check the "
                                 "service address.", outcome_unknown=outcome_unknown)


def _answer(response, /, outcome_unknown=False, **fields):
    """The answer's JSON object, with ``fields`` of those types; UnusableAnswer when it is not one."""
    try:
        return outbound.fields(outbound.json_of(response), **fields)
    except outbound.Unusable as e:
        raise _unusable(response.request.url, e, outcome_unknown) from None


def _error_name(response):
    name = (outbound.json_or_none(response) or {}).get("error")
    return name if isinstance(name, str) else None


def _error_message(response):
    body = outbound.json_or_none(response) or {}
    text = next((v for v in (body.get("message"), body.get("error")) if isinstance(v, str) and v), None)
    return outbound.printable(text) if text else response.reason_phrase


def _raise_for(response, doing):
    """Map an XRPC answer to the provider errors; return quietly on success."""
    status = response.status_code
    if status == 200:
        return
    if 300 <= status < 400:
        target = outbound.printable(response.headers.get("Location", "another address"))
        raise InvalidChannel(FIELD, f"{outbound.origin(response.request.url)} sent a redirect to {target} while {doing}: "
                                    "give the PDS's own address (redirects are not followed).")
    message = _error_message(response)
    if status == 429:
        raise TransientError(f"Bluesky's rate limit was reached while {doing}.", retry_after=seconds_to_wait(response.headers))
    if status >= 500:
        raise TransientError(f"Bluesky had a problem while {doing} (HTTP {status}: {message}).")
    if status == 401 or _error_name(response) in TOKEN_ERRORS:
        raise AuthenticationError(f"Bluesky refused this channel's session while {doing}: reconnect it.")
    raise PermanentError(f"Bluesky refused {doing}: {message}")
