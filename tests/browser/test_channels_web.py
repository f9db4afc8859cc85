"""Channels in a real browser: connect a webhook, post one page to two channels."""

import re

import pytest
from playwright.sync_api import expect

from conftest import wait_until
from webhook_receiver import Receiver

pytestmark = pytest.mark.browser


@pytest.fixture
def receiver():
    r = Receiver(secret=None)  # configured with the secret once pagesite has generated it
    yield r
    r.close()


def _limit_characters(app, channel_name, limit):
    from pagesite.extensions import db
    from pagesite.models import Channel

    with app.app_context():
        channel = db.session.query(Channel).filter_by(name=channel_name).one()
        channel.limits = {**channel.limits, "max_characters": limit}
        db.session.commit()
        db.session.remove()


def test_connect_a_webhook_and_publish_one_page_to_two_channels(site, workers, app, receiver):
    page = site.open(path="/settings/channels")
    page.locator("#connect-webhook summary").click()
    page.locator("#connect-webhook-name").fill("Team site")
    page.locator("#connect-webhook-settings-url").fill(receiver.url)
    page.get_by_role("button", name="Connect Webhook").click()

    expect(page.get_by_text("Team site (127.0.0.1")).to_be_visible()
    secret_box = page.locator("[data-revealed-secret]")
    secret = secret_box.input_value()
    assert secret.startswith("whsec_")
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("[data-copy-status]")).not_to_be_empty()
    site.screenshot("channels-connected", page)
    receiver.secret = secret  # pasted into the receiver
    [ping] = receiver.requests
    assert ping["payload"]["type"] == "ping"

    # Send test: now signed with the secret the receiver knows.
    row = page.locator("tr", has_text="Team site")
    row.get_by_role("button", name="Send test: Team site").click()
    expect(page.get_by_text("answered the test: it is connected")).to_be_visible()
    assert receiver.requests[-1]["verified"]
    # Shown once: the secret is nowhere on the page any more.
    assert secret not in page.content()

    # A limit of 30 characters on the webhook channel, to see the per-channel count turn red.
    _limit_characters(app, "Team site", 30)
    site.goto("/compose", page)
    stub_box = page.get_by_role("checkbox", name=re.compile("^S? ?Stub"))
    hook_box = page.get_by_role("checkbox", name=re.compile("Team site"))
    expect(stub_box).to_be_checked()  # the default channel
    hook_box.check()
    text = page.get_by_label("Text")
    text.fill("A page for two channels, and a little more than thirty")
    hook_id = hook_box.get_attribute("value")
    stub_id = stub_box.get_attribute("value")
    hook_count = page.locator(f"#channel-count-{hook_id}")
    expect(hook_count).to_contain_text("54 / 30")
    expect(hook_count).to_have_class(re.compile(r"\bover\b"))
    expect(page.locator(f"#channel-count-{stub_id}")).to_contain_text("54 / 5000")
    expect(page.locator(f"#channel-count-{stub_id}")).not_to_have_class(re.compile(r"\bover\b"))
    page.get_by_role("button", name="Create page").click()
    error = page.locator(f"#channel-{hook_id}-error")
    expect(error).to_contain_text("text is 54 characters; at most 30.")
    expect(text).to_have_value("A page for two channels, and a little more than thirty")  # kept
    expect(hook_box).to_be_checked()
    site.screenshot("compose-channel-limit", page)

    text.fill("Hello, two channels")
    expect(hook_count).to_contain_text("19 / 30")
    page.get_by_role("button", name="Create page").click()
    notice = page.locator(".notice-success")
    expect(notice).to_contain_text("Channels: Stub, Team site")
    notice.get_by_role("link", name=re.compile(r"Open page \d+")).click()

    links = page.locator("[data-post-link]")
    expect(links).to_have_count(2, timeout=20_000)
    hrefs = sorted(links.nth(i).get_attribute("href") for i in range(2))
    assert hrefs[0].startswith("https://receiver.example/posts/")
    assert hrefs[1].startswith("https://stub.pagesite.invalid/posts/")
    expect(page.locator("tr[data-schedule-id]", has_text="Team site")).to_have_attribute("data-status", "published")
    site.screenshot("page-two-channels", page)
    wait_until(lambda: receiver.deliveries(), message="the signed delivery")
    [delivery] = receiver.deliveries()
    assert delivery["verified"] and delivery["payload"]["data"]["page"]["text"] == "Hello, two channels"

    # The schedules table names each schedule's channel.
    site.goto("/schedules", page)
    expect(page.locator("tbody tr", has_text="Team site")).to_have_count(1)

    # Compose remembers the last choice.
    site.goto("/compose", page)
    expect(page.get_by_role("checkbox", name=re.compile("Team site"))).to_be_checked()


def test_remove_a_channel_after_confirming(site, app, receiver):
    from pagesite.services import channels

    with app.app_context():
        channels.create_channel("webhook", "Old hook", {"url": receiver.url}, {})
    page = site.open(path="/settings/channels")
    page.get_by_role("link", name="Remove Old hook").click()
    expect(page.get_by_role("heading", name=re.compile("Remove Old hook"))).to_be_visible()
    page.get_by_role("button", name="Remove Old hook").click()
    expect(page.get_by_text("was removed")).to_be_visible()
    expect(page.locator("tr", has_text="Old hook")).to_have_count(0)
