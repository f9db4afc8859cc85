"""The Matrix provider against a real homeserver: Synapse from PyPI, started
by the tests (tests/peers.py) with SQLite. Events are read back from the room
as another member sees them; media are downloaded again and compared."""

from urllib.parse import quote

import httpx
import pytest

from networks.conftest import attachment, channel, image_bytes, page
from networks.slow_answers import SlowAnswers
from pagesite.providers.base import AuthenticationError, InvalidChannel, Limits, TransientError
from pagesite.providers.matrix import MatrixProvider, transaction_id

CONFIG = {"PUBLISH_TIMEOUT": 15}


@pytest.fixture
def room(synapse):
    """A public room with an alias, its owner, and a poster who has not joined it yet."""
    owner, poster = synapse.register(), synapse.register()
    alias_name = f"news{poster.name}"
    room_id = synapse.create_room(owner, alias=alias_name)
    return {"id": room_id, "alias": f"#{alias_name}:localhost", "owner": owner, "poster": poster}


def provider_for(synapse, room, url=None, **credentials):
    credentials = credentials or {"access_token": room["poster"].token}
    return MatrixProvider(channel("matrix", {"homeserver_url": url or synapse.url, "room": room["alias"]},
                                  credentials), CONFIG)


def connected(synapse, room, **credentials):
    provider = provider_for(synapse, room, **credentials)
    connection = provider.connect()
    provider.channel.settings, provider.channel.credentials = connection.settings, connection.credentials
    provider.channel.limits = connection.limits.to_dict()
    provider.connection = connection
    return provider


def test_connect_joins_the_room_and_reads_the_upload_limit(synapse, room):
    provider = connected(synapse, room)
    assert provider.connection.settings["room_id"] == room["id"]
    assert provider.connection.account.handle == room["poster"].user_id
    assert provider.connection.limits.max_image_bytes == 5 * 1024 * 1024  # the tests' max_upload_size
    members = synapse.api("GET", f"/_matrix/client/v3/rooms/{quote(room['id'])}/joined_members",
                          token=room["owner"].token)["joined"]
    assert room["poster"].user_id in members


def test_a_user_and_password_are_exchanged_once_for_a_token_and_not_kept(synapse, room):
    poster = room["poster"]
    provider = connected(synapse, room, user=poster.user_id, password=poster.password)
    kept = provider.connection.credentials
    assert set(kept) == {"access_token", "user_id", "device_id"} and kept["access_token"] != poster.token
    assert poster.password not in str(kept)


@pytest.mark.parametrize("credentials, field", [
    ({"access_token": "syt_not_a_real_token"}, "credentials.access_token"),
    ({"user": "nobody-here", "password": "wrong"}, "credentials.password"),
])
def test_refused_credentials_are_errors_on_their_field(synapse, room, credentials, field):
    with pytest.raises(InvalidChannel) as refused:
        provider_for(synapse, room, **credentials).connect()
    assert refused.value.field == field


def test_a_room_that_does_not_exist_is_an_error_on_the_room(synapse, room):
    provider = MatrixProvider(channel("matrix", {"homeserver_url": synapse.url, "room": "#nowhere:localhost"},
                                      {"access_token": room["poster"].token}), CONFIG)
    with pytest.raises(InvalidChannel, match="Could not join #nowhere:localhost") as refused:
        provider.connect()
    assert refused.value.field == "settings.room"


def test_text_and_two_described_images_arrive_as_events(synapse, room):
    provider = connected(synapse, room)
    wide, tall = image_bytes(320, 200), image_bytes(200, 320, fmt="JPEG")
    result = provider.publish(page("Tags like <b>this</b> stay text\nsecond line",
                                   attachment(wide, "A wide red one", "wide.png"),
                                   attachment(tall, "A tall red one", "tall.jpg", id=2)),
                              "ps-0123456789abcdef0123456789abcdef", schedule_id=1, attempt=1)
    text, first, second = synapse.messages(room["id"], room["owner"])
    assert result.external_id == text["event_id"]
    assert text["content"]["body"] == "Tags like <b>this</b> stay text\nsecond line"
    assert text["content"]["formatted_body"] == "Tags like &lt;b&gt;this&lt;/b&gt; stay text<br>second line"
    assert [(e["content"]["msgtype"], e["content"]["body"], e["content"]["info"]["w"]) for e in (first, second)] == [
        ("m.image", "A wide red one", 320), ("m.image", "A tall red one", 200)]
    server, media_id = first["content"]["url"].removeprefix("mxc://").split("/")
    downloaded = httpx.get(f"{synapse.url}/_matrix/client/v1/media/download/{server}/{media_id}",
                           headers={"Authorization": f"Bearer {room['owner'].token}"}, timeout=15)
    assert downloaded.content == wide
    assert result.url == f"https://matrix.to/#/{room['id']}/{quote(text['event_id'])}"


def test_the_same_key_sends_the_same_events_once(synapse, room):
    provider = connected(synapse, room)
    key = "ps-aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb"
    first = provider.publish(page("Once"), key, schedule_id=1, attempt=1)
    again = provider.publish(page("Once"), key, schedule_id=1, attempt=2)
    assert again.external_id == first.external_id
    assert [e["content"]["body"] for e in synapse.messages(room["id"], room["owner"])] == ["Once"]
    assert transaction_id(key, 0) != transaction_id(key, 1) != transaction_id("ps-other", 0)


def test_a_lost_answer_is_retried_under_the_same_transaction_id(synapse, room):
    provider = connected(synapse, room)
    proxy = SlowAnswers(synapse.url)
    try:
        provider.channel.settings["homeserver_url"] = proxy.url
        provider.config = {"PUBLISH_TIMEOUT": 1}
        key = "ps-cccccccccccccccccccccccccccccccc"
        path = (f"/_matrix/client/v3/rooms/{provider.channel.settings['room_id']}/send/m.room.message/"
                f"{transaction_id(key, 0)}")
        proxy.hold_next("PUT", path, 3)
        with pytest.raises(TransientError) as unknown:
            provider.publish(page("Answer lost"), key, schedule_id=1, attempt=1)
        assert unknown.value.outcome_unknown
        provider.config = CONFIG
        retried = provider.publish(page("Answer lost"), key, schedule_id=1, attempt=2)
        [event] = synapse.messages(room["id"], room["owner"])
        assert retried.external_id == event["event_id"]
    finally:
        proxy.close()


def test_limits_are_bytes_of_utf8(synapse, room):
    provider = connected(synapse, room)
    limits = Limits.from_dict(provider.channel.limits)
    assert provider.check(page("é" * 12_000), limits) == []  # 24,000 bytes
    assert provider.check(page("é" * 12_000 + "x"), limits) == ["text is 24001 characters; at most 24000."]
    big = attachment(image_bytes(1400, 1400, noise=True), "noise", "noise.png")
    assert f"noise.png: image is {big.size} bytes; at most {5 * 1024 * 1024}." in provider.check(page("x", big),
                                                                                                  limits)


def test_a_logged_out_token_needs_reconnecting(synapse, room):
    poster = room["poster"]
    provider = connected(synapse, room, user=poster.user_id, password=poster.password)
    synapse.api("POST", "/_matrix/client/v3/logout", token=provider.channel.credentials["access_token"], json={})
    with pytest.raises(AuthenticationError, match="refused the access token"):
        provider.publish(page("After logout"), "ps-dddddddddddddddddddddddddddddddd", schedule_id=1, attempt=1)


def test_a_poster_kicked_from_the_room_needs_reconnecting(synapse, room):
    provider = connected(synapse, room)
    synapse.api("POST", f"/_matrix/client/v3/rooms/{quote(room['id'])}/kick", token=room["owner"].token,
                json={"user_id": room["poster"].user_id, "reason": "testing"})
    with pytest.raises(AuthenticationError, match="must be in the room"):
        provider.publish(page("Kicked"), "ps-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", schedule_id=1, attempt=1)
