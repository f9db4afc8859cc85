"""Compose in each network's own words: a channel's own text with its own live
count, its limit checked on that text, and "back to the page's text" asking
before it throws a text away. Keyboard only, axe-clean at 1280 and 390 px."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible
from browser.test_web import _in_app
from test_threads_split import add_channel

pytestmark = pytest.mark.browser

LONG = "A launch note longer than Bluesky takes, written once for Mastodon's roomier limit. " * 4


@pytest.fixture
def bluesky(app):
    from pagesite.providers.bluesky import BlueskyProvider

    return add_channel(app, "bluesky", BlueskyProvider.default_limits().to_dict())


def page_of(app, schedule_id=None):
    from pagesite.extensions import db
    from pagesite.models import Page

    def read():
        page = db.session.scalars(db.select(Page).order_by(Page.id.desc())).first()
        return page.text, {v.channel_id: v.text for v in page.versions}, sorted(s.channel_id for s in page.schedules)

    return _in_app(app, read)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_a_channel_gets_its_own_text_with_its_own_count(site, app, bluesky, viewport):
    kind = "phone" if viewport["width"] < 600 else "desktop"
    page = site.open(viewport=viewport, timezone_id="Europe/Berlin")
    page.get_by_label("Text", exact=True).fill(LONG.strip())
    page.locator(f"#channel-{bluesky}").check()
    count = page.locator(f"#channel-count-{bluesky}")
    expect(count).to_contain_text(f"{len(LONG.strip())} / 300")
    expect(count).to_have_class("count over")

    # Customise for Bluesky, with the keyboard: its count follows its own text.
    summary = page.locator(f"#version-{bluesky} summary")
    summary.focus()
    page.keyboard.press("Enter")
    own = page.get_by_label("Version for My bluesky")
    expect(own).to_be_visible()
    own.focus()
    page.keyboard.type("The launch, in Bluesky's 300.")
    expect(count).to_contain_text("29 / 300")
    expect(count).not_to_have_class("count over")
    assert_accessible(page, f"compose-version-{kind}")
    site.screenshot(f"compose-version-{kind}", page)

    # Back to the page's text asks first; declined, nothing is lost.
    answers = []
    page.once("dialog", lambda dialog: (answers.append(dialog.message), dialog.dismiss()))
    page.locator(f"#reset-version-{bluesky}").press("Enter")
    expect(own).to_have_value("The launch, in Bluesky's 300.")
    assert answers and "Throw away the text written for My bluesky" in answers[0]

    # A version over its limit: the message is beside that channel's box, and names the version.
    own.fill("x" * 301)
    day = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=3)).date()
    page.get_by_label("Schedule for").check()
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Time").fill("09:30")
    page.get_by_role("button", name="Create page").press("Enter")
    error = page.locator(f"#channel-{bluesky}-error")
    expect(error).to_contain_text("in its version of the page")
    expect(page.get_by_label("Version for My bluesky")).to_have_value("x" * 301)  # kept as typed

    page.get_by_label("Version for My bluesky").fill("The launch, in Bluesky's 300.")
    page.get_by_role("button", name="Create page").press("Enter")
    expect(page.get_by_role("status").filter(has_text="was created")).to_be_visible()
    text, versions, scheduled = page_of(app)
    assert text == LONG.strip() and versions == {bluesky: "The launch, in Bluesky's 300."}
    assert bluesky in scheduled


def test_back_to_the_pages_text_empties_the_box_and_keeps_the_focus(site, app, bluesky):
    page = site.open()
    page.get_by_label("Text", exact=True).fill("The page's words")
    page.locator(f"#channel-{bluesky}").check()
    page.locator(f"#version-{bluesky} summary").click()
    page.get_by_label("Version for My bluesky").fill("Bluesky's words, a bit longer")
    count = page.locator(f"#channel-count-{bluesky}")
    expect(count).to_contain_text("29 / 300")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#reset-version-{bluesky}").press("Enter")
    box = page.get_by_label("Version for My bluesky")
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    expect(count).to_contain_text("16 / 300")  # the page's text again
