"""Nostr: a kind 1 note, signed with the channel's key, sent to each of its relays.

A channel here is a key pair (the secret key encrypted like every credential:
pasted as ``nsec1…`` or hex, or made for the user and shown once) and the
relays to publish to. A page becomes a NIP-01 event of kind 1, signed with a
BIP-340 Schnorr signature (coincurve, the libsecp256k1 binding). Its
``created_at`` is the schedule's chosen time and its content the page's
text, so every attempt of a schedule makes the **same event id**, and a relay
that already has it answers ``OK true "duplicate:"``: Nostr's own
idempotency. The event goes to every relay (``["EVENT", …]``, answered with
NIP-20 ``["OK", id, accepted, message]``); it is published when at least
one relay accepts it, and each relay's answer is kept in the log's notes.

Images need a media server (NIP-96 or Blossom), which a channel does not
name yet: a page with attachments is refused at compose, saying so.

Every relay connection goes through ``outbound.websocket`` (no private
addresses unless the operator allows them).
"""

import hashlib
import json
import os

import bech32
from coincurve import PrivateKey

from .. import outbound
from . import register
from .base import Account, Connection, InvalidChannel, Limits, PermanentError, Provider, PublishResult, TransientError

MAX_RELAYS = 8
MAX_TEXT = 16_000  # Nostr has no limit of its own; relays refuse events of more than about 64 KB
RELAYS_FIELD = "settings.relays"
KEY_FIELD = "credentials.secret_key"


def _bech32(hrp, data):
    return bech32.bech32_encode(hrp, bech32.convertbits(data, 8, 5))


def secret_key_bytes(text):
    """The 32 bytes of a secret key given as ``nsec1…`` or 64 hex digits; ValueError otherwise."""
    text = (text or "").strip()
    if text.startswith("nsec1"):
        hrp, data = bech32.bech32_decode(text)
        key = bytes(bech32.convertbits(data, 5, 8, False) or b"") if hrp == "nsec" and data else b""
    else:
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
    if len(key) != 32:
        raise ValueError("Give the secret key as nsec1… or 64 hex digits, or leave it empty to have one made.")
    PrivateKey(key)  # ValueError when it is 0 or not below the curve's order
    return key


def public_key(secret):
    """The x-only public key (hex) of a 32-byte secret key."""
    return PrivateKey(secret).public_key_xonly.format().hex()


def event_id(pubkey, created_at, kind, tags, content):
    """NIP-01: the SHA-256 of ``[0, pubkey, created_at, kind, tags, content]`` serialised without spaces."""
    serialised = json.dumps([0, pubkey, created_at, kind, tags, content], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(serialised.encode("utf-8")).hexdigest()


def signed_event(secret, created_at, content, kind=1, tags=()):
    pubkey = public_key(secret)
    tags = [list(tag) for tag in tags]
    identifier = event_id(pubkey, created_at, kind, tags, content)
    signature = PrivateKey(secret).sign_schnorr(bytes.fromhex(identifier), os.urandom(32)).hex()
    return {"id": identifier, "pubkey": pubkey, "created_at": created_at, "kind": kind, "tags": tags,
            "content": content, "sig": signature}


def relays_of(text):
    """The relays in ``text`` (one per line, or separated by commas or spaces), in order, without repeats."""
    found = []
    for relay in (text or "").replace(",", " ").split():
        relay = relay.rstrip("/")
        parts = outbound.split(relay)
        if parts is None or parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise InvalidChannel(RELAYS_FIELD, f"{outbound.printable(relay, 80)} is not a relay: relays are "
                                               "wss://… addresses.")
        if relay not in found:
            found.append(relay)
    if not found:
        raise InvalidChannel(RELAYS_FIELD, "Give at least one relay, like wss://relay.example.org.")
    if len(found) > MAX_RELAYS:
        raise InvalidChannel(RELAYS_FIELD, f"At most {MAX_RELAYS} relays.")
    return found


@register
class NostrProvider(Provider):
    name = "nostr"
    label = "Nostr"
    description = ("Posts notes to Nostr relays, signed with a key of this channel. Paste your nsec, or leave it "
                   "empty to have a key made (shown once: keep it somewhere safe).")
    settings_schema = {
        "type": "object",
        "required": ["relays"],
        "properties": {
            "relays": {"type": "string", "title": "Relays", "maxLength": 2000,
                       "description": f"Up to {MAX_RELAYS} wss:// addresses, separated by spaces or commas"},
        },
    }
    credentials_schema = {
        "type": "object",
        "properties": {
            "secret_key": {"type": "string", "title": "Secret key", "secret": True, "maxLength": 100,
                           "revealed": "It is your Nostr identity: copy it now and keep it somewhere safe (a "
                                       "password manager); it is not shown again.",
                           "description": "nsec1… (or 64 hex digits); leave empty to have one made"},
        },
    }

    @classmethod
    def default_limits(cls):
        return Limits(max_characters=MAX_TEXT, counting="Unicode characters", max_attachments=0, content_types=())

    def _timeout(self):
        return float(self.config.get("PUBLISH_TIMEOUT") or 30)

    def check(self, page, limits):
        problems = []
        length = self.count_characters(page.text)
        if length > limits.max_characters:
            problems.append(f"text is {length} characters; at most {limits.max_characters}.")
        if page.attachments:
            problems.append("Nostr needs a media server (NIP-96 or Blossom) for images, and this channel names none: "
                            "post the text alone, or put a link to the image in it.")
        return problems

    # -- connecting ------------------------------------------------------------------------------------

    def connect(self):
        relays = relays_of(self.channel.settings.get("relays"))
        given = (self.channel.credentials.get("secret_key") or "").strip()
        try:
            secret = secret_key_bytes(given) if given else os.urandom(32)
        except ValueError as e:
            raise InvalidChannel(KEY_FIELD, str(e)) from None
        for relay in relays:  # each must answer now, or the first post would find out
            try:
                with outbound.websocket(relay, timeout=min(self._timeout(), 10)):
                    pass
            except outbound.Refused as e:
                raise InvalidChannel(RELAYS_FIELD, str(e)) from None
            except Exception as e:  # OSError, a refused handshake, a timeout: the relay does not answer as one
                raise InvalidChannel(RELAYS_FIELD, f"{relay} did not answer as a relay ({type(e).__name__}).") \
                    from None
        pubkey = public_key(secret)
        npub = _bech32("npub", bytes.fromhex(pubkey))
        # Kept as nsec, the form people back up; a generated one is shown once.
        return Connection(account=Account(handle=f"{npub[:14]}…{npub[-6:]}", url=f"https://njump.me/{npub}"),
                          limits=self.default_limits(), credentials={"secret_key": _bech32("nsec", secret)},
                          settings={"relays": " ".join(relays), "pubkey": pubkey})

    # -- publishing ------------------------------------------------------------------------------------

    def publish(self, page, idempotency_key, *, schedule_id, attempt, last_attempt_at=None):
        secret = secret_key_bytes(self.channel.credentials["secret_key"])
        # The chosen time, not now: the same content and time give the same event id on every attempt.
        created_at = int(page.scheduled_at.timestamp()) if page.scheduled_at else 0
        event = signed_event(secret, created_at, page.text)
        answers = {relay: self._send(relay, event) for relay in relays_of(self.channel.settings.get("relays"))}
        accepted = [relay for relay, (ok, _) in answers.items() if ok]
        notes = tuple(f"{relay}: {'accepted' if ok else 'did not take it'}{f' ({said})' if said else ''}"
                      for relay, (ok, said) in answers.items())
        note_id = _bech32("note", bytes.fromhex(event["id"]))
        if accepted:
            return PublishResult(external_id=event["id"], url=f"https://njump.me/{note_id}", notes=notes)
        if all(ok is False for ok, _ in answers.values()):
            raise PermanentError("Every relay refused the note: " + "; ".join(notes))
        # Some relays said nothing: it may be there; the retry sends the very same event.
        raise TransientError("No relay confirmed the note: " + "; ".join(notes) + ". The retry sends the same "
                             "event, so it cannot appear twice.", outcome_unknown=True)

    def _send(self, relay, event):
        """(accepted, message): True or False as the relay answered OK, None when it did not answer."""
        try:
            with outbound.websocket(relay, timeout=min(self._timeout(), 10)) as socket:
                socket.send(json.dumps(["EVENT", event], ensure_ascii=False))
                while True:
                    answer = json.loads(socket.recv(timeout=min(self._timeout(), 10)))
                    # One event per connection, so an OK is its answer (some relays leave the id empty on refusals).
                    if isinstance(answer, list) and len(answer) >= 3 and answer[0] == "OK" \
                            and answer[1] in (event["id"], ""):
                        said = outbound.printable(str(answer[3]), 160) if len(answer) > 3 and answer[3] else ""
                        # NIP-20: "duplicate:" means the relay has it, whatever the flag says.
                        return bool(answer[2]) or said.startswith("duplicate:"), said
                    if isinstance(answer, list) and answer[:1] == ["NOTICE"] and len(answer) > 1:
                        return None, outbound.printable(str(answer[1]), 160)
        except outbound.Refused as e:
            return False, str(e)
        except TimeoutError:
            return None, "no answer in time"
        except Exception as e:  # the connection failed or closed: whether it took the event is unknown
            return None, f"no answer ({type(e).__name__})"
