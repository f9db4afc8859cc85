"""The Discord provider against a Discord-webhook-shaped server written from
Discord's documentation (discord_shaped.py; there is no Discord server to
run): connecting, posting text and described images, mentions that never
ping, limits, and each kind of refusal in words."""

import pytest

from networks.conftest import attachment, channel, image_bytes, page
from networks.discord_shaped import CHANNEL_ID, GUILD_ID, WEBHOOK_TOKEN, DiscordShaped
from pagesite.providers.base import AuthenticationError, InvalidChannel, Limits, PermanentError, TransientError
from pagesite.providers.discord import DiscordProvider

CONFIG = {"PUBLISH_TIMEOUT": 10}


@pytest.fixture
def discord():
    with DiscordShaped() as server:
        yield server


def connected(server, url=None, **settings):
    provider = DiscordProvider(channel("discord", settings, {"webhook_url": url or server.webhook_url}), CONFIG)
    connection = provider.connect()
    provider.channel.settings, provider.channel.credentials = connection.settings, connection.credentials
    provider.channel.limits = connection.limits.to_dict()
    provider.connection = connection
    return provider


def test_connect_reads_the_webhook(discord):
    provider = connected(discord, username="Our news")
    assert provider.connection.account.handle == "pagesite"
    assert provider.connection.settings == {"username": "Our news", "channel_id": CHANNEL_ID, "guild_id": GUILD_ID}
    assert provider.connection.limits.max_characters == 2000
    assert discord.requests == [("GET", discord.webhook_url.removeprefix(discord.url), 200)]


@pytest.mark.parametrize("url, words", [
    ("https://discord.com/channels/1/2", "not a webhook URL"),
    ("{base}/api/webhooks/1187654321098765432/wrongwrongwrongwrongwrong", "does not know this webhook"),
    ("{base}/api/webhooks/1999999999999999999/" + WEBHOOK_TOKEN, "does not know this webhook"),
])
def test_a_wrong_webhook_url_is_an_error_on_its_field_and_never_quoted(discord, url, words):
    url = url.format(base=discord.url)
    with pytest.raises(InvalidChannel, match=words) as refused:
        connected(discord, url=url)
    assert refused.value.field == "credentials.webhook_url"
    assert url not in str(refused.value) and "wrongwrong" not in str(refused.value)
    assert WEBHOOK_TOKEN not in str(refused.value)


def test_a_name_discord_forbids_is_an_error_on_the_name(discord):
    with pytest.raises(InvalidChannel, match="clyde") as refused:
        connected(discord, username="Clyde bot")
    assert refused.value.field == "settings.username"


def test_text_is_posted_with_mentions_that_ping_nobody(discord):
    provider = connected(discord, username="Our news")
    result = provider.publish(page("Hello @everyone and <@123>"), "ps-key", schedule_id=1, attempt=1)
    [message] = discord.messages
    assert message["content"] == "Hello @everyone and <@123>" and message["allowed_mentions"] == {"parse": []}
    assert message["username"] == "Our news"
    assert result.external_id == message["id"]
    assert result.url == f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{message['id']}"


def test_two_images_carry_their_descriptions(discord):
    provider = connected(discord)
    provider.publish(page("Two pictures", attachment(image_bytes(320, 200), "A wide red one", "wide.png"),
                          attachment(image_bytes(200, 320, fmt="JPEG"), "A tall red one", "tall.jpg", id=2)),
                     "ps-key", schedule_id=1, attempt=1)
    [message] = discord.messages
    assert [(a["filename"], a["description"], a["content_type"]) for a in message["attachments"]] == [
        ("wide.png", "A wide red one", "image/png"), ("tall.jpg", "A tall red one", "image/jpeg")]


def test_limits_match_the_server(discord):
    provider = connected(discord)
    limits = Limits.from_dict(provider.channel.limits)
    assert provider.check(page("x" * 2000), limits) == []
    assert provider.check(page("x" * 2001), limits) == ["text is 2001 characters; at most 2000."]
    with pytest.raises(PermanentError, match="Must be 2000 or fewer"):
        provider.publish(page("x" * 2001), "ps-key", schedule_id=1, attempt=1)
    images = [attachment(image_bytes(8, 8), "", f"{n}.png", id=n) for n in range(11)]
    assert "11 attachments; at most 10." in provider.check(page("Many", *images), limits)
    assert discord.messages == []


def test_a_rate_limit_is_a_later_try_with_discords_wait(discord):
    provider = connected(discord)
    discord.rate_limited = 1
    with pytest.raises(TransientError) as later:
        provider.publish(page("Soon"), "ps-key", schedule_id=1, attempt=1)
    assert later.value.retry_after == 2.5 and not later.value.outcome_unknown
    assert discord.messages == []


def test_a_deleted_webhook_needs_reconnecting(discord):
    provider = connected(discord)
    discord.deleted = True
    with pytest.raises(AuthenticationError, match="Unknown Webhook") as refused:
        provider.publish(page("Gone"), "ps-key", schedule_id=1, attempt=1)
    assert WEBHOOK_TOKEN not in str(refused.value)


def test_no_answer_after_sending_is_an_unknown_outcome(discord):
    from networks.slow_answers import SlowAnswers

    proxy = SlowAnswers(discord.url)
    try:
        provider = connected(discord)
        provider.channel.credentials["webhook_url"] = discord.webhook_url.replace(discord.url, proxy.url)
        provider.config = {"PUBLISH_TIMEOUT": 1}
        proxy.hold_next("POST", discord.webhook_url.removeprefix(discord.url), 3)
        with pytest.raises(TransientError) as unknown:
            provider.publish(page("Did it arrive?"), "ps-key", schedule_id=1, attempt=1)
        assert unknown.value.outcome_unknown
        assert len(discord.messages) == 1
    finally:
        proxy.close()
