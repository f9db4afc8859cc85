"""The Telegram provider against a Bot-API-shaped server written from
Telegram's documentation (telegram_shaped.py; there is no Telegram server to
run): connecting, posting text and described images, limits counted as
Telegram counts them, and each kind of refusal in words."""

import pytest

from networks.conftest import attachment, channel, image_bytes, page
from networks.telegram_shaped import TOKEN, TelegramShaped, utf16_length
from pagesite.providers.base import AuthenticationError, InvalidChannel, Limits, PermanentError, TransientError
from pagesite.providers.telegram import TelegramProvider

CONFIG = {"PUBLISH_TIMEOUT": 10}


@pytest.fixture
def telegram():
    with TelegramShaped() as server:
        yield server


def provider_for(server, chat="@pagesite_news", token=TOKEN, **settings):
    return TelegramProvider(channel("telegram", {"chat": chat, "api_url": server.url, **settings},
                                    {"bot_token": token}), CONFIG)


def connected(server, **settings):
    provider = provider_for(server, **settings)
    connection = provider.connect()
    provider.channel.settings, provider.channel.credentials = connection.settings, connection.credentials
    provider.channel.limits = connection.limits.to_dict()
    provider.connection = connection
    return provider


def test_connect_reads_the_bot_and_the_channel(telegram):
    provider = connected(telegram)
    settings = provider.connection.settings
    assert settings["chat_id"] == -1001234567890 and settings["chat_username"] == "pagesite_news"
    assert provider.connection.account.handle == "@pagesite_news"
    assert provider.connection.account.url == "https://t.me/pagesite_news"
    assert provider.connection.limits.max_characters == 4096
    assert [m for m, p, _ in telegram.requests] == ["POST"] * 3
    assert [p.rsplit("/", 1)[1] for _, p, _ in telegram.requests] == ["getMe", "getChat", "getChatMember"]


def test_a_chat_typed_without_the_at_sign_or_as_a_link_is_found(telegram):
    for typed in ("pagesite_news", "https://t.me/pagesite_news"):
        assert connected(telegram, chat=typed).connection.settings["chat"] == "@pagesite_news"


@pytest.mark.parametrize("token, words", [
    ("not a token", "not a bot token"),
    ("987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", "does not know this bot token"),
])
def test_a_wrong_token_is_an_error_on_its_field(telegram, token, words):
    with pytest.raises(InvalidChannel, match=words) as refused:
        provider_for(telegram, token=token).connect()
    assert refused.value.field == "credentials.bot_token"
    assert token not in str(refused.value)


def test_an_unknown_chat_and_a_bot_that_may_not_post_are_errors_on_the_chat(telegram):
    with pytest.raises(InvalidChannel, match="cannot see @nowhere_here") as unknown:
        provider_for(telegram, chat="@nowhere_here").connect()
    with pytest.raises(InvalidChannel, match="make it an administrator") as member_only:
        provider_for(telegram, chat="@reading_room").connect()
    assert unknown.value.field == member_only.value.field == "settings.chat"


def test_text_is_sent_as_typed_and_links_to_the_message(telegram):
    provider = connected(telegram)
    typed = "Tags like <b>this</b> & “quotes” stay text 🎉"
    result = provider.publish(page(typed), "ps-key", schedule_id=1, attempt=1)
    [message] = telegram.messages
    assert message["kind"] == "text" and message["text"] == typed
    assert result.url == f"https://t.me/pagesite_news/{message['message_id']}"
    assert result.external_id == f"-1001234567890:{message['message_id']}"


def test_two_described_images_go_as_one_album_with_the_text_as_caption(telegram):
    provider = connected(telegram)
    images = (attachment(image_bytes(320, 200), "A wide red one", "wide.png"),
              attachment(image_bytes(200, 320, fmt="JPEG"), "A tall red one", "tall.jpg", id=2))
    provider.publish(page("Two pictures", *images), "ps-key", schedule_id=1, attempt=1)
    [album] = telegram.messages
    assert album["kind"] == "album" and album["text"] == "Two pictures"
    assert [(m["type"], m["filename"]) for m in album["media"]] == [("photo", "wide.png"), ("photo", "tall.jpg")]


def test_descriptions_go_in_the_caption_only_when_the_channel_says_so(telegram):
    provider = connected(telegram, descriptions_in_caption="yes")
    provider.publish(page("One picture", attachment(image_bytes(50, 50), "A red square", "square.png")),
                     "ps-key", schedule_id=1, attempt=1)
    [photo] = telegram.messages
    assert photo["kind"] == "photo" and photo["text"] == "One picture\n\n1. A red square"


def test_limits_are_counted_as_telegram_counts_them(telegram):
    provider = connected(telegram)
    limits = Limits.from_dict(provider.channel.limits)
    emoji_text = "🎉" * 2048  # 2,048 code points, 4,096 UTF-16 units: at the limit
    assert utf16_length(emoji_text) == provider.count_characters(emoji_text) == 4096
    assert provider.check(page(emoji_text), limits) == []
    over = emoji_text + "x"
    assert provider.check(page(over), limits) == ["text is 4097 characters; at most 4096."]
    with pytest.raises(PermanentError, match="message is too long"):  # the server agrees
        provider.publish(page(over), "ps-key", schedule_id=1, attempt=1)
    provider.publish(page(emoji_text), "ps-key", schedule_id=2, attempt=1)
    long_caption = page("x" * 1025, attachment(image_bytes(20, 20), "", "dot.png"))
    assert "caption of at most 1024" in provider.check(long_caption, limits)[0]
    with pytest.raises(PermanentError, match="caption is too long"):
        provider.publish(long_caption, "ps-key", schedule_id=3, attempt=1)
    assert len(telegram.messages) == 1


def test_a_rate_limit_is_a_later_try_with_telegrams_wait_and_nothing_sent(telegram):
    provider = connected(telegram)
    telegram.rate_limited, telegram.retry_after = 1, 7
    with pytest.raises(TransientError) as later:
        provider.publish(page("Soon"), "ps-key", schedule_id=1, attempt=1)
    assert later.value.retry_after == 7 and not later.value.outcome_unknown
    assert telegram.messages == []


def test_a_bot_kicked_from_the_channel_needs_reconnecting(telegram):
    provider = connected(telegram)
    telegram.kicked = True
    with pytest.raises(AuthenticationError, match="bot was kicked"):
        provider.publish(page("Gone"), "ps-key", schedule_id=1, attempt=1)


def test_a_revoked_token_needs_reconnecting_and_is_never_quoted(telegram):
    provider = connected(telegram)
    telegram.token = "111:" + "b" * 35
    with pytest.raises(AuthenticationError, match="@BotFather") as refused:
        provider.publish(page("Revoked"), "ps-key", schedule_id=1, attempt=1)
    assert TOKEN not in str(refused.value)


def test_an_unsupported_tag_never_reaches_telegram_because_text_is_escaped(telegram):
    provider = connected(telegram)
    provider.publish(page("<script>alert(1)</script>"), "ps-key", schedule_id=1, attempt=1)
    assert telegram.messages[0]["text"] == "<script>alert(1)</script>"


def test_no_answer_after_sending_is_an_unknown_outcome(telegram):
    from networks.slow_answers import SlowAnswers

    proxy = SlowAnswers(telegram.url)
    try:
        provider = connected(telegram)
        provider.channel.settings["api_url"] = proxy.url
        provider.config = {"PUBLISH_TIMEOUT": 1}
        proxy.hold_next("POST", f"/bot{TOKEN}/sendMessage", 3)
        with pytest.raises(TransientError) as unknown:
            provider.publish(page("Did it arrive?"), "ps-key", schedule_id=1, attempt=1)
        assert unknown.value.outcome_unknown
        assert len(telegram.messages) == 1  # it did
    finally:
        proxy.close()
