"""What got in a first-time user's way, each checked in a real browser."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from browser.axe import violations
from browser.test_web import _in_app, attachment_item, file_payload, make_schedule, stored
from conftest import wait_until
from helpers import png_bytes

pytestmark = pytest.mark.browser


def test_every_compose_text_meets_aa_contrast_while_publish_now_is_chosen(site):
    page = site.page
    expect(page.get_by_label("Publish now")).to_be_checked()
    contrast = [v for v in violations(page) if v["id"] == "color-contrast"]
    assert not contrast, contrast


# 2. Schedules: a live refresh keeps focus and scroll; it polls fast only when something is about to change.

COUNT_REFRESHES = """() => { window.refreshes = 0;
    document.addEventListener('htmx:afterSettle', e => { if (e.detail.target.id === 'schedules-region') window.refreshes++; }); }"""


def test_a_live_refresh_keeps_focus_and_scroll(site, app):
    now = datetime.now(timezone.utc)
    ids = [make_schedule(app, f"Due soon {n}", now + timedelta(seconds=50 + n))[1] for n in range(12)]
    page = site.open(viewport={"width": 390, "height": 500}, path="/schedules")
    expect(page.locator("#schedules-region")).to_have_attribute("hx-trigger", "every 2s")
    page.evaluate(COUNT_REFRESHES)
    link = page.locator(f"#schedule-{ids[8]} a").first
    link.focus()
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0
    page.wait_for_function("() => window.refreshes >= 2", timeout=10_000)
    focused = page.evaluate("document.activeElement.closest('tr') && document.activeElement.closest('tr').id")
    assert focused == f"schedule-{ids[8]}", page.evaluate("document.activeElement.outerHTML.slice(0, 200)")
    assert page.evaluate("window.scrollY") == scrolled


def test_the_list_polls_slowly_or_not_at_all_when_nothing_is_due_soon(site, app):
    next_year = datetime.now(timezone.utc) + timedelta(days=365)
    _, far = make_schedule(app, "Next year", next_year)
    page = site.goto("/schedules")
    expect(page.locator(f"#schedule-{far}")).to_be_visible()
    region = page.locator("#schedules-region")
    expect(region).to_have_attribute("hx-trigger", "every 30s")
    expect(region).to_contain_text("updating every 30 seconds")

    _in_app(app, lambda: __import__("pagesite.services.schedules", fromlist=["x"]).cancel_schedule(far))
    page.reload()
    expect(page.locator(f"#schedule-{far} .badge")).to_have_text("Canceled")
    expect(region).not_to_have_attribute("hx-trigger", re.compile("."))

    _, soon = make_schedule(app, "In a moment", datetime.now(timezone.utc) + timedelta(seconds=40))
    page.reload()
    expect(region).to_have_attribute("hx-trigger", "every 2s")
