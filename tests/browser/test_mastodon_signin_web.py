"""Connecting a Mastodon channel in a real browser by signing in through the
instance (mastodon-mock's own authorisation page and its real redirect back),
and each error said beside the sign-in button with what was typed kept."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible
from conftest import free_port
from peers import mastodon_mock, mastodon_mock_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site_env():
    """The address the instance sends people back to names the web process's port (one for the module)."""
    port = free_port()
    return {"PORT": str(port), "PAGESITE_BASE_URL": f"http://127.0.0.1:{port}"}


def start_signin(site, mock, name="My Mastodon"):
    page = site.open(path="/settings/channels")
    page.locator("#connect-mastodon summary").click()
    page.locator("#connect-mastodon-name").fill(name)
    page.locator("#connect-mastodon-settings-instance_url").fill(mock.url)
    page.locator("#connect-mastodon-settings-visibility").select_option("unlisted")
    page.get_by_role("button", name="Sign in through the instance").click()
    return page


def test_sign_in_through_the_instance_connects_the_account(site, mastodon_mock):
    username, _ = mastodon_mock.new_account()
    page = start_signin(site, mastodon_mock)
    go = page.get_by_role("link", name=f"Continue to {mastodon_mock.url}")
    expect(go).to_be_focused()
    assert_accessible(page, "mastodon-signin-continue")
    page.keyboard.press("Enter")  # the keyboard alone: focus is on the link
    page.wait_for_url(re.compile(re.escape(mastodon_mock.url) + "/oauth/authorize"))
    page.get_by_role("button", name=f"(@{username})").click()  # the instance's own page: pick the account
    page.wait_for_url(re.compile(re.escape(site.url) + "/settings/channels"))
    row = page.locator("tr", has_text="My Mastodon")
    expect(row).to_contain_text(f"@{username}@{urlsplit(mastodon_mock.url).netloc}")
    expect(row).to_contain_text("Connected")
    expect(page.locator(".notice-success")).to_contain_text("is connected")
    assert_accessible(page, "mastodon-signin-connected")


def test_a_refusal_and_a_forged_answer_are_said_beside_the_sign_in(site, mastodon_mock):
    page = start_signin(site, mastodon_mock, name="Refused")
    address = page.get_by_role("link", name=re.compile("Continue to")).get_attribute("href")
    state = parse_qs(urlsplit(address).query)["state"][0]
    # The person clicks "Deny" on the instance: it sends them back with an error instead of a code.
    site.goto(f"/settings/channels/mastodon/callback?error=access_denied&state={state}", page)
    error = page.locator("#connect-mastodon-signin-error")
    expect(error).to_contain_text("did not authorise pagesite")
    expect(page.locator("#connect-mastodon [role=alert]")).to_be_focused()
    # What was typed is still there.
    expect(page.locator("#connect-mastodon-name")).to_have_value("Refused")
    expect(page.locator("#connect-mastodon-settings-instance_url")).to_have_value(mastodon_mock.url)
    expect(page.locator("#connect-mastodon-settings-visibility")).to_have_value("unlisted")
    assert_accessible(page, "mastodon-signin-refused")

    # The same answer again, or one forged in another tab, matches no sign-in started here.
    site.goto(f"/settings/channels/mastodon/callback?code=mockcode_x&state={state}", page)
    expect(error).to_contain_text("does not match one started here")
    expect(page.locator("tr", has_text="Refused")).to_have_count(0)


def test_reconnect_signs_in_again_for_the_same_channel(site, mastodon_mock):
    username, _ = mastodon_mock.new_account()
    page = start_signin(site, mastodon_mock, name="Again")
    page.get_by_role("link", name=f"Continue to {mastodon_mock.url}").click()
    page.get_by_role("button", name=f"(@{username})").click()
    page.wait_for_url(re.compile(re.escape(site.url) + "/settings/channels"))
    row = page.locator("tr", has_text="Again")
    row.locator("summary", has_text="Reconnect").click()
    signin = row.get_by_role("button", name="Sign in through the instance")
    expect(signin).to_be_visible()
    assert_accessible(page, "mastodon-reconnect-open")
    signin.click()  # the access token field is left empty: signing in replaces it
    go = page.get_by_role("link", name=f"Continue to {mastodon_mock.url}")
    expect(go).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(mastodon_mock.url) + "/oauth/authorize"))
    page.get_by_role("button", name=f"(@{username})").click()
    page.wait_for_url(re.compile(re.escape(site.url) + "/settings/channels"))
    expect(page.locator(".notice-success")).to_contain_text("Again")
    expect(page.locator(".notice-success")).to_contain_text("is reconnected")
    expect(page.locator("tr", has_text="Again")).to_have_count(1)  # the same channel, not a second
    expect(page.locator("tr", has_text="Again")).to_contain_text("Connected")
