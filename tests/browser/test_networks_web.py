"""Bluesky and Mastodon channels in a real browser: connect each through its
form (an app password, an access token), compose to both with each network's
own character count, publish now and follow the links to both posts."""

import re

import pytest
from playwright.sync_api import expect

from peers import mastodon_mock, mastodon_mock_server, pds  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_connect_bluesky_and_mastodon_and_publish_to_both(site, workers, app, pds, mastodon_mock):
    author = pds.create_account()
    _, token = mastodon_mock.new_account()
    page = site.open(path="/settings/channels")

    page.locator("#connect-bluesky summary").click()
    expect(page.locator("#connect-bluesky")).to_contain_text("App passwords")  # where to make one
    page.locator("#connect-bluesky-name").fill("My Bluesky")
    page.locator("#connect-bluesky-settings-service_url").fill(pds.url)
    page.locator("#connect-bluesky-credentials-identifier").fill(author.handle)
    # The account password first: refused, politely, on its field.
    page.locator("#connect-bluesky-credentials-app_password").fill(author.password)
    page.get_by_role("button", name="Connect Bluesky").click()
    expect(page.locator("#connect-bluesky-credentials-app_password-error")).to_contain_text("account password")
    # What was typed is kept, except the password.
    expect(page.locator("#connect-bluesky-name")).to_have_value("My Bluesky")
    expect(page.locator("#connect-bluesky-settings-service_url")).to_have_value(pds.url)
    expect(page.locator("#connect-bluesky-credentials-identifier")).to_have_value(author.handle)
    expect(page.locator("#connect-bluesky-credentials-app_password")).to_have_value("")
    page.locator("#connect-bluesky-credentials-app_password").fill(author.app_password)
    page.get_by_role("button", name="Connect Bluesky").click()
    expect(page.locator("tr", has_text="My Bluesky")).to_contain_text(author.handle)

    page.locator("#connect-mastodon summary").click()
    page.locator("#connect-mastodon-name").fill("My Mastodon")
    page.locator("#connect-mastodon-settings-instance_url").fill(mastodon_mock.url)
    page.locator("#connect-mastodon-credentials-access_token").fill(token)
    page.get_by_role("button", name="Connect Mastodon").click()
    expect(page.locator("tr", has_text="My Mastodon")).to_be_visible()
    site.screenshot("channels-bluesky-mastodon", page)

    site.goto("/compose", page)
    bluesky_box = page.get_by_role("checkbox", name=re.compile("My Bluesky"))
    mastodon_box = page.get_by_role("checkbox", name=re.compile("My Mastodon"))
    for box in page.get_by_role("checkbox").all():
        if box.is_checked():
            box.uncheck()
    bluesky_box.check()
    mastodon_box.check()
    # 18 graphemes of text, then a 47-character link: Bluesky counts it whole, Mastodon as 23.
    text = "Crème brûlée 🍮 at https://example.com/menus/desserts/creme-brulee"
    page.get_by_label("Text").fill(text)
    bluesky_id, mastodon_id = bluesky_box.get_attribute("value"), mastodon_box.get_attribute("value")
    expect(page.locator(f"#channel-count-{bluesky_id}")).to_contain_text("65 / 300")
    expect(page.locator(f"#channel-count-{mastodon_id}")).to_contain_text("41 / 500")
    site.screenshot("compose-bluesky-mastodon", page)
    page.get_by_role("button", name="Create page").click()
    notice = page.locator(".notice-success")
    expect(notice).to_contain_text("My Bluesky")
    notice.get_by_role("link", name=re.compile(r"Open page \d+")).click()

    links = page.locator("[data-post-link]")
    expect(links).to_have_count(2, timeout=30_000)
    hrefs = [links.nth(i).get_attribute("href") for i in range(2)]
    [on_bluesky] = [h for h in hrefs if h.startswith("https://bsky.app/")]
    [on_mastodon] = [h for h in hrefs if h != on_bluesky]
    assert re.fullmatch(rf"https://bsky\.app/profile/{re.escape(author.handle)}/post/[2-7a-z]{{13}}", on_bluesky)
    status_id = on_mastodon.rsplit("/", 1)[1]
    assert mastodon_mock.api("GET", f"/api/v1/statuses/{status_id}", token=token).json()["url"] == on_mastodon
    site.screenshot("page-bluesky-mastodon", page)
    [record] = pds.list_records(author.did)
    assert record["value"]["text"] == text


def test_a_refused_mastodon_token_keeps_what_was_typed_but_the_token(site, mastodon_mock):
    page = site.open(path="/settings/channels")
    page.locator("#connect-mastodon summary").click()
    page.locator("#connect-mastodon-name").fill("Typed once")
    page.locator("#connect-mastodon-settings-instance_url").fill(mastodon_mock.url)
    page.locator("#connect-mastodon-settings-visibility").select_option("unlisted")
    page.locator("#connect-mastodon-settings-language").fill("de")
    page.locator("#connect-mastodon-credentials-access_token").fill("not-a-real-token")
    page.get_by_role("button", name="Connect Mastodon").click()
    expect(page.locator("#connect-mastodon-credentials-access_token-error")).to_contain_text("refused this access token")
    expect(page.locator("#connect-mastodon [role=alert]")).to_be_focused()
    for field, value in (("name", "Typed once"), ("settings-instance_url", mastodon_mock.url),
                         ("settings-visibility", "unlisted"), ("settings-language", "de"),
                         ("credentials-access_token", "")):
        expect(page.locator(f"#connect-mastodon-{field}")).to_have_value(value)
    assert "not-a-real-token" not in page.content()  # a secret is never sent back
