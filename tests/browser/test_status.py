"""The Status page: what `pagesite status` prints, live, in a real browser."""

import pytest
from playwright.sync_api import expect

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
