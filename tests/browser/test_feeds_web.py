"""The Feeds screen in a real browser: an address that is not a feed refused next to its field,
a feed added with the keyboard, its new item read into a page, at 1280 and 390 px with axe."""

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible, assert_no_sideways_scroll
from feed_server import FeedServer

pytestmark = pytest.mark.browser
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("width", list(WIDTHS))
def test_add_a_feed_and_read_its_new_item(site, app, width):
    with FeedServer() as server:
        server.add(1, datetime(2026, 11, 30, 9, tzinfo=timezone.utc))
        page = site.open(viewport=WIDTHS[width], path="/settings")
        page.get_by_role("link", name="Manage feeds").click()
        page.get_by_label("Feed address").fill(server.url + "/blog")
        page.get_by_label("Stub").check()
        page.get_by_label("Each new item").select_option("draft")
        page.get_by_label("Feed address").press("Enter")
        expect(page.locator("#url-error")).to_contain_text("not an RSS, Atom or JSON feed")
        expect(page.locator("#feed-problems")).to_be_focused()
        expect(page.get_by_label("Stub")).to_be_checked()  # what was chosen stays
        assert_accessible(page, f"feeds-error-{width}")
        assert_no_sideways_scroll(page)

        page.get_by_label("Feed address").fill(server.url + "/rss.xml")
        page.get_by_label("Text of each page").fill("New on the blog: {title} {link}")
        page.get_by_role("button", name="Add feed").click()
        expect(page.get_by_text("Our blog was added")).to_be_visible()
        row = page.locator("tr", has_text="Our blog")
        expect(row).to_contain_text("as drafts")

        server.add(2, datetime(2026, 12, 1, 9, tzinfo=timezone.utc) + timedelta(hours=1))
        row.get_by_role("button", name="Read now: Our blog").click()
        expect(page.get_by_text("Read now: 1 new item.")).to_be_visible()
        assert_accessible(page, f"feeds-{width}")
        assert_no_sideways_scroll(page)
        site.goto("/drafts", page)
        expect(page.get_by_text("New on the blog: Post 2 https://blog.example/2")).to_be_visible()
