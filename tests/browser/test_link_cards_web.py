"""The link card choice on Compose and on Edit: a box ticked by default, turned off and on with the
keyboard alone, kept through a refused form, shown on the page. Axe-clean at 1280 and 390 px."""

import re

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible
from browser.test_web import _in_app

pytestmark = pytest.mark.browser


def newest_page(app):
    from pagesite.extensions import db
    from pagesite.models import Page

    return _in_app(app, lambda: db.session.scalars(db.select(Page).order_by(Page.id.desc())).first().link_card)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_the_link_card_is_turned_off_and_on_with_the_keyboard(site, app, viewport):
    kind = "phone" if viewport["width"] < 600 else "desktop"
    page = site.open(viewport=viewport)
    box = page.get_by_label("Show a card for the first link")
    expect(box).to_be_checked()

    # Turned off, then a refused form (no text): the choice and the focus are kept.
    box.focus()
    page.keyboard.press("Space")
    expect(box).not_to_be_checked()
    page.get_by_role("button", name="Save as draft").press("Enter")
    expect(page.locator("#text-error")).to_be_visible()
    expect(page.get_by_label("Show a card for the first link")).not_to_be_checked()
    assert_accessible(page, f"compose-link-card-{kind}")
    site.screenshot(f"compose-link-card-{kind}", page)

    page.get_by_label("Text", exact=True).fill("Tonight's menu https://menu.example/tonight")
    page.get_by_role("button", name="Save as draft").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("saved as a draft")
    assert newest_page(app) is False

    # The page says so; Edit shows the box as it is, and turns it on again.
    expect(page.get_by_role("status")).to_be_focused()  # the notice took the focus: nothing moves it now
    page.get_by_role("status").get_by_role("link", name=re.compile(r"^Open page \d+$")).press("Enter")
    page.wait_for_url(re.compile(r"/pages/\d+$"))
    expect(page.locator("#link-card-off")).to_contain_text("No link card")
    page.locator("#edit-page").press("Enter")
    box = page.get_by_label("Show a card for the first link")
    expect(box).not_to_be_checked()
    box.focus()
    page.keyboard.press("Space")
    assert_accessible(page, f"edit-link-card-{kind}")
    page.get_by_role("button", name="Save").first.press("Enter")
    expect(page.locator("#link-card-off")).to_have_count(0)
    assert newest_page(app) is True


@pytest.fixture
def cards():
    from card_server import CardServer

    with CardServer() as server:
        yield server


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_the_preview_shows_the_card_that_will_be_sent(site, app, cards, viewport):
    kind = "phone" if viewport["width"] < 600 else "desktop"
    page = site.open(viewport=viewport)
    text = page.get_by_label("Text", exact=True)
    text.focus()
    page.keyboard.type(f"Dessert tonight {cards.url}/article")
    card = page.locator("#preview-link-card")
    expect(card).to_contain_text("Crème brûlée, the long way & the short")
    expect(card).to_contain_text("Three hours, one torch.")
    expect(card).to_contain_text("127.0.0.1")
    picture = card.locator("img")
    expect(picture).to_have_attribute("src", re.compile(r"^data:image/jpeg;base64,"))
    page.wait_for_function("() => document.querySelector('#preview-link-card img').naturalWidth > 0")
    expect(text).to_be_focused()  # typing carries on where it was
    assert_accessible(page, f"compose-card-preview-{kind}")
    site.screenshot(f"compose-card-preview-{kind}", page)

    # Read once: the next previews come from what was kept, not from the linked page again.
    page.keyboard.type(" !")
    expect(page.locator("#preview .preview-text")).to_contain_text("article !")
    assert len(cards.served("/article")) == 1

    # Turned off, the card leaves the preview; a page that gives none says why.
    page.get_by_label("Show a card for the first link").press("Space")
    expect(card).to_have_count(0)
    page.get_by_label("Show a card for the first link").press("Space")
    text.fill(f"Gone {cards.url}/gone")
    expect(card).to_contain_text("No link card: 127.0.0.1 answered 404 NOT FOUND.")
