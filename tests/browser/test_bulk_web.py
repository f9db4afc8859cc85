"""Many schedules at once from the list: tick some (or take every one the filters
match), choose an action, see the number in a confirmation, then it is done in one
transaction. Keyboard only, axe-clean at 1280 and 390 px."""

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible
from browser.test_web import _in_app

pytestmark = pytest.mark.browser


def make_schedules(app, texts, hours=24):
    from pagesite.services import pages, schedules

    def create():
        when = datetime.now(timezone.utc) + timedelta(hours=hours)
        return [schedules.create_schedule(pages.create_page(text).id, when.isoformat()).id for text in texts]

    return _in_app(app, create)


def statuses(app, ids):
    from pagesite.extensions import db
    from pagesite.models import Schedule

    return _in_app(app, lambda: {s.id: (s.status, s.scheduled_at) for s in
                                 db.session.scalars(db.select(Schedule).where(Schedule.id.in_(ids)))})


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_tick_two_and_cancel_them_after_a_confirmation(site, app, viewport):
    kind = "phone" if viewport["width"] < 600 else "desktop"
    ids = make_schedules(app, ["First of three", "Second of three", "Third of three"])
    page = site.open(viewport=viewport, path="/schedules")
    assert_accessible(page, f"schedules-bulk-{kind}")
    for schedule_id in ids[:2]:
        page.locator(f"#tick-{schedule_id}").focus()
        page.keyboard.press("Space")
    page.get_by_label("Action").select_option("cancel")
    site.screenshot(f"schedules-bulk-{kind}", page)
    page.locator("#bulk-review").press("Enter")
    expect(page.get_by_role("heading", name="Cancel 2 schedules?")).to_be_visible()
    expect(page.locator("#confirm-bulk")).to_be_focused()
    assert_accessible(page, f"bulk-confirm-{kind}")
    site.screenshot(f"bulk-confirm-{kind}", page)
    assert {s for s, _ in statuses(app, ids).values()} == {"queued"}  # nothing before the confirmation

    page.keyboard.press("Enter")
    expect(page.get_by_text("2 schedules canceled.")).to_be_visible()
    now = statuses(app, ids)
    assert [now[i][0] for i in ids] == ["canceled", "canceled", "queued"]


def test_move_every_schedule_the_filter_matches_and_skip_the_others(site, app):
    moved = make_schedules(app, ["Launch teaser", "Launch day"])
    other = make_schedules(app, ["Something else"])
    before = statuses(app, moved + other)
    page = site.open(path="/schedules?q=launch")
    page.get_by_label("Schedules", exact=True).select_option("filter")
    page.get_by_label("Action").select_option("move")
    page.locator("#bulk-amount").fill("3")
    page.get_by_label("Unit").select_option("hours")
    page.locator("#bulk-review").press("Enter")
    expect(page.get_by_role("heading", name="Move 2 schedules 3 hours later?")).to_be_visible()
    page.locator("#confirm-bulk").press("Enter")
    expect(page.get_by_text("2 schedules moved.")).to_be_visible()
    after = statuses(app, moved + other)
    for schedule_id in moved:
        assert after[schedule_id][1] - before[schedule_id][1] == timedelta(hours=3)
    assert after[other[0]] == before[other[0]]


def test_nothing_ticked_says_so_next_to_the_form(site, app):
    make_schedules(app, ["Alone"])
    page = site.open(path="/schedules")
    page.get_by_label("Action").select_option("cancel")
    page.locator("#bulk-review").press("Enter")
    alert = page.locator("#bulk-form [role=alert]")
    expect(alert).to_contain_text("Tick the schedules to change first")
    expect(alert).to_be_focused()
