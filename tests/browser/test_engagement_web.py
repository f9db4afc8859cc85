"""How it did, on the page detail in a real browser: counts a second mastodon-mock account made,
read on demand with the keyboard, at 1280 and 390 px with axe."""

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible, assert_no_sideways_scroll
from peers import mastodon_mock, mastodon_mock_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def published(app, mastodon_mock):
    from pagesite.extensions import db
    from pagesite.models import Schedule
    from pagesite.services import channels, pages, publishing, schedules

    _, token = mastodon_mock.new_account()
    with app.app_context():
        channel, _ = channels.create_channel("mastodon", "Our Mastodon", {"instance_url": mastodon_mock.url},
                                             {"access_token": token})
        page = pages.create_page("Counted")
        [schedule] = schedules.create_schedules(page.id, [channel.id], None)
        page_id, schedule_id = page.id, schedule.id
        assert publishing.publish_schedule(schedule_id).outcome == "published"
        db.session.expire_all()  # the publish wrote past the session
        return page_id, db.session.get(Schedule, schedule_id).external_id


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_page_detail_reads_and_shows_the_counts(site, app, mastodon_mock, width):
    page_id, status_id = published(app, mastodon_mock)
    for _ in range(2):
        fan = mastodon_mock.new_account()[1]
        liked = mastodon_mock.api("POST", f"/api/v1/statuses/{status_id}/favourite", token=fan)
        assert liked.status_code == 200, liked.text
    page = site.open(viewport=WIDTHS[width], path=f"/pages/{page_id}")
    row = page.locator("tr[id^=counts-]")
    expect(row).to_contain_text("Not yet: first at 1 hour")
    page.locator("#read-counts").focus()
    page.keyboard.press("Enter")
    expect(row.locator("td[data-label=Likes]")).to_have_text("2")
    expect(row.locator("td[data-label=Reposts]")).to_have_text("0")
    expect(page.locator("#read-counts")).to_be_focused()  # focus stays where it was
    assert_accessible(page, f"page-counts-{width}")
    assert_no_sideways_scroll(page)
