"""The calendar, the posting queue and the feed in a real browser: navigation in two
time zones (a daylight-saving week included), drag to reschedule, its keyboard
alternative, a refused drop in the past, compose into an empty time, Add to queue."""

import json
import os
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from conftest import ROOT
from helpers import png_bytes

pytestmark = pytest.mark.browser

UTC = timezone.utc
AXE = os.path.join(ROOT, "tests", "vendor", "axe-core", "axe.min.js")


def _in_app(app, fn):
    from pagesite.extensions import db

    with app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def plan(app, text, when, attachment=False):
    """A page scheduled at ``when`` (aware); (page id, schedule id)."""
    from pagesite.services import attachments, pages, schedules

    def create():
        ids = []
        if attachment:
            import io

            ids = [attachments.upload(io.BytesIO(png_bytes(40, 40)), "sky.png", "Blue sky").id]
        page = pages.create_page(text, ids)
        return page.id, schedules.create_schedule(page.id, when.isoformat()).id

    return _in_app(app, create)


def scheduled_at(app, schedule_id):
    from pagesite.extensions import db
    from pagesite.models import Schedule

    return _in_app(app, lambda: db.session.get(Schedule, schedule_id).scheduled_at)


def axe_violations(page):
    """Serious and critical axe-core violations on the page as it is now."""
    with open(AXE) as f:
        page.evaluate(f.read())
    results = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in results if v["impact"] in ("serious", "critical")]


def week_cell(page, day, hour):
    return page.locator(f"#calendar td[data-drop-date='{day.isoformat()}'][data-drop-hour='{hour:02d}']")


# Tall enough that a chip and the hour it is dragged to are both on screen, as on a desktop.
DESKTOP = {"width": 1280, "height": 1600}


def local_now(zone):
    return datetime.now(UTC).astimezone(ZoneInfo(zone))


def mid_week_zone():
    """A zone where it is now Tuesday to Saturday, so this week has past hours and future days."""
    for zone in ("America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        if 1 <= local_now(zone).weekday() <= 4:
            return zone
    return "Asia/Tokyo"


# Navigation in two zones, a daylight-saving week included

def test_week_view_in_new_york_and_berlin_across_the_spring_forward_week(site, app):
    # 14 March 2027: New York springs forward at 02:00 (02:00-02:59 does not exist).
    _, after_jump = plan(app, "After the jump: first post of summer time", datetime(2027, 3, 14, 7, 30, tzinfo=UTC))
    _, before = plan(app, "Saturday before the change", datetime(2027, 3, 13, 14, 0, tzinfo=UTC), attachment=True)
    page = site.open("America/New_York", path="/calendar?view=week&date=2027-03-10")
    calendar = page.locator("#calendar")
    expect(calendar.locator("#calendar-title")).to_have_text("8 March – 14 March 2027")
    expect(calendar).to_have_attribute("data-tz", "America/New_York")
    sunday, saturday = date(2027, 3, 14), date(2027, 3, 13)
    expect(week_cell(page, sunday, 3).locator(f"#chip-{after_jump}")).to_contain_text("03:30")
    expect(week_cell(page, saturday, 9).locator(f"#chip-{before}")).to_contain_text("09:00")
    expect(week_cell(page, saturday, 9).locator(f"#chip-{before} img.chip-thumb")).to_be_visible()
    # Each chip shows its channel: the provider's letter, and the channel's name for screen readers.
    chip = page.locator(f"#chip-{before}")
    expect(chip.locator(".provider-icon.provider-stub")).to_have_attribute("title", "Stub (stub)")
    expect(chip).to_have_attribute("aria-label", re.compile(r"^09:00 queued on Stub \(stub\): "))
    expect(chip.get_by_role("link")).to_have_accessible_name(re.compile(r"09:00 Stub "))
    expect(week_cell(page, sunday, 2)).to_contain_text("Skipped: clocks go forward")
    expect(week_cell(page, sunday, 2).locator(".slot-add")).to_have_count(0)
    site.screenshot("calendar-week-new-york-dst", page)
    assert axe_violations(page) == []

    # The same instants in Berlin (still winter time there): 08:30 and 15:00.
    berlin = site.open("Europe/Berlin", path="/calendar?view=week&date=2027-03-10")
    expect(berlin.locator("#calendar")).to_have_attribute("data-tz", "Europe/Berlin")
    expect(week_cell(berlin, sunday, 8).locator(f"#chip-{after_jump}")).to_contain_text("08:30")
    expect(week_cell(berlin, saturday, 15).locator(f"#chip-{before}")).to_contain_text("15:00")
    expect(week_cell(berlin, sunday, 2)).not_to_contain_text("Skipped")

    # Berlin's own change, two weeks later: 02:00 on 28 March does not exist there.
    berlin.get_by_role("link", name="Next week").click()
    expect(berlin).to_have_url(re.compile(r"date=2027-03-1[5-9]"))
    expect(berlin.locator("#calendar-next")).to_be_focused()  # focus stays on the control used
    expect(berlin.locator("#announcer")).to_have_text("15 March – 21 March 2027")
    berlin.get_by_role("link", name="Next week").click()
    expect(berlin.locator("#calendar-title")).to_have_text("22 March – 28 March 2027")
    expect(week_cell(berlin, date(2027, 3, 28), 2)).to_contain_text("Skipped: clocks go forward")
    site.screenshot("calendar-week-berlin-dst", berlin)

    # Back and reload keep the view; Today comes home.
    berlin.go_back()
    expect(berlin.locator("#calendar-title")).to_have_text("15 March – 21 March 2027")
    berlin.reload()
    expect(berlin.locator("#calendar-title")).to_have_text("15 March – 21 March 2027")
    berlin.get_by_role("link", name="Today").click()
    today = local_now("Europe/Berlin").date()
    expect(berlin.locator("#calendar thead th[aria-current='date']")).to_have_text(today.strftime("%a %-d"))


def test_month_view_and_the_autumn_week_in_new_york(site, app):
    # 7 November 2027: New York falls back; 01:00-01:59 happens twice.
    _, first = plan(app, "First one-thirty", datetime(2027, 11, 7, 5, 30, tzinfo=UTC))   # 01:30 EDT
    _, second = plan(app, "Second one-thirty", datetime(2027, 11, 7, 6, 30, tzinfo=UTC))  # 01:30 EST
    page = site.open("America/New_York", path="/calendar?view=month&date=2027-11-01")
    expect(page.locator("#calendar-title")).to_have_text("November 2027")
    day = page.locator("#calendar td[data-drop-date='2027-11-07']")
    expect(day.locator(f"#chip-{first}")).to_contain_text("01:30")
    expect(day.locator(f"#chip-{second}")).to_contain_text("01:30")
    site.screenshot("calendar-month-new-york", page)
    assert axe_violations(page) == []
    page.get_by_role("link", name="Week", exact=True).click()
    expect(page).to_have_url(re.compile(r"view=week&date=2027-11-01"))
    expect(page.locator("#calendar-title")).to_have_text("1 November – 7 November 2027")
    page.get_by_role("link", name="Next week").click()
    expect(page.locator("#calendar-title")).to_have_text("8 November – 14 November 2027")
    page.get_by_role("link", name="Previous week").click()
    expect(page.locator("#calendar-title")).to_have_text("1 November – 7 November 2027")
    cell = week_cell(page, date(2027, 11, 7), 1)
    expect(cell).to_contain_text("Happens twice")
    expect(cell.locator(".chip")).to_have_count(2)


def test_click_on_an_empty_time_opens_compose_with_that_time(site, app):
    page = site.open("Asia/Kolkata", path="/calendar?view=week&date=2030-01-09")
    page.get_by_role("link", name="New page for Thursday 10 January, 14:00").click()
    expect(page).to_have_url(re.compile(r"/compose\?date=2030-01-10&time=14:00"))
    expect(page.get_by_label("Schedule for")).to_be_checked()
    expect(page.get_by_label("Date")).to_have_value("2030-01-10")
    expect(page.get_by_label("Time")).to_have_value("14:00")
    page.get_by_label("Text").fill("Planned from the calendar")
    page.get_by_role("button", name="Create page").click()
    expect(page.get_by_role("status").filter(has_text="is scheduled for")).to_be_visible()
    page.goto(site.url + "/calendar?view=week&date=2030-01-09")
    chip = week_cell(page, date(2030, 1, 10), 14).locator(".chip")
    expect(chip).to_contain_text("14:00")
    expect(chip).to_contain_text("Planned from the calendar")
    chip.locator(".chip-link").click()
    expect(page).to_have_url(re.compile(r"/pages/\d+$"))


# Moving schedules

def test_drag_a_queued_chip_to_another_day_and_hour(site, app):
    zone = "Europe/Berlin"
    _, moved = plan(app, "Drag me", datetime(2030, 1, 9, 9, 15, tzinfo=UTC))  # Wed 10:15 in Berlin
    _, done = plan(app, "Stays put", datetime(2030, 1, 9, 12, 0, tzinfo=UTC))
    from pagesite.services import schedules

    _in_app(app, lambda: schedules.cancel_schedule(done))
    page = site.open(zone, path="/calendar?view=week&date=2030-01-09", viewport=DESKTOP)
    chip = page.locator(f"#chip-{moved}")
    expect(chip).to_have_attribute("draggable", "true")
    expect(page.locator(f"#chip-{done}")).not_to_have_attribute("draggable", "true")  # only queued ones move
    chip.drag_to(week_cell(page, date(2030, 1, 10), 16))
    expect(page.locator("#calendar-message")).to_contain_text("Moved “Drag me” to Thu 10 Jan, 16:15")
    expect(week_cell(page, date(2030, 1, 10), 16).locator(f"#chip-{moved}")).to_contain_text("16:15")
    assert scheduled_at(app, moved) == datetime(2030, 1, 10, 15, 15, tzinfo=UTC)
    site.screenshot("calendar-after-drag", page)

    # In the month view a drop changes the day and keeps the time.
    page.get_by_role("link", name="Month", exact=True).click()
    expect(page.locator("#calendar-title")).to_have_text("January 2030")
    page.locator(f"#chip-{moved}").drag_to(page.locator("#calendar td[data-drop-date='2030-01-22']"))
    expect(page.locator("#calendar td[data-drop-date='2030-01-22']").locator(f"#chip-{moved}")).to_contain_text("16:15")
    assert scheduled_at(app, moved) == datetime(2030, 1, 22, 15, 15, tzinfo=UTC)


def test_a_drop_in_the_past_is_refused_and_the_chip_goes_back(site, app):
    zone = mid_week_zone()
    now = local_now(zone)
    when = (now + timedelta(days=1)).replace(hour=11, minute=45, second=0, microsecond=0)
    _, moved = plan(app, "Not into the past", when)
    page = site.open(zone, path="/calendar", viewport=DESKTOP)
    home = week_cell(page, when.date(), 11)
    expect(home.locator(f"#chip-{moved}")).to_be_visible()
    monday = now.date() - timedelta(days=now.weekday())
    page.locator(f"#chip-{moved}").drag_to(week_cell(page, monday, 1))
    alert = page.locator("#calendar-message [role='alert']")
    expect(alert).to_contain_text("has already passed, so the page was not moved")
    expect(alert).to_be_focused()
    expect(home.locator(f"#chip-{moved}")).to_be_visible()
    expect(week_cell(page, monday, 1).locator(".chip")).to_have_count(0)
    assert scheduled_at(app, moved) == when.astimezone(UTC)
    site.screenshot("calendar-past-drop-refused", page)


def test_reschedule_with_the_keyboard_alone(site, app):
    _, moved = plan(app, "Keyboard move", datetime(2030, 1, 9, 14, 0, tzinfo=UTC))  # 09:00 in New York
    page = site.open("America/New_York", path="/calendar?view=week&date=2030-01-09")
    summary = page.locator(f"#chip-{moved} summary")
    summary.focus()
    page.keyboard.press("Enter")
    date_input = page.locator(f"#move-date-{moved}")
    expect(date_input).to_be_visible()
    page.keyboard.press("Tab")
    expect(date_input).to_be_focused()
    date_input.fill("2030-01-11")
    page.keyboard.press("Tab")
    page.locator(f"#move-time-{moved}").fill("17:45")
    page.keyboard.press("Enter")
    expect(page.locator("#calendar-message")).to_contain_text("to Fri 11 Jan, 17:45")
    expect(page.locator(f"#chip-{moved} .chip-link")).to_be_focused()  # focus follows the page it moved
    assert scheduled_at(app, moved) == datetime(2030, 1, 11, 22, 45, tzinfo=UTC)

    # A time in the past through the form is refused the same way.
    page.locator(f"#chip-{moved} summary").press("Enter")
    page.locator(f"#move-date-{moved}").fill("2020-01-01")
    page.locator(f"#move-time-{moved}").fill("09:00")
    page.locator(f"#move-time-{moved}").press("Enter")
    expect(page.locator("#calendar-message [role='alert']")).to_contain_text("has already passed")
    assert scheduled_at(app, moved) == datetime(2030, 1, 11, 22, 45, tzinfo=UTC)


def test_phone_width_shows_an_agenda(site, app):
    _, one = plan(app, "Agenda item one", datetime(2030, 1, 9, 14, 0, tzinfo=UTC))
    plan(app, "Agenda item two", datetime(2030, 1, 10, 15, 0, tzinfo=UTC))
    page = site.open("America/New_York", viewport={"width": 390, "height": 844},
                     path="/calendar?view=week&date=2030-01-09")
    expect(page.locator(".calendar-grid")).to_be_hidden()
    agenda = page.locator(".agenda")
    expect(agenda.get_by_role("heading", name="Wednesday 9 January")).to_be_visible()
    expect(agenda.locator(f"#agenda-chip-{one}")).to_contain_text("09:00")
    site.screenshot("calendar-phone-agenda", page)
    assert axe_violations(page) == []


# The posting queue and the feed in Settings, and Add to queue in Compose

def test_settings_posting_times_then_add_to_queue_in_compose(site, app):
    page = site.open("Europe/Berlin", path="/settings")
    default = page.locator("#queue-default")
    default.get_by_label("Time zone").fill("Europe/Berlin")
    default.get_by_label("Posting times, one per line").fill("mon 09:00\nfunday 25:00")
    default.get_by_role("button", name="Save posting times").click()
    expect(page.locator("#queue-slots-default-error")).to_contain_text("funday 25:00")
    expect(page.locator("#queue-slots-default")).to_be_focused()  # the field to fix, with its error beside it
    expect(page.locator("#queue-slots-default")).to_have_attribute("aria-invalid", "true")
    default.get_by_label("Posting times, one per line").fill("mon 09:00\nthu 17:30")
    default.get_by_role("button", name="Save posting times").click()
    expect(page.get_by_role("status").filter(has_text="Posting times saved")).to_be_visible()
    expect(default.get_by_label("Posting times, one per line")).to_have_value("mon 09:00\nthu 17:30\n")
    site.screenshot("settings-queue-and-feed", page)
    assert axe_violations(page) == []

    page.goto(site.url + "/compose")
    page.get_by_label("Text").fill("Into the queue")
    page.get_by_label("Add to queue").check()
    page.get_by_role("button", name="Create page").click()
    notice = page.get_by_role("status").filter(has_text="was added to the queue")
    expect(notice).to_be_visible()
    from pagesite.extensions import db
    from pagesite.models import Schedule

    when = _in_app(app, lambda: db.session.query(Schedule).one().scheduled_at).astimezone(ZoneInfo("Europe/Berlin"))
    assert (when.weekday(), when.strftime("%H:%M")) in ((0, "09:00"), (3, "17:30"))
    assert when > datetime.now(UTC)
    expect(notice.locator("[data-queue-time]")).to_contain_text(when.strftime("%b %-d, %Y, %I:%M %p"))  # en-US, local
    site.screenshot("compose-added-to-queue", page)
    expect(page.get_by_label("Add to queue")).to_be_checked()  # ready for the next one


def test_a_channel_queue_from_settings_by_keyboard_then_each_channel_shows_its_time(site, app):
    from pagesite.services import channels

    second = _in_app(app, lambda: channels.create_channel("stub", "Evening stub")[0].id)
    page = site.open("America/New_York", path="/settings")
    page.locator("#queue-default").get_by_label("Posting times, one per line").fill("tue 08:00")
    page.locator("#queue-default").get_by_role("button", name="Save posting times").click()
    own = page.locator(f"#queue-{second}")
    expect(own).to_contain_text("Takes the default posting times")
    # Keyboard only: into the channel's time zone, fix a mistake, save with Enter on the button.
    own.get_by_label("Time zone").focus()
    page.keyboard.press("Control+a")
    page.keyboard.type("Mars/Olympus")
    page.keyboard.press("Tab")
    page.keyboard.type("fri 19:45")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    error = page.locator(f"#queue-zone-{second}-error")
    expect(error).to_contain_text("Unknown time zone")
    expect(page.locator(f"#queue-zone-{second}")).to_be_focused()
    expect(page.locator(f"#queue-slots-{second}")).to_have_value("fri 19:45")  # nothing typed is lost
    assert axe_violations(page) == []
    page.keyboard.press("Control+a")
    page.keyboard.type("Europe/London")
    page.keyboard.press("Enter")  # submits the channel's own form
    expect(page.get_by_role("status").filter(has_text="Posting times of Evening stub saved")).to_be_visible()
    expect(page.locator(f"#queue-{second}")).to_contain_text("Has its own posting times")
    site.screenshot("settings-channel-queue", page)

    page.goto(site.url + "/compose")
    page.get_by_label("Text").fill("Two queues")
    for checkbox in page.locator("input[name=channel_ids]").all():
        checkbox.check()
    page.get_by_label("Add to queue").check()
    page.get_by_role("button", name="Create page").click()
    notice = page.get_by_role("status").filter(has_text="was added to each channel's queue")
    expect(notice).to_be_visible()
    from pagesite.extensions import db
    from pagesite.models import Schedule

    times = _in_app(app, lambda: {s.channel_id: s.scheduled_at for s in db.session.query(Schedule)})
    assert times[second].astimezone(ZoneInfo("Europe/London")).strftime("%a %H:%M") == "Fri 19:45"
    stub = next(channel_id for channel_id in times if channel_id != second)
    assert times[stub].astimezone(ZoneInfo("America/New_York")).strftime("%a %H:%M") == "Tue 08:00"
    for channel_id, when in times.items():
        expect(notice.locator(f"[data-queue-channel='{channel_id}'] [data-queue-time]")).to_contain_text(
            when.astimezone(ZoneInfo("America/New_York")).strftime("%b %-d, %Y, %I:%M %p"))
    site.screenshot("compose-two-queues", page)
    assert axe_violations(page) == []


def test_add_to_queue_without_posting_times_says_where_to_set_them(site):
    page = site.open()
    page.get_by_label("Text").fill("No times yet")
    page.get_by_label("Add to queue").check()
    page.get_by_role("button", name="Create page").click()
    expect(page.locator("#queue-error")).to_contain_text("No posting times are set up")


def test_feed_from_settings_and_turning_it_off(site, app):
    page = site.open(path="/settings")
    page.get_by_role("button", name="Turn on the calendar feed").click()
    url = page.get_by_label("Your feed's address").input_value()
    assert re.fullmatch(re.escape(site.url) + r"/calendar/feed/[A-Za-z0-9_-]{43}\.ics", url)
    feed = page.request.get(url)
    assert feed.status == 200 and feed.headers["content-type"].startswith("text/calendar")
    page.reload()
    expect(page.get_by_label("Your feed's address")).to_have_count(0)  # shown once
    page.get_by_role("button", name="Turn off the feed").click()
    expect(page.get_by_role("status").filter(has_text="feed is turned off")).to_be_visible()
    assert page.request.get(url).status == 404


def test_save_as_draft_then_find_and_duplicate_it_in_drafts(site, app):
    page = site.open()
    page.get_by_label("Text").fill("An idea for later")
    page.get_by_role("button", name="Save as draft").click()
    notice = page.get_by_role("status").filter(has_text="was saved as a draft")
    expect(notice).to_be_visible()
    page.get_by_role("link", name="Drafts").click()
    row = page.locator("tbody tr").filter(has_text="An idea for later")
    expect(row).to_have_count(1)
    site.screenshot("drafts", page)
    assert axe_violations(page) == []
    row.get_by_role("button", name=re.compile("Duplicate page")).click()
    expect(page.get_by_role("status").filter(has_text="saved as a draft")).to_be_visible()
    page.get_by_role("link", name="Drafts").click()
    expect(page.locator("tbody tr").filter(has_text="An idea for later")).to_have_count(2)
