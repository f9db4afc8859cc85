"""Editing and deleting a page from its detail screen, with the keyboard, checked with axe-core."""

import io
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible
from browser.test_web import _in_app, make_schedule
from helpers import png_bytes

pytestmark = pytest.mark.browser


def make_page_with_file(app, text, alt_text):
    from pagesite.services import attachments, pages, schedules

    def create():
        asset = attachments.upload(io.BytesIO(png_bytes()), "square.png", "the file's words")
        page = pages.create_page(text, attachments=[{"id": asset.id, "alt_text": alt_text}])
        schedule = schedules.create_schedule(page.id, (datetime.now(timezone.utc) + timedelta(days=1)).isoformat())
        return page.id, asset.id, schedule.id

    return _in_app(app, create)


def read_page(app, page_id):
    from pagesite.services import pages

    return _in_app(app, lambda: (lambda p: (p.text, [(f.id, f.alt_text) for f in p.attachments]))(
        pages.get_page(page_id)))


def test_edit_a_page_with_the_keyboard(site, app):
    page_id, file_id, _ = make_page_with_file(app, "Before the edit", "a red square")
    page = site.open(path=f"/pages/{page_id}")
    expect(page.locator("[data-next-attempt]")).not_to_have_text("—")
    assert_accessible(page, "page-detail-actions")
    page.locator("#edit-page").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Edit page {page_id}")).to_be_visible()
    assert_accessible(page, "page-edit")

    # A mistake: blank text. It is shown next to the field, and nothing typed is lost.
    page.get_by_label("Text").fill("   ")
    page.get_by_label("Description on this page").fill("a small red square")
    page.get_by_role("button", name="Save changes").press("Enter")
    expect(page.locator("#text-error")).to_contain_text("blank")
    expect(page.get_by_label("Text")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Description on this page")).to_have_value("a small red square")
    assert_accessible(page, "page-edit-error")
    assert read_page(app, page_id)[0] == "Before the edit"

    page.get_by_label("Text").fill("After the edit")
    page.get_by_role("button", name="Save changes").press("Enter")
    expect(page.get_by_role("heading", name=f"Page {page_id}")).to_be_visible()
    expect(page.locator(".preview-text").first).to_have_text("After the edit")
    expect(page.get_by_text("Description on this page: a small red square")).to_be_visible()
    assert read_page(app, page_id) == ("After the edit", [(file_id, "a small red square")])
    site.screenshot("page-edited", page)


def test_delete_a_page_after_confirming(site, app):
    page_id, _ = make_schedule(app, "Soon gone", datetime.now(timezone.utc) + timedelta(days=1))
    page = site.open(path=f"/pages/{page_id}")
    page.locator("#delete-page").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Delete page {page_id}?")).to_be_visible()
    assert_accessible(page, "page-delete")
    # "Keep it" changes nothing.
    page.get_by_role("link", name="Keep it").click()
    expect(page.get_by_role("heading", name=f"Page {page_id}")).to_be_visible()
    page.locator("#delete-page").click()
    page.get_by_role("button", name=f"Delete page {page_id}").press("Enter")
    expect(page.get_by_role("status").filter(has_text=f"Page {page_id} was deleted")).to_be_visible()
    expect(page.get_by_text("Soon gone")).to_have_count(0)
    assert page.goto(site.url + f"/pages/{page_id}").status == 404


def test_the_log_shows_what_was_sent_after_a_later_edit(site, app, workers):
    from conftest import wait_until
    from pagesite.services import pages

    page_id, schedule_id = make_schedule(app, "As it was sent")
    wait_until(lambda: _in_app(app, lambda: pages.get_page(page_id).schedules[0].status) == "published",
               timeout=20, message="the page to be published")
    _in_app(app, lambda: pages.update_page(page_id, "Rewritten after publishing"))
    page = site.open(path=f"/pages/{page_id}")
    sent = page.locator("table.log [data-sent] details")
    sent.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(sent.locator(".preview-text")).to_have_text("As it was sent")
    expect(page.locator(".page-body .preview-text")).to_have_text("Rewritten after publishing")
    assert_accessible(page, "page-detail-sent")
