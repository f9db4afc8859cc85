"""Mastodon (any instance), over its REST API with httpx.

Exactly once: every status is posted with ``Idempotency-Key: <the schedule's
key>``; Mastodon keeps a key for an hour per account and answers a repeat with
the original status. A retry that comes later than that after an attempt
whose outcome is unknown first looks for the status among the account's
recent ones (``/api/v1/statuses/:id/source`` gives back the exact text).

Signing in through the instance (an app registered there, the browser sent to
``/oauth/authorize``, the code exchanged with PKCE) is in the module-level
functions ``register_app``, ``pkce_pair``, ``authorize_url`` and
``exchange_code``, for the web layer; the token they give is the channel's
``access_token``.

Every request goes through ``outbound`` (the instance's address is typed by a
person), and every answer is checked for the fields read from it: an answer
that is not Mastodon's API is an ``UnusableAnswer`` on the instance's address.

Servers that speak Mastodon's API (GoToSocial, Akkoma and Pleroma, Friendica,
Pixelfed) are told apart when connecting, by NodeInfo (``/.well-known/nodeinfo``)
or the ``(compatible; …)`` in the instance's version, and their documented
differences are kept to: limits under Pleroma's keys (``max_toot_chars``,
``upload_limit``), links counted in full where no ``characters_reserved_per_url``
is given, media uploaded through ``/api/v1/media`` where ``/api/v2/media`` is
missing, Pixelfed's posts needing an image, and, where the server is not
known to honour ``Idempotency-Key``, a retry that looks for the earlier post
before posting again.
"""

import base64
import hashlib
import re
import secrets
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

import httpx
import regex

from .. import outbound
from . import register
from .waits import seconds_to_wait
from .base import (
    Account, AuthenticationError, Connection, Counts, InvalidChannel, Limits, PermanentError, Provider,
    PublishResult, TransientError, UnusableAnswer,
)
from .textcount import find_urls, graphemes

SCOPES = "read:accounts read:statuses write:statuses write:media"
FIELD = "settings.instance_url"  # where an instance that cannot be used is said to be wrong
VISIBILITIES = ("public", "unlisted", "private")  # private is "followers only"
IDEMPOTENCY_HOURS = 1  # how long Mastodon remembers an Idempotency-Key
# What an instance that does not say gets (Mastodon 4.x defaults).
FALLBACK = {
    "max_characters": 500,
    "characters_reserved_per_url": 23,
    "max_media_attachments": 4,
    "supported_mime_types": ("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"),
    "image_size_limit": 16 * 1024 * 1024,
    "video_size_limit": 99 * 1024 * 1024,
    "description_limit": 1500,
}
# Mastodon and its forks: its counting rules (a link is 23) hold even where the instance does not say them.
MASTODON_ITSELF = ("mastodon", "hometown", "glitch-soc")
# Servers documented to honour Idempotency-Key on POST /api/v1/statuses.
KEEPS_KEYS = MASTODON_ITSELF + ("pleroma", "akkoma")
COMPATIBLE = re.compile(r"\(compatible; ([A-Za-z][\w.-]*) ([^\s)]+)")  # "2.7.2 (compatible; Pleroma 2.6.0)"
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/2."
MEDIA_WAIT_SECONDS = 60  # longest wait for an upload to finish processing (capped by the publish timeout)

# A mention as Mastodon finds it: @user or @user@domain, not inside a word or a URL path.
MENTION = regex.compile(r"(?<=^|[^\w/@])@(\w+(?:[\w.-]*\w)?)(@[\w.-]+\w)?", regex.IGNORECASE)


# -- signing in through the instance (OAuth 2 with PKCE) -----------------------------------------


def normalise_instance_url(url):
    """``mastodon.social`` or ``https://mastodon.social/`` -> ``https://mastodon.social``."""
    url = (url or "").strip().rstrip("/")
    if url and "://" not in url:
        url = "https://" + url
    parts = outbound.split(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidChannel("settings.instance_url", "Give the instance's address, like https://mastodon.social.")
    return f"{parts.scheme}://{parts.netloc}"


def register_app(instance_url, redirect_uri, client_name="pagesite", website=None, timeout=10):
    """Register pagesite as an app on the instance: {"client_id", "client_secret"} to remember per instance."""
    instance_url = normalise_instance_url(instance_url)
    data = {"client_name": client_name, "redirect_uris": redirect_uri, "scopes": SCOPES}
    if website:
        data["website"] = website
    with outbound.Client(timeout=timeout, total_seconds=timeout) as client:
        response = _request(client, "POST", f"{instance_url}/api/v1/apps", data=data)
    _raise_for(response, "registering pagesite with the instance", field=FIELD)
    app = _answer(response, client_id=str, client_secret=str)
    return {"client_id": app["client_id"], "client_secret": app["client_secret"]}


def pkce_pair():
    """(code_verifier, code_challenge) for the S256 method (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(instance_url, client_id, redirect_uri, state, code_challenge):
    """Where to send the browser so the person lets pagesite post for them."""
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
                       "scope": SCOPES, "state": state, "code_challenge": code_challenge,
                       "code_challenge_method": "S256"})
    return f"{normalise_instance_url(instance_url)}/oauth/authorize?{query}"


def exchange_code(instance_url, client_id, client_secret, redirect_uri, code, code_verifier, timeout=10):
    """The access token for the code the instance sent back to ``redirect_uri``."""
    with outbound.Client(timeout=timeout, total_seconds=timeout) as client:
        response = _request(client, "POST", f"{normalise_instance_url(instance_url)}/oauth/token", data={
            "grant_type": "authorization_code", "code": code, "client_id": client_id,
            "client_secret": client_secret, "redirect_uri": redirect_uri, "code_verifier": code_verifier,
            "scope": SCOPES})
    if response.status_code in (400, 401):
        raise InvalidChannel("credentials.access_token", "The instance did not accept the sign-in "
                             f"({_error_text(response)}). Try connecting again.")
    _raise_for(response, "finishing the sign-in")
    return _answer(response, access_token=str)["access_token"]


# -- the provider ----------------------------------------------------------------------------------


@register
class MastodonProvider(Provider):
    name = "mastodon"
    label = "Mastodon"
    description = ("Mastodon and compatible servers (GoToSocial, Akkoma, Pleroma, Friendica, Pixelfed). Sign in "
                   "through the instance (below), or paste an access "
                   "token: on your instance, Preferences → Development → New application, scopes " + SCOPES +
                   ", then copy “Your access token”.")
    settings_schema = {
        "type": "object",
        "required": ["instance_url"],
        "properties": {
            "instance_url": {"type": "string", "format": "uri", "title": "Instance",
                             "description": "https://mastodon.social"},
            "visibility": {"type": "string", "enum": list(VISIBILITIES), "default": "public", "title": "Visibility",
                           "description": "public, unlisted, or private (followers only)"},
            "language": {"type": "string", "title": "Language", "description": "ISO 639 code, like en; "
                         "empty lets the instance guess", "pattern": "^([a-z]{2,3})?$"},
        },
    }
    credentials_schema = {
        "type": "object",
        "required": ["access_token"],
        "properties": {
            "access_token": {"type": "string", "title": "Access token", "secret": True,
                             "description": "Preferences → Development → New application, with the scopes "
                                            + SCOPES},
        },
    }

    @classmethod
    def default_limits(cls):
        return _limits({})

    # -- connecting ---------------------------------------------------------

    @property
    def instance_url(self):
        return normalise_instance_url(self.channel.settings.get("instance_url"))

    def connect(self):
        settings = dict(self.channel.settings)
        settings["instance_url"] = self.instance_url
        visibility = settings.get("visibility") or "public"
        if visibility not in VISIBILITIES:
            raise InvalidChannel("settings.visibility", "Choose public, unlisted or private (followers only).")
        settings["visibility"] = visibility
        language = (settings.get("language") or "").strip().lower()
        if language and not regex.fullmatch(r"[a-z]{2,3}", language):
            raise InvalidChannel("settings.language", "Give a language as its ISO 639 code, like en or fr.")
        settings.pop("language", None)
        if language:
            settings["language"] = language
        if not self.channel.credentials.get("access_token"):
            raise InvalidChannel("credentials.access_token", "Give an access token, or sign in through the instance.")
        with self._client() as client:
            try:
                response = client.get("/api/v1/accounts/verify_credentials")
            except outbound.Refused as e:
                raise InvalidChannel(FIELD, str(e)) from None
            except outbound.Unusable as e:
                raise _unusable(self.instance_url, e) from None
            except outbound.Overtime as e:
                raise _overtime(self.instance_url, e) from None
            except httpx.ConnectError:
                raise InvalidChannel(FIELD, f"Nothing answered at {self.instance_url}.") from None
            except httpx.TimeoutException:
                raise TransientError(f"{self.instance_url} did not answer in time; try again.") from None
            except httpx.HTTPError as e:
                raise TransientError(f"{self.instance_url} did not answer ({type(e).__name__}); try again.") from None
            _not_the_api(response)
            if response.status_code in (401, 403):
                raise InvalidChannel("credentials.access_token", "The instance refused this access token "
                                     f"({_error_text(response)}). It needs the scopes {SCOPES}.")
            if response.status_code == 404:
                raise InvalidChannel(FIELD, f"{self.instance_url} does not look like a Mastodon instance "
                                            "(it has no /api/v1/accounts/verify_credentials).")
            _raise_for(response, "reading the account", field=FIELD)
            account = _answer(response, id=str, acct=str)
            instance = self._instance(client)
            software = self._software(client, instance)
        credentials = {**self.channel.credentials, "account_id": account["id"]}
        settings["software"] = software
        return Connection(account=self._account(account), limits=_limits(instance or {}, software),
                          credentials=credentials, settings=settings)

    def refresh(self):
        """The account and the instance's limits again, with the stored token; limits the instance
        did not answer for are kept as stored (not replaced by the fallback)."""
        with self._client() as client:
            response = _request(client, "GET", "/api/v1/accounts/verify_credentials")
            _raise_for(response, "reading the account")
            account = _answer(response, id=str, acct=str)
            instance = self._instance(client)
        if instance is None:
            raise TransientError(f"{self.instance_url} did not say what its limits are; kept the stored ones.")
        return Connection(account=self._account(account), limits=_limits(instance, self.software),
                          credentials=self.channel.credentials, settings=self.channel.settings)

    def _account(self, account):
        domain = urlsplit(self.instance_url).netloc
        acct = account["acct"]
        return Account(handle=f"@{acct}@{domain}" if "@" not in acct else f"@{acct}",
                       display_name=outbound.text_or_none(account.get("display_name")) or None,
                       avatar_url=outbound.text_or_none(account.get("avatar")),
                       url=outbound.text_or_none(account.get("url")))

    def _instance(self, client):
        """The instance's limits, from /api/v2/instance (or v1 on older servers and Pleroma's kin),
        flattened, with its ``version`` text; None when neither answered."""
        for path in ("/api/v2/instance", "/api/v1/instance"):
            try:
                response = client.get(path)
            except (httpx.HTTPError, outbound.Unusable):
                return None
            answer = outbound.json_or_none(response) if response.status_code == 200 else None
            if answer is not None:
                config = _object(answer.get("configuration"))
                statuses, media = _object(config.get("statuses")), _object(config.get("media_attachments"))
                # Pleroma and Akkoma say it at the top of v1: max_toot_chars, upload_limit (bytes, any file).
                pleroma = {"max_characters": answer.get("max_toot_chars"),
                           "image_size_limit": answer.get("upload_limit"),
                           "video_size_limit": answer.get("upload_limit")}
                found = {k: v for k, v in {**pleroma, **statuses, **media}.items()
                         if k in LIMIT_KEYS and _usable_limit(k, v)}
                if isinstance(answer.get("version"), str):
                    found["version"] = answer["version"][:100]
                return found
        return None

    def _software(self, client, instance):
        """What the server is, "name version" ("gotosocial 0.17.3"): from NodeInfo 2.x, else from the
        "(compatible; Name x.y)" in the instance's version, else Mastodon at that version."""
        try:
            links = outbound.json_or_none(client.get("/.well-known/nodeinfo")) or {}
            href = next((link.get("href") for link in links.get("links") or []
                         if isinstance(link, dict) and str(link.get("rel", "")).startswith(NODEINFO_SCHEMA)), None)
            # Only a document on the instance itself: its answer decides how the instance is spoken to.
            if isinstance(href, str) and outbound.origin(href) == outbound.origin(self.instance_url):
                software = _object((outbound.json_or_none(client.get(href)) or {}).get("software"))
                name, version = software.get("name"), software.get("version")
                if isinstance(name, str) and name.strip():
                    return f"{name.strip().lower()[:40]} {str(version or '').strip()[:40]}".strip()
        except (httpx.HTTPError, httpx.InvalidURL, outbound.Unusable, ValueError):
            pass
        version = (instance or {}).get("version") or ""
        compatible = COMPATIBLE.search(version)
        if compatible:
            return f"{compatible.group(1).lower()} {compatible.group(2)}"
        return f"mastodon {version.split()[0]}".strip() if version else "mastodon"

    @property
    def software(self):
        """The server's name as found when connecting ("mastodon" for channels connected before)."""
        return (self.channel.settings.get("software") or "mastodon").split()[0]

    def _client(self):
        timeout = float(self.config.get("PUBLISH_TIMEOUT", 30))
        return outbound.Client(base_url=self.instance_url, total_seconds=timeout,
                               timeout=httpx.Timeout(max(2.0, timeout / 3), connect=5.0),
                               headers={"Authorization": f"Bearer {self.channel.credentials.get('access_token')}",
                                        "User-Agent": "pagesite"})

    # -- checking -----------------------------------------------------------

    def count_characters(self, text):
        """Graphemes, with each link as ``characters_reserved_per_url`` and @user@domain as @user."""
        per_url = (self.channel.limits or {}).get("characters_reserved_per_url")
        if per_url is None and self.software in MASTODON_ITSELF:
            per_url = FALLBACK["characters_reserved_per_url"]  # Mastodon's rule, said or not
        if per_url is None:  # a server that did not say counts a link as the characters it has
            return _count_without_domains(text)
        per_url = int(per_url)
        urls = find_urls(text)
        count, position = 0, 0
        for start, end in urls:
            count += _count_without_domains(text[position:start]) + per_url
            position = end
        return count + _count_without_domains(text[position:])

    def check(self, page, limits):
        problems = super().check(page, limits)
        kinds = {a.content_type.split("/")[0] for a in page.attachments}
        if "video" in kinds and len(page.attachments) > 1:
            problems.append("Mastodon takes one video alone, or images only; not a video with other attachments.")
        if self.software == "pixelfed" and not any(a.content_type.startswith("image/") for a in page.attachments):
            problems.append("Pixelfed posts are pictures: add at least one image.")
        for a in page.attachments:
            if a.content_type.startswith("image/") and limits.max_image_bytes and a.size > limits.max_image_bytes:
                problems.append(f"{a.filename}: image is {a.size} bytes; at most {limits.max_image_bytes}.")
        return problems

    # -- publishing ---------------------------------------------------------

    def publish(self, page, idempotency_key, *, schedule_id, attempt, last_attempt_at=None):
        with self._client() as client:
            forgotten = last_attempt_at and _now() - last_attempt_at > timedelta(hours=IDEMPOTENCY_HOURS) - \
                timedelta(minutes=5)
            if forgotten or (last_attempt_at and self.software not in KEEPS_KEYS):
                # The instance may have forgotten the key by now, or never keeps one: look before posting again.
                earlier = self._find_recent(client, page, since=last_attempt_at - timedelta(minutes=5))
                if earlier:
                    return self._result(earlier, ("Found the post made by an earlier attempt; not posted again.",))
            media_ids = [self._upload(client, a) for a in page.attachments]
            body = {"status": page.text, "visibility": self.channel.settings.get("visibility") or "public"}
            if media_ids:
                body["media_ids"] = media_ids
            if self.channel.settings.get("language"):
                body["language"] = self.channel.settings["language"]
            response = _request(client, "POST", "/api/v1/statuses", json=body,
                                headers={"Idempotency-Key": idempotency_key}, outcome_unknown=True)
            _raise_for(response, "posting")
            return self._result(_answer(response, outcome_unknown=True, id=str))

    # -- reading back ---------------------------------------------------------

    reads_counts = True
    counts_per_call = 40  # GET /api/v1/statuses takes up to 40 ids (Mastodon 4.3)

    def read_counts(self, external_ids):
        """The statuses' favourites, reblogs and replies (and quotes, where the server counts them), many
        per call; a server without the batch call is asked one status at a time."""
        ids = list(external_ids)
        with self._client() as client:
            response = _request(client, "GET", "/api/v1/statuses", params=[("id[]", i) for i in ids])
            if response.status_code in (404, 405) and len(ids) > 0:  # older servers: one by one
                return {i: self._one_count(client, i) for i in ids}
            _raise_for(response, "reading the posts' counts")
            found = {}
            for status in _answer(response, shape=list):
                if isinstance(status, dict) and isinstance(status.get("id"), str):
                    found[status["id"]] = _counts(status)
        return {i: found.get(i) for i in ids}  # a status not in the answer is gone

    def _one_count(self, client, status_id):
        response = _request(client, "GET", f"/api/v1/statuses/{status_id}")
        if response.status_code == 404:
            return None
        _raise_for(response, "reading the post's counts")
        return _counts(_answer(response, id=str))

    def _result(self, status, notes=()):
        url = outbound.text_or_none(status.get("url")) or outbound.text_or_none(status.get("uri"))
        return PublishResult(external_id=status["id"], url=url, notes=notes)

    def _upload(self, client, attachment):
        """Upload one attachment with its description; wait until the instance has processed it."""
        upload = {"files": {"file": (attachment.filename, attachment.read(), attachment.content_type)},
                  "data": {"description": attachment.alt_text or ""}}
        response = _request(client, "POST", "/api/v2/media", **upload)
        if response.status_code in (404, 405):  # a server with the first version only (Friendica, older ones)
            response = _request(client, "POST", "/api/v1/media", **upload)
        _raise_for(response, f"uploading {attachment.filename}")
        media = _answer(response, id=str)
        if response.status_code == 200 and media.get("url"):
            return media["id"]
        budget = min(MEDIA_WAIT_SECONDS, float(self.config.get("PUBLISH_TIMEOUT", 30)) * 0.6)
        deadline, delay = time.monotonic() + budget, 0.25
        while time.monotonic() < deadline:
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 5.0)
            polled = _request(client, "GET", f"/api/v1/media/{media['id']}")
            if polled.status_code == 200:
                return media["id"]
            if polled.status_code != 206:
                _raise_for(polled, f"waiting for {attachment.filename} to be processed")
        raise TransientError(f"The instance was still processing {attachment.filename} after {budget:.0f} s; "
                             "will try again.")

    def _find_recent(self, client, page, since):
        """The account's status with this page's text (and descriptions) posted after ``since``, or None."""
        account_id = self.channel.credentials.get("account_id")
        if not account_id:
            response = _request(client, "GET", "/api/v1/accounts/verify_credentials")
            _raise_for(response, "reading the account")
            account_id = _answer(response, id=str)["id"]
        response = _request(client, "GET", f"/api/v1/accounts/{account_id}/statuses",
                            params={"limit": 40, "exclude_reblogs": "true", "exclude_replies": "true"})
        _raise_for(response, "looking for an earlier post")
        descriptions = [a.alt_text or "" for a in page.attachments]
        for status in _answer(response, shape=list):
            status = _checked(response, status, id=str)
            if _parse_time(status.get("created_at")) < since:
                continue
            media = status.get("media_attachments") if isinstance(status.get("media_attachments"), list) else []
            if [_object(m).get("description") or "" for m in media] != descriptions:
                continue
            source = _request(client, "GET", f"/api/v1/statuses/{status['id']}/source")
            if source.status_code == 200 and _object(outbound.json_or_none(source)).get("text") == page.text:
                return status
        return None


def _counts(status):
    def number(key):
        value = status.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
    return Counts(likes=number("favourites_count"), reposts=number("reblogs_count"), replies=number("replies_count"),
                  quotes=number("quotes_count"))


def _limits(found, software="mastodon"):
    def get(key):
        value = found.get(key)
        return FALLBACK[key] if value is None else value

    name = software.split()[0]
    per_url = found.get("characters_reserved_per_url")
    if per_url is None and name in MASTODON_ITSELF:
        per_url = FALLBACK["characters_reserved_per_url"]
    links = f"each link counts as {per_url}" if per_url is not None else "links count in full"
    return Limits(max_characters=int(get("max_characters")),
                  counting=f"graphemes; {links}, a mention of another instance counts only its @name",
                  max_attachments=int(get("max_media_attachments")),
                  content_types=tuple(get("supported_mime_types")),
                  max_image_bytes=int(get("image_size_limit")), max_video_bytes=int(get("video_size_limit")),
                  max_description=int(get("description_limit")),
                  characters_reserved_per_url=None if per_url is None else int(per_url))


def _count_without_domains(text):
    return graphemes(MENTION.sub(lambda m: "@" + m.group(1), text))


def _now():
    return datetime.now(timezone.utc)


def _parse_time(value):
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


LIMIT_KEYS = ("max_characters", "characters_reserved_per_url", "max_media_attachments", "supported_mime_types",
              "image_size_limit", "video_size_limit", "description_limit", "image_matrix_limit")


def _usable_limit(key, value):
    """A limit the instance gave in a form we can use; others are left to the fallback."""
    if key == "supported_mime_types":
        return isinstance(value, list) and all(isinstance(t, str) for t in value)
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _object(value):
    return value if isinstance(value, dict) else {}


def _unusable(url, error, outcome_unknown=False):
    return UnusableAnswer(FIELD, f"{outbound.origin(url)} answered with {error.what}, not Mastodon's API: check the "
                                 "instance's address.", outcome_unknown=outcome_unknown)


def _overtime(url, error, outcome_unknown=False):
    return UnusableAnswer(FIELD, f"{outbound.origin(url)} was still sending its answer after {error.total:g} s and was cut "
                                 "off: check the instance's address, or try again later.",
                          outcome_unknown=outcome_unknown)


def _answer(response, /, shape=dict, outcome_unknown=False, **fields):
    """The answer's JSON (an object with ``fields`` of those types, or a list); UnusableAnswer when it is not."""
    try:
        value = outbound.json_of(response)
        return outbound.fields(value, **fields) if shape is dict else outbound.expect(value, shape, "the answer")
    except outbound.Unusable as e:
        raise _unusable(response.request.url, e, outcome_unknown) from None


def _checked(response, item, /, **fields):
    """One item of a list the instance answered, with ``fields`` of those types."""
    try:
        return outbound.fields(item, **fields)
    except outbound.Unusable as e:
        raise _unusable(response.request.url, e) from None


def _not_the_api(response, outcome_unknown=False):
    """Raise UnusableAnswer for a refusal that is not Mastodon's: its errors are JSON objects, so a
    4xx web page (a proxy's, a firewall's) says nothing about the token or the post."""
    if 400 <= response.status_code < 500 and response.status_code != 429 and outbound.json_or_none(response) is None:
        raise _unusable(response.request.url, outbound.Unusable(
            f"HTTP {response.status_code} and {outbound.described(response)}"), outcome_unknown)


def _request(client, method, url, outcome_unknown=False, **kwargs):
    try:
        response = client.request(method, url, **kwargs)
    except outbound.Refused as e:
        raise InvalidChannel(FIELD, str(e)) from None
    except outbound.Unusable as e:
        raise _unusable(client.base_url.join(url), e, outcome_unknown) from None
    except outbound.Overtime as e:
        raise _overtime(client.base_url.join(url), e, outcome_unknown) from None
    except httpx.TimeoutException:
        if outcome_unknown:
            raise TransientError("The instance did not answer in time; the outcome is unknown. The retry uses the "
                                 "same Idempotency-Key, so it cannot post twice.", outcome_unknown=True)
        raise TransientError("The instance did not answer in time.")
    except httpx.TransportError as e:
        raise TransientError(f"Could not reach the instance ({type(e).__name__}).")
    _not_the_api(response, outcome_unknown)
    return response


def _error_text(response):
    body = outbound.json_or_none(response) or {}
    text = next((v for v in (body.get("error_description"), body.get("error")) if isinstance(v, str) and v), None)
    return outbound.printable(text) if text else response.reason_phrase


def _raise_for(response, doing, field=None):
    """Map an answer of the instance to the provider errors; return quietly on 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        target = outbound.printable(response.headers.get("Location", "another address"))
        raise InvalidChannel(FIELD, f"{outbound.origin(response.request.url)} sent a redirect to {target} while {doing}: "
                                    "give the instance's own address (redirects are not followed).")
    text = _error_text(response)
    if status in (401, 403):
        raise AuthenticationError(f"The instance refused this channel's access token while {doing} ({text}): "
                                  "reconnect it.")
    if status == 429:
        raise TransientError(f"The instance's rate limit was reached while {doing}.",
                             retry_after=seconds_to_wait(response.headers))
    if status >= 500:
        raise TransientError(f"The instance had a problem while {doing} (HTTP {status}).")
    if field:
        raise InvalidChannel(field, f"The instance refused {doing}: {text}")
    raise PermanentError(f"The instance refused {doing}: {text}")
