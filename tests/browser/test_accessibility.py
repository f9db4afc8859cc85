"""axe-core on every screen, at desktop and phone width: no serious or critical violation."""

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible, assert_no_sideways_scroll
from helpers import png_bytes
from browser.test_web import attachment_item, file_payload, make_schedule

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


def no_sideways_scroll(page):
    assert_no_sideways_scroll(page)


def test_setup_screen(processes, app, browser, width):
    web = processes.web()
    context = browser.new_context(viewport=WIDTHS[width])
    try:
        page = context.new_page()
        page.goto(web.url + "/setup")
        assert_accessible(page, f"setup-{width}")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("alert")).to_be_focused()
        assert_accessible(page, f"setup-errors-{width}")
        no_sideways_scroll(page)
    finally:
        context.close()


def test_signin_screen(web, user, browser, width):
    context = browser.new_context(viewport=WIDTHS[width])
    try:
        page = context.new_page()
        page.goto(web.url + "/signin")
        assert_accessible(page, f"signin-{width}")
        page.get_by_label("Email").fill("nobody@example.com")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
        assert_accessible(page, f"signin-error-{width}")
        no_sideways_scroll(page)
    finally:
        context.close()


def test_compose_screens(site, app, width):
    page = site.open(viewport=WIDTHS[width])
    assert_accessible(page, f"compose-empty-{width}")

    page.get_by_role("button", name="Create page").click()
    expect(page.get_by_role("alert").filter(has_text="The page was not created")).to_be_focused()
    assert_accessible(page, f"compose-errors-{width}")

    page.get_by_label("Text").fill("Two pictures")
    page.get_by_label("Attachments").set_input_files([
        file_payload("red.png", png_bytes(), "image/png"),
        file_payload("notes.txt", b"not an image", "text/plain"),
        file_payload("green.png", png_bytes(color=(10, 200, 10)), "image/png"),
    ])
    expect(attachment_item(page, "green.png").get_by_label("Description")).to_be_visible()
    expect(attachment_item(page, "notes.txt").locator(".field-error")).to_be_visible()
    expect(page.locator("#preview img")).to_have_count(2)
    assert_accessible(page, f"compose-uploads-{width}")
    no_sideways_scroll(page)


def test_schedules_and_page_detail(site, app, width):
    page_id, _ = make_schedule(app, "Tomorrow's news", datetime.now(timezone.utc) + timedelta(days=1))
    make_schedule(app, "Later still", datetime.now(timezone.utc) + timedelta(days=30))
    page = site.open(viewport=WIDTHS[width], path="/schedules")
    expect(page.locator("tbody tr")).to_have_count(2)
    assert_accessible(page, f"schedules-{width}")
    no_sideways_scroll(page)
    site.goto(f"/pages/{page_id}", page)
    expect(page.get_by_role("heading", name=f"Page {page_id}")).to_be_visible()
    assert_accessible(page, f"page-detail-{width}")
    no_sideways_scroll(page)


def test_settings_screen(site, app, width):
    page = site.open(viewport=WIDTHS[width], path="/settings")
    page.get_by_label("Name").fill("A script with a rather long name")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_label("Token", exact=True)).to_be_visible()
    assert_accessible(page, f"settings-{width}")
    no_sideways_scroll(page)


def test_api_docs_screen(site, app, width):
    page = site.open(viewport=WIDTHS[width], path="/api-docs")
    assert_accessible(page, f"api-docs-{width}")
