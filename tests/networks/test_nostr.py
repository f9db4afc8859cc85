"""The Nostr provider against a real relay: nostr-relay from PyPI, started by
the tests (tests/peers.py) with its signature and age validators on. Events
are read back with a NIP-01 REQ."""

from datetime import datetime, timedelta, timezone

import pytest
from coincurve import PublicKeyXOnly

from conftest import free_port
from networks.conftest import attachment, channel, image_bytes
from pagesite.providers.base import InvalidChannel, Limits, PageData, PermanentError, TransientError
from pagesite.providers.nostr import NostrProvider, event_id, public_key, secret_key_bytes

CONFIG = {"PUBLISH_TIMEOUT": 10}
SECRET_HEX = "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a"


def connected(relays, secret_key=""):
    provider = NostrProvider(channel("nostr", {"relays": relays}, {"secret_key": secret_key}), CONFIG)
    connection = provider.connect()
    provider.channel.settings, provider.channel.credentials = connection.settings, connection.credentials
    provider.channel.limits = connection.limits.to_dict()
    provider.connection = connection
    return provider


def note(text, when=None, *attachments):
    return PageData(id=1, text=text, attachments=tuple(attachments),
                    scheduled_at=when or datetime.now(timezone.utc).replace(microsecond=0))


def dead_relay():
    return f"ws://127.0.0.1:{free_port()}"  # nothing listens there


def test_a_key_made_for_the_channel_is_kept_as_nsec(nostr_relay):
    provider = connected(nostr_relay.url)
    nsec = provider.connection.credentials["secret_key"]
    assert nsec.startswith("nsec1")
    assert provider.connection.settings["pubkey"] == public_key(secret_key_bytes(nsec))
    assert provider.connection.account.handle.startswith("npub1") and provider.connection.account.url.startswith(
        "https://njump.me/npub1")


def test_a_pasted_key_is_read_as_nsec_or_hex(nostr_relay):
    from_hex = connected(nostr_relay.url, SECRET_HEX)
    from_nsec = connected(nostr_relay.url, from_hex.connection.credentials["secret_key"])
    assert from_hex.connection.settings["pubkey"] == from_nsec.connection.settings["pubkey"] == \
        public_key(bytes.fromhex(SECRET_HEX))


@pytest.mark.parametrize("relays, secret, field, words", [
    ("wss://relay.example.org", "nsec1notakey", "credentials.secret_key", "nsec1"),
    ("https://relay.example.org", "", "settings.relays", "is not a relay"),
    ("{dead}", "", "settings.relays", "did not answer as a relay"),
])
def test_bad_keys_and_relays_are_errors_on_their_field(nostr_relay, relays, secret, field, words):
    with pytest.raises(InvalidChannel, match=words) as refused:
        connected(relays.format(dead=dead_relay()), secret)
    assert refused.value.field == field


def test_a_note_is_signed_and_kept_by_the_relay(nostr_relay):
    provider = connected(nostr_relay.url, SECRET_HEX)
    when = datetime.now(timezone.utc).replace(microsecond=0)
    result = provider.publish(note("Hello, relays ⚡", when), "ps-key", schedule_id=1, attempt=1)
    [event] = nostr_relay.events(ids=[result.external_id])
    assert event["kind"] == 1 and event["content"] == "Hello, relays ⚡"
    assert event["created_at"] == int(when.timestamp()) and event["pubkey"] == public_key(bytes.fromhex(SECRET_HEX))
    assert event["id"] == event_id(event["pubkey"], event["created_at"], 1, event["tags"], event["content"])
    assert PublicKeyXOnly(bytes.fromhex(event["pubkey"])).verify(bytes.fromhex(event["sig"]),
                                                                  bytes.fromhex(event["id"]))
    assert result.url.startswith("https://njump.me/note1")
    assert result.notes == (f"{nostr_relay.url}: accepted",)


def test_every_attempt_of_a_schedule_is_the_same_event(nostr_relay):
    provider = connected(nostr_relay.url)
    when = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    first = provider.publish(note("Once only", when), "ps-key", schedule_id=1, attempt=1)
    again = provider.publish(note("Once only", when), "ps-key", schedule_id=1, attempt=2)
    assert again.external_id == first.external_id
    assert "duplicate" in again.notes[0]
    assert len(nostr_relay.events(authors=[provider.channel.settings["pubkey"]])) == 1


def test_one_relay_down_is_a_note_one_relay_up_is_enough(nostr_relay):
    down = dead_relay()
    provider = connected(nostr_relay.url)
    provider.channel.settings["relays"] = f"{nostr_relay.url} {down}"
    result = provider.publish(note("Half the relays"), "ps-key", schedule_id=1, attempt=1)
    assert result.notes[0] == f"{nostr_relay.url}: accepted"
    assert result.notes[1].startswith(f"{down}: did not take it (no answer")


def test_no_relay_answering_is_an_unknown_outcome_retried_as_the_same_event(nostr_relay):
    provider = connected(nostr_relay.url)
    provider.channel.settings["relays"] = dead_relay()
    with pytest.raises(TransientError, match="No relay confirmed") as unknown:
        provider.publish(note("Nobody home"), "ps-key", schedule_id=1, attempt=1)
    assert unknown.value.outcome_unknown


def test_a_relay_refusal_is_permanent_with_the_relays_words(nostr_relay):
    provider = connected(nostr_relay.url)
    two_years_ago = datetime.now(timezone.utc) - timedelta(days=730)  # the relay's is_recent refuses it
    with pytest.raises(PermanentError, match="Every relay refused the note: .*too old"):
        provider.publish(note("From the past", two_years_ago), "ps-key", schedule_id=1, attempt=1)


def test_images_are_refused_at_compose_with_the_reason(nostr_relay):
    provider = connected(nostr_relay.url)
    limits = Limits.from_dict(provider.channel.limits)
    problems = provider.check(note("A picture", None, attachment(image_bytes(10, 10), "dot", "dot.png")), limits)
    assert problems == ["Nostr needs a media server (NIP-96 or Blossom) for images, and this channel names none: "
                        "post the text alone, or put a link to the image in it."]
    assert provider.check(note("x" * 16_000), limits) == []
