"""The Status page: what `pagesite status` prints, live, in a real browser."""

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible
from conftest import wait_until

pytestmark = pytest.mark.browser


@pytest.fixture
def site_env():
    return {"PAGESITE_HEARTBEAT_STALE_SECONDS": "2"}  # a silent process shows within seconds


def test_status_shows_processes_work_and_failures_and_updates_live(site, processes, app, outbox):
    from pagesite.services import schedules
    from pagesite.services import pages

    scheduler = processes.scheduler()
    processes.worker()
    with app.app_context():
        page_id = pages.create_page("Refused [stub:fail]").id
        schedule_id = schedules.create_schedule(page_id, None).id
    wait_until(lambda: outbox(), timeout=15, message="the failed attempt")

    page = site.goto("/status")
    expect(page.get_by_role("link", name="Status")).to_have_attribute("aria-current", "page")
    worker_row = page.locator("tr[data-check=worker]")
    expect(worker_row).to_contain_text("Working")
    expect(worker_row).to_contain_text("1 process alive")
    expect(page.locator("tr[data-check=scheduler]")).to_contain_text("Working")
    expect(page.locator("#status-summary")).to_contain_text("Everything is running")
    failure = page.locator(".failures li").first
    expect(failure).to_contain_text(f"Page {page_id}")
    expect(failure).to_contain_text("rejected by [stub:fail]")
    site.screenshot("status")

    processes.kill(scheduler)
    # No reload: the region refreshes itself and says what is wrong.
    expect(page.locator("tr[data-check=scheduler]")).to_contain_text("Not working", timeout=20_000)
    expect(page.locator("#status-summary")).to_contain_text("no scheduler heartbeat")
    assert schedule_id


def test_status_with_a_channel_needing_attention_passes_axe(site, processes, app):
    from pagesite.extensions import db
    from pagesite.services import channels

    processes.scheduler()
    processes.worker()
    with app.app_context():
        channel, _ = channels.create_channel("stub", "Expired account")
        channels.mark_needs_attention(channel.id, "The account's sign-in expired; reconnect it.")
        db.session.commit()
        channel_id = channel.id

    page = site.goto("/status")
    item = page.locator(f".attention li[data-channel-id='{channel_id}']")
    expect(item).to_contain_text("Expired account")
    expect(item).to_contain_text("sign-in expired")
    expect(page.locator("#status-summary")).to_contain_text("Everything is running")
    assert_accessible(page, "status-attention")
    # Reachable by keyboard: Tab lands on the link to the channel.
    link = item.get_by_role("link", name="Expired account")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.textContent.trim()") == "Expired account":
            break
    expect(link).to_be_focused()
    link.press("Enter")
    expect(page).to_have_url(f"{site.url}/settings/channels#channel-{channel_id}")
