"""Telegram, Discord, Matrix and Nostr in a real browser: their connect forms
(rendered from each provider's schemas) with the keyboard and axe, and a
schedule that may have been published, marked as published from the list.
The peers: Synapse and nostr-relay (real), and for Telegram and Discord the
servers written from each network's documentation (tests/networks)."""

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible, assert_no_sideways_scroll
from networks.discord_shaped import DiscordShaped
from networks.slow_answers import SlowAnswers
from networks.telegram_shaped import TOKEN, TelegramShaped
from peers import nostr_relay, synapse  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def telegram():
    with TelegramShaped() as server:
        yield server


def test_connect_telegram_with_the_keyboard(site, telegram):
    page = site.open(path="/settings/channels")
    page.locator("#connect-telegram summary").focus()
    page.keyboard.press("Enter")
    page.locator("#connect-telegram-name").fill("News on Telegram")
    page.locator("#connect-telegram-settings-chat").fill("@pagesite_news")
    expect(page.locator("#connect-telegram-settings-api_url")).to_have_value("https://api.telegram.org")
    page.locator("#connect-telegram-settings-api_url").fill(telegram.url)
    page.locator("#connect-telegram-settings-descriptions_in_caption").select_option("yes")
    page.locator("#connect-telegram-credentials-bot_token").fill("12345:short")
    page.locator("#connect-telegram-credentials-bot_token").press("Enter")
    error = page.locator("#connect-telegram-credentials-bot_token-error")
    expect(error).to_contain_text("not a bot token")
    expect(page.locator("#connect-telegram-settings-chat")).to_have_value("@pagesite_news")  # kept
    assert_accessible(page, "connect-telegram-error")

    page.locator("#connect-telegram-credentials-bot_token").fill(TOKEN)
    page.locator("#connect-telegram-credentials-bot_token").press("Enter")
    expect(page.get_by_text("News on Telegram (@pagesite_news")).to_be_visible()
    assert TOKEN not in page.content() and TOKEN.split(":")[1] not in page.content()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_connect_discord_and_the_form_passes_axe(site, width):
    with DiscordShaped() as discord:
        page = site.open(viewport=WIDTHS[width], path="/settings/channels")
        page.locator("#connect-discord summary").click()
        page.locator("#connect-discord-name").fill("Our Discord")
        page.locator("#connect-discord-credentials-webhook_url").fill(discord.url + "/api/webhooks/1/x")
        page.get_by_role("button", name="Connect Discord").click()
        expect(page.locator("#connect-discord-credentials-webhook_url-error")).to_contain_text("not a webhook URL")
        expect(page.locator("#connect-discord-credentials-webhook_url")).to_have_value("")  # a secret is not sent back
        assert_accessible(page, f"connect-discord-{width}")
        assert_no_sideways_scroll(page)
        page.locator("#connect-discord-credentials-webhook_url").fill(discord.webhook_url)
        page.get_by_role("button", name="Connect Discord").click()
        expect(page.get_by_text("Our Discord (pagesite")).to_be_visible()
        assert discord.token not in page.content()


def _unanswered_schedule(app, server):
    """A Telegram schedule whose message went out while its answer was lost: failed, outcome unknown."""
    from pagesite.services import channels, pages, publishing, schedules

    proxy = SlowAnswers(server.url)
    saved = app.config["PUBLISH_TIMEOUT"]
    try:
        with app.app_context():
            channel, _ = channels.create_channel("telegram", "News on Telegram",
                                                 {"chat": "@pagesite_news", "api_url": proxy.url}, {"bot_token": TOKEN})
            page = pages.create_page("Did it go out?")
            [schedule] = schedules.create_schedules(page.id, [channel.id], None)
            app.config["PUBLISH_TIMEOUT"] = 0.5
            proxy.hold_next("POST", f"/bot{TOKEN}/sendMessage", 2)
            assert publishing.publish_schedule(schedule.id).outcome == "failed"
            return schedule.id
    finally:
        app.config["PUBLISH_TIMEOUT"] = saved
        proxy.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_schedule_that_may_have_been_published_is_marked_from_the_list(site, app, telegram, width):
    schedule_id = _unanswered_schedule(app, telegram)
    page = site.open(viewport=WIDTHS[width], path="/schedules")
    row = page.locator(f"#schedule-{schedule_id}")
    expect(row.get_by_text("May have been published", exact=True)).to_be_visible()
    expect(row.get_by_text("offers no way to send a post only once")).to_be_visible()
    expect(page.locator(f"#retry-{schedule_id}")).to_have_text("Send again")

    summary = row.get_by_text("Mark as published", exact=True)
    summary.focus()
    page.keyboard.press("Enter")
    link = page.locator(f"#mark-url-{schedule_id}")
    link.fill("ftp://t.me/pagesite_news/101")
    link.press("Enter")  # the browser's own check stops an address that is not a URL; this one is, but not http
    error = page.locator(f"#mark-error-{schedule_id}")
    expect(error).to_contain_text("starting with https://")
    expect(page.locator(f"#mark-url-{schedule_id}")).to_have_value("ftp://t.me/pagesite_news/101")
    assert_accessible(page, f"mark-published-error-{width}")
    assert_no_sideways_scroll(page)

    page.locator(f"#mark-url-{schedule_id}").fill("https://t.me/pagesite_news/101")
    page.locator(f"#mark-url-{schedule_id}").press("Enter")
    expect(page.locator("#schedules-message")).to_have_text(f"Schedule {schedule_id} is marked as published.")
    expect(page.locator(f"#schedule-{schedule_id}")).to_have_attribute("data-status", "published")
    expect(page.locator(f"#mark-{schedule_id}")).to_have_count(0)
    assert len(telegram.messages) == 1


def test_connect_matrix_with_a_user_and_password_that_are_not_kept(site, synapse):
    owner, poster = synapse.register(), synapse.register()
    synapse.create_room(owner, alias=f"web{poster.name}")
    page = site.open(path="/settings/channels")
    page.locator("#connect-matrix summary").click()
    page.locator("#connect-matrix-name").fill("Our room")
    page.locator("#connect-matrix-settings-homeserver_url").fill(synapse.url)
    page.locator("#connect-matrix-settings-room").fill("no-such-room")
    page.locator("#connect-matrix-credentials-user").fill(poster.user_id)
    page.locator("#connect-matrix-credentials-password").fill(poster.password)
    page.get_by_role("button", name="Connect Matrix").click()
    expect(page.locator("#connect-matrix-settings-room-error")).to_contain_text("#alias:example.org")
    expect(page.locator("#connect-matrix-credentials-password")).to_have_value("")  # never sent back
    assert_accessible(page, "connect-matrix-error")
    page.locator("#connect-matrix-settings-room").fill(f"#web{poster.name}:localhost")
    page.locator("#connect-matrix-credentials-password").fill(poster.password)
    page.get_by_role("button", name="Connect Matrix").click()
    expect(page.get_by_text(f"Our room ({poster.user_id}) is connected.")).to_be_visible()
    assert poster.password not in page.content()


def test_connect_nostr_and_the_key_made_for_it_is_shown_once(site, nostr_relay):
    page = site.open(path="/settings/channels")
    page.locator("#connect-nostr summary").click()
    page.locator("#connect-nostr-name").fill("Notes")
    page.locator("#connect-nostr-settings-relays").fill(nostr_relay.url)
    page.get_by_role("button", name="Connect Nostr").click()
    secret = page.locator("[data-revealed-secret]").input_value()
    assert secret.startswith("nsec1")
    assert_accessible(page, "connect-nostr-key-shown")
    site.goto("/settings/channels", page)
    expect(page.locator("tr", has_text="Notes")).to_contain_text("npub1")
    assert secret not in page.content()
