"""The web interface in a real browser, against real web, worker and scheduler processes."""

import io
import os
import re
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import expect

from conftest import wait_until
from browser.axe import assert_accessible
from helpers import png_bytes

pytestmark = pytest.mark.browser


# Reading and arranging state straight through the services, as a second opinion to the screen.

def _in_app(app, fn):
    from pagesite.extensions import db

    with app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def stored(app, model_name, ident):
    from pagesite import models
    from pagesite.extensions import db

    def load():
        obj = db.session.get(getattr(models, model_name), ident)
        db.session.expunge(obj)
        return obj

    return _in_app(app, load)


def make_schedule(app, text, when=None, attachment_ids=None):
    from pagesite.services import pages, schedules

    def create():
        page = pages.create_page(text, attachment_ids)
        return page.id, schedules.create_schedule(page.id, when.isoformat() if when else None).id

    return _in_app(app, create)


def noisy_png(size=900):
    """A PNG of random pixels, a few MB: big enough that the upload reports progress."""
    image = Image.frombytes("RGB", (size, size), os.urandom(size * size * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=0)
    return buffer.getvalue()


def file_payload(name, data, mime="application/octet-stream"):
    return {"name": name, "mimeType": mime, "buffer": data}


def attachment_item(page, name):
    return page.locator(".upload-item", has=page.locator(".upload-name", has_text=name))


# Compose

def test_upload_shows_progress_and_saves_the_description(site, app):
    page = site.page
    page.evaluate("""() => {
        window.uploadProgress = [];
        document.addEventListener('htmx:xhr:progress', e => window.uploadProgress.push([e.detail.loaded, e.detail.total]));
    }""")
    big = noisy_png()
    page.get_by_label("Attachments").set_input_files([file_payload("field.png", big, "image/png")])

    item = attachment_item(page, "field.png")
    description = item.get_by_label("Description")
    expect(description).to_be_visible()
    progress = page.evaluate("window.uploadProgress")
    assert progress, "no htmx:xhr:progress events during the upload"
    assert any(loaded == total >= len(big) for loaded, total in progress), progress

    attachment_id = int(item.get_attribute("data-attachment-id"))
    thumbnail = item.locator("img.thumb")
    expect(thumbnail).to_be_visible()
    # Visible is not loaded: the bytes may still be on their way (through a redirect to the store).
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert page.evaluate("img => img.naturalWidth", thumbnail.element_handle()) == 900

    description.fill("Static on an old television")
    description.press("Tab")
    expect(item.get_by_text("Saved")).to_be_visible()
    assert stored(app, "AttachmentAsset", attachment_id).alt_text == "Static on an old television"
    # The preview shows the image with its description, as it will be published.
    expect(page.locator("#preview img[alt='Static on an old television']")).to_be_visible()


def test_a_rejected_file_says_why_next_to_it_and_the_others_carry_on(site, app):
    page = site.page
    page.get_by_label("Attachments").set_input_files([
        file_payload("first.png", png_bytes(), "image/png"),
        file_payload("notes.txt", b"just some words, not an image", "text/plain"),
        file_payload("empty.png", b"", "image/png"),
        file_payload("last.png", png_bytes(color=(10, 200, 10)), "image/png"),
    ])
    expect(attachment_item(page, "notes.txt").locator(".field-error")).to_contain_text("not a recognised file type")
    expect(attachment_item(page, "empty.png").locator(".field-error")).to_contain_text("The file is empty.")
    for name in ("first.png", "last.png"):
        expect(attachment_item(page, name).get_by_label("Description")).to_be_visible()
    assert page.locator("input[name=attachment_ids]").count() == 2

    # Dismissing a rejected file leaves the good ones, in order, in the preview.
    attachment_item(page, "notes.txt").get_by_role("button", name="Dismiss notes.txt").click()
    expect(attachment_item(page, "notes.txt")).to_have_count(0)
    expect(page.get_by_label("Attachments")).to_be_focused()
    page.get_by_label("Text").fill("Two images")
    expect(page.locator("#preview img")).to_have_count(2)
    expect(page.locator(".preview-text")).to_have_text("Two images")
    site.screenshot("compose")


def test_errors_appear_next_to_fields_and_keep_what_was_typed(site, app):
    page = site.page
    page.get_by_label("Attachments").set_input_files([file_payload("kept.png", png_bytes(), "image/png")])
    kept = attachment_item(page, "kept.png")
    kept.get_by_label("Description").fill("A small red rectangle")

    page.get_by_role("button", name="Create page").click()
    expect(page.locator("#text-error")).to_have_text("Text must not be blank.")
    expect(page.get_by_role("alert").filter(has_text="The page was not created")).to_be_focused()

    page.get_by_label("Text").fill("First line\nSecond line")
    expect(page.locator("[data-count]")).to_have_text("22")
    page.get_by_label("Schedule for").check()
    yesterday = datetime.now(ZoneInfo("America/New_York")) - timedelta(days=1)
    page.get_by_label("Date").fill(yesterday.strftime("%Y-%m-%d"))
    page.get_by_label("Time").fill("10:00")
    page.get_by_role("button", name="Create page").click()

    expect(page.locator("#scheduled_at-error")).to_have_text(
        f"10:00 on {yesterday:%Y-%m-%d} (America/New_York) has already passed; choose a later time.")
    expect(page.locator("#text-error")).to_have_count(0)
    # Nothing typed was lost: text, attachment, its description, the chosen time.
    expect(page.get_by_label("Text")).to_have_value("First line\nSecond line")
    expect(attachment_item(page, "kept.png").get_by_label("Description")).to_have_value("A small red rectangle")
    expect(page.get_by_label("Schedule for")).to_be_checked()
    expect(page.get_by_label("Time")).to_have_value("10:00")
    expect(page.locator(".preview-text")).to_have_text("First line\nSecond line")
    site.screenshot("compose-errors")
    assert _in_app(app, lambda: __import__("pagesite.models", fromlist=["Page"]).Page.query.count()) == 0


def test_publish_now_ends_published_and_the_page_shows_its_log(site, workers, app, outbox):
    page = site.page
    page.get_by_label("Text").fill("Hello from the browser [stub:flaky]")
    page.get_by_label("Attachments").set_input_files([file_payload("sun.png", png_bytes(), "image/png")])
    attachment_item(page, "sun.png").get_by_label("Description").fill("A sun")
    page.get_by_label("Publish now").check()
    page.get_by_role("button", name="Create page").click()

    success = page.get_by_role("status").filter(has_text="was created")
    expect(success).to_contain_text("queued to publish now")
    expect(success).to_be_focused()
    expect(page.get_by_label("Text")).to_have_value("")  # a fresh form for the next page
    success.get_by_role("link", name=re.compile(r"Open page \d+")).click()

    # The detail page refreshes itself until the schedule is done.
    expect(page.locator(".badge-published").first).to_be_visible(timeout=15_000)
    log = page.locator("table.log tbody tr")
    expect(log).to_have_count(2)  # newest first: the retry that worked, then the first failure
    expect(log.nth(0)).to_contain_text("Published")
    expect(log.nth(1)).to_contain_text("Failed")
    expect(log.nth(1)).to_contain_text("temporary failure")
    expect(page.locator(".attachment-grid")).to_contain_text("A sun")
    site.screenshot("page-detail")
    assert [record["outcome"] for record in outbox()][-1] == "published"


def test_schedule_for_later_converts_the_local_time_to_utc(site, app):
    page = site.open(timezone_id="Asia/Kolkata")
    # Chromium reports the zone by its older name; both name the same rules.
    expect(page.locator("[data-tz-label]")).to_have_text(re.compile(r"^Asia/(Kolkata|Calcutta)$"))
    day = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=2)).date()
    page.get_by_label("Text").fill("Good morning, Kolkata")
    page.get_by_label("Schedule for").check()
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Time").fill("09:30")
    page.get_by_role("button", name="Create page").click()

    success = page.get_by_role("status").filter(has_text="was created")
    expect(success).to_contain_text("is scheduled for")
    expect(success.locator("time")).to_contain_text("9:30")
    schedule_id = int(re.search(r"#schedule-(\d+)", success.get_by_role("link", name="Its schedule")
                                .get_attribute("href")).group(1))
    expected = datetime(day.year, day.month, day.day, 4, 0, tzinfo=timezone.utc)  # IST is UTC+05:30
    assert stored(app, "Schedule", schedule_id).scheduled_at == expected

    site.goto("/schedules", page)
    row = page.locator(f"#schedule-{schedule_id}")
    expect(row.locator("time")).to_contain_text("09:30 AM GMT+5:30")
    expect(row.locator(".badge")).to_have_text("Queued")


# Schedules

def test_the_table_updates_to_published_without_a_reload(site, workers, app):
    page = site.goto("/schedules")
    expect(page.get_by_text("No schedules")).to_be_visible()
    page.evaluate("window.notReloaded = true")
    _, schedule_id = make_schedule(app, "Soon", datetime.now(timezone.utc) + timedelta(seconds=4))
    page.get_by_role("button", name="Refresh").click()
    row = page.locator(f"#schedule-{schedule_id}")
    expect(row.locator(".badge")).to_have_text("Queued")
    expect(page.locator("#schedules-region[data-polling]")).to_have_count(1)
    site.screenshot("schedules")

    expect(row.locator(".badge")).to_have_text("Published", timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("#announcer")).to_have_text(f"Schedule {schedule_id} is now published.")
    expect(page.locator("#schedules-region[data-polling]")).to_have_count(0)  # polling stops


def test_status_filter_updates_table_and_url(site, app):
    _, queued = make_schedule(app, "Still waiting", datetime.now(timezone.utc) + timedelta(hours=3))
    _, canceled = make_schedule(app, "Called off", datetime.now(timezone.utc) + timedelta(hours=4))
    _in_app(app, lambda: __import__("pagesite.services.schedules", fromlist=["x"]).cancel_schedule(canceled))

    page = site.goto("/schedules")
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Status").select_option("canceled")
    expect(page).to_have_url(re.compile(r"/schedules\?status=canceled$"))
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator(f"#schedule-{canceled} .badge")).to_have_text("Canceled")

    page.reload()  # the URL alone gives the same view
    expect(page.get_by_label("Status")).to_have_value("canceled")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.go_back()
    expect(page.locator(f"#schedule-{queued}")).to_be_visible()


def test_cancel_a_queued_schedule(site, app):
    _, schedule_id = make_schedule(app, "Maybe later", datetime.now(timezone.utc) + timedelta(hours=2))
    page = site.goto("/schedules")
    page.get_by_role("button", name=f"Cancel: schedule {schedule_id}").click()
    message = page.locator("#schedules-message")
    expect(message).to_have_text(f"Schedule {schedule_id} was canceled; it will not be published.")
    expect(message).to_be_focused()
    expect(page.locator(f"#schedule-{schedule_id} .badge")).to_have_text("Canceled")
    assert stored(app, "Schedule", schedule_id).status == "canceled"


def test_server_errors_and_a_lost_connection_show_a_message(site, processes, app):
    from pagesite.services import schedules

    _, schedule_id = make_schedule(app, "Contested", datetime.now(timezone.utc) + timedelta(hours=2))
    page = site.goto("/schedules")
    _in_app(app, lambda: schedules.cancel_schedule(schedule_id))  # behind the page's back

    page.get_by_role("button", name=f"Cancel: schedule {schedule_id}").click()
    problem = page.locator("#problems")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text(f"Schedule {schedule_id} is canceled; only a queued schedule can be changed.")
    expect(problem).to_be_focused()

    processes.kill(site.web)
    page.get_by_role("button", name="Refresh").click()
    expect(problem).to_contain_text("Could not reach the server")


# Sessions and screens

@pytest.fixture
def short_csrf(site_env):
    site_env["PAGESITE_WTF_CSRF_TIME_LIMIT"] = "2"


def test_an_expired_csrf_token_is_renewed_and_the_retry_works(short_csrf, site, app):
    page = site.page
    page.get_by_label("Text").fill("Written before lunch")
    time.sleep(3.2)  # past the limit even counted in whole seconds, as the token timestamps are
    page.get_by_role("button", name="Create page").click()
    problem = page.locator("#problems")
    expect(problem).to_contain_text("security token expired")
    expect(page.get_by_label("Text")).to_have_value("Written before lunch")

    page.get_by_role("button", name="Create page").click()
    expect(page.get_by_role("status").filter(has_text="was created")).to_be_visible()
    expect(problem).to_be_hidden()


WIDE_ELEMENTS = """() => Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getBoundingClientRect().right > 376)
    .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
    .slice(0, 8)"""


def test_phone_width(site, app):
    make_schedule(app, "A fairly long page text that has to wrap on a narrow phone screen without "
                       "pushing anything sideways", datetime.now(timezone.utc) + timedelta(hours=1))
    page = site.open(viewport={"width": 375, "height": 800})
    page.get_by_label("Text").fill("Small screens\nwork too")
    expect(page.locator(".preview-text")).to_have_text("Small screens\nwork too")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, page.evaluate(WIDE_ELEMENTS)
    site.screenshot("phone-compose", page)
    site.goto("/schedules", page)
    expect(page.locator("tbody tr")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    site.screenshot("phone-schedules", page)


def test_publish_now_from_the_table(site, workers, app, outbox):
    _, schedule_id = make_schedule(app, "Not until tonight", datetime.now(timezone.utc) + timedelta(hours=8))
    page = site.goto("/schedules")
    page.get_by_role("button", name=f"Publish now: schedule {schedule_id}").click()
    expect(page.locator(f"#schedule-{schedule_id} .badge")).to_have_text("Published", timeout=15_000)
    schedule = stored(app, "Schedule", schedule_id)
    assert schedule.status == "published" and schedule.attempts == 1
    assert [r["outcome"] for r in outbox()] == ["published"]


def test_retry_a_failed_schedule_tries_again_and_logs_it(site, workers, app):
    from pagesite.services import pages, schedules

    def failed_once():
        page = pages.create_page("Rejected by the network [stub:fail]")
        return page.id, schedules.publish_now("stub", page.id).schedule.id

    page_id, schedule_id = _in_app(app, failed_once)
    page = site.goto("/schedules?status=failed")
    row = page.locator(f"#schedule-{schedule_id}")
    expect(row).to_contain_text("[stub:fail]")  # the last error is shown in the row
    page.get_by_role("button", name=f"Retry: schedule {schedule_id}").click()
    wait_until(lambda: stored(app, "Schedule", schedule_id).attempts == 2
               and stored(app, "Schedule", schedule_id).status == "failed", message="the second attempt")
    site.goto(f"/pages/{page_id}", page)
    log_rows = page.locator("table.log tbody tr")
    expect(log_rows).to_have_count(2)
    expect(log_rows.locator("td[data-label=Attempt]")).to_have_text(["2", "1"])  # newest first


def test_search_channel_and_dates_filter_the_list_and_stay_in_the_url(site, app):
    from pagesite.services import channels, pages, schedules

    zone = ZoneInfo("Asia/Tokyo")
    now = datetime.now(timezone.utc)
    second = _in_app(app, lambda: channels.create_channel("stub", "Newsletter")[0].id)

    def plan(text, when, channel_id=None):
        def create():
            page_id = pages.create_page(text).id
            return schedules.create_schedule(page_id, when.isoformat(), channel_id=channel_id).id
        return _in_app(app, create)

    soon = plan("Summer sale starts", now + timedelta(days=2))
    plan("Summer sale ends", now + timedelta(days=20))
    other = plan("Summer sale newsletter", now + timedelta(days=2, hours=1), second)
    plan("Winter news", now + timedelta(days=3))

    page = site.open("Asia/Tokyo", path="/schedules")
    expect(page.locator("tbody tr")).to_have_count(4)
    search = page.get_by_label("Search page text")
    search.fill("SUMMER")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/schedules\?q=SUMMER$"))  # only the filters in use
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(search).to_be_focused()  # the list was swapped around the field being used
    expect(page.locator("#announcer")).to_have_text("3 schedules matching the filters")

    page.get_by_label("Channel").focus()  # keyboard alone: on the list, the last channel
    page.keyboard.press("End")
    expect(page).to_have_url(re.compile(rf"/schedules\?q=SUMMER&channel_id={second}$"))
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator(f"#schedule-{other}")).to_be_visible()
    expect(page.get_by_label("Channel")).to_be_focused()
    page.get_by_label("Channel").select_option("")

    # Days in the viewer's zone, both included; a half-given range says what is missing, next to it.
    first = (now + timedelta(days=1)).astimezone(zone).date()
    last = (now + timedelta(days=10)).astimezone(zone).date()
    page.get_by_label("From", exact=True).fill(first.isoformat())
    expect(page.locator("#filter-to-error")).to_have_text("Choose the last day too.")
    expect(page.get_by_label("To", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Search page text")).to_have_value("SUMMER")  # nothing given is lost
    page.get_by_label("To", exact=True).fill(last.isoformat())
    expect(page.locator("#filter-to-error")).to_have_count(0)
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator(f"#schedule-{soon}")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"q=SUMMER&from={first}&to={last}$"))
    expect(page.locator("#schedules-region")).to_have_attribute(  # the live refresh keeps the filters
        "hx-get", re.compile(r"q=SUMMER"))
    site.screenshot("schedules-filtered", page)
    assert_accessible(page, "schedules-filtered")

    page.get_by_label("To", exact=True).fill((first - timedelta(days=1)).isoformat())
    expect(page.locator("#filter-to-error")).to_contain_text("on or after the first day")
    expect(page.locator("#schedules-caption")).to_contain_text("Fix the filters above")
    assert_accessible(page, "schedules-filter-error")

    page.goto(site.url + f"/schedules?q=summer&from={first}&to={last}&status=queued")  # the URL alone
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_label("Search page text")).to_have_value("summer")
    expect(page.get_by_label("From", exact=True)).to_have_value(first.isoformat())
    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator("tbody tr")).to_have_count(4)


def test_pagination_keeps_the_filter_and_the_url(site, app):
    start = datetime.now(timezone.utc) + timedelta(hours=1)
    ids = [make_schedule(app, f"Page {n}", start + timedelta(minutes=n))[1] for n in range(23)]
    page = site.goto("/schedules?status=queued")
    expect(page.locator("tbody tr")).to_have_count(20)
    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"/schedules\?status=queued&page=2$"))
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.locator(f"#schedule-{ids[-1]}")).to_be_visible()
    page.reload()
    expect(page.locator("tbody tr")).to_have_count(3)

