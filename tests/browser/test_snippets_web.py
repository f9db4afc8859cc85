"""A saved snippet goes where the cursor was in Compose, with the keyboard, and
the focus comes back just after it."""

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible
from browser.test_web import _in_app

pytestmark = pytest.mark.browser


def test_a_snippet_is_inserted_at_the_cursor(site, app):
    from pagesite.services import snippets

    _in_app(app, lambda: snippets.create_snippet("Launch tags", "#launch #pagesite"))
    page = site.open()
    text = page.get_by_label("Text", exact=True)
    text.fill("Hello world")
    text.focus()
    page.keyboard.press("Home")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.get_by_label("Snippet").select_option(label="Launch tags")
    page.locator("#insert-snippet").press("Enter")
    expect(text).to_have_value("Hello #launch #pagesite world")
    expect(text).to_be_focused()
    assert page.evaluate("document.getElementById('text').selectionStart") == len("Hello #launch #pagesite")
    expect(page.locator("#text-count [data-count]")).to_have_text(str(len("Hello #launch #pagesite world")))
    assert_accessible(page, "compose-snippet")
