"""What got in a first-time user's way, each checked in a real browser."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from browser.axe import violations
from browser.test_web import _in_app, attachment_item, file_payload, make_schedule, stored
from conftest import wait_until
from helpers import png_bytes

pytestmark = pytest.mark.browser


def test_every_compose_text_meets_aa_contrast_while_publish_now_is_chosen(site):
    page = site.page
    expect(page.get_by_label("Publish now")).to_be_checked()
    contrast = [v for v in violations(page) if v["id"] == "color-contrast"]
    assert not contrast, contrast


# Schedules: a live refresh keeps focus and scroll; it polls fast only when something is about to change.

COUNT_REFRESHES = """() => { window.refreshes = 0;
    document.addEventListener('htmx:afterSettle', e => { if (e.detail.target.id === 'schedules-region') window.refreshes++; }); }"""


def test_a_live_refresh_keeps_focus_and_scroll(site, app):
    now = datetime.now(timezone.utc)
    ids = [make_schedule(app, f"Due soon {n}", now + timedelta(seconds=50 + n))[1] for n in range(12)]
    page = site.open(viewport={"width": 390, "height": 500}, path="/schedules")
    expect(page.locator("#schedules-region")).to_have_attribute("hx-trigger", "every 2s")
    page.evaluate(COUNT_REFRESHES)
    link = page.locator(f"#schedule-{ids[8]} a").first
    link.focus()
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0
    page.wait_for_function("() => window.refreshes >= 2", timeout=10_000)
    focused = page.evaluate("document.activeElement.closest('tr') && document.activeElement.closest('tr').id")
    assert focused == f"schedule-{ids[8]}", page.evaluate("document.activeElement.outerHTML.slice(0, 200)")
    assert page.evaluate("window.scrollY") == scrolled


def test_the_list_polls_slowly_or_not_at_all_when_nothing_is_due_soon(site, app):
    next_year = datetime.now(timezone.utc) + timedelta(days=365)
    _, far = make_schedule(app, "Next year", next_year)
    page = site.goto("/schedules")
    expect(page.locator(f"#schedule-{far}")).to_be_visible()
    region = page.locator("#schedules-region")
    expect(region).to_have_attribute("hx-trigger", "every 30s")
    expect(region).to_contain_text("updating every 30 seconds")

    _in_app(app, lambda: __import__("pagesite.services.schedules", fromlist=["x"]).cancel_schedule(far))
    page.reload()
    expect(page.locator(f"#schedule-{far} .badge")).to_have_text("Canceled")
    expect(region).not_to_have_attribute("hx-trigger", re.compile("."))

    _, soon = make_schedule(app, "In a moment", datetime.now(timezone.utc) + timedelta(seconds=40))
    page.reload()
    expect(region).to_have_attribute("hx-trigger", "every 2s")


# Compose: the preview shows every attachment, in order, whatever order the uploads finish in.

def slow_network(page, latency_ms=300, upload_bytes_per_s=400_000):
    """Chromium's own network throttling: requests overlap the way they do on a real connection."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": upload_bytes_per_s})
    return cdp


def test_the_preview_shows_every_attachment_in_order(site, app):
    from browser.test_web import noisy_png

    page = site.page
    slow_network(page)
    # The first file is a little larger: it finishes uploading last, while the
    # preview asked for when the second one finished is still on its way.
    page.get_by_label("Attachments").set_input_files([
        file_payload("larger-first.png", noisy_png(120), "image/png"),
        file_payload("small-second.png", png_bytes(color=(10, 200, 10)), "image/png"),
    ])
    expect(page.locator("input[name=attachment_ids]")).to_have_count(2)
    ids = page.locator("input[name=attachment_ids]").evaluate_all("els => els.map(e => e.value)")
    expect(page.locator("#preview img")).to_have_count(2)
    page.wait_for_function("() => !document.querySelector('#preview.htmx-request')")
    sources = page.locator("#preview img").evaluate_all("els => els.map(e => e.getAttribute('src'))")
    assert sources == [f"/attachments/{i}/file" for i in ids]
    names = page.locator("#attachment-list .upload-name").all_inner_texts()
    assert names == ["larger-first.png", "small-second.png"]


# Compose: an error goes as soon as its field is valid, and the summary with it.

def test_errors_go_as_soon_as_the_field_is_valid(site, app):
    page = site.page
    page.get_by_role("button", name="Create page").click()
    summary = page.get_by_role("alert").filter(has_text="The page was not created")
    expect(summary).to_be_focused()
    text = page.get_by_label("Text")
    expect(text).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#text-error")).to_have_text("Text must not be blank.")

    text.fill("   ")  # still blank: the error stays
    expect(page.locator("#text-error")).to_be_visible()
    text.fill("Now there is something to say")
    expect(page.locator("#text-error")).to_have_count(0)
    expect(text).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Text must not be blank.")).to_have_count(0)
    expect(summary).to_have_count(0)  # nothing left to fix

    page.get_by_label("Attachments").set_input_files([file_payload("dot.png", png_bytes(), "image/png")])
    attachment_item(page, "dot.png").get_by_label("Description").fill("A red dot")
    page.get_by_role("button", name="Create page").click()
    expect(page.get_by_role("status").filter(has_text="was created")).to_be_visible()


def test_a_schedule_error_goes_when_a_future_time_is_chosen(site, app):
    page = site.page
    page.get_by_label("Text").fill("Yesterday's news")
    page.get_by_label("Schedule for").check()
    yesterday = datetime.now() - timedelta(days=2)
    page.get_by_label("Date").fill(yesterday.strftime("%Y-%m-%d"))
    page.get_by_label("Time").fill("10:00")
    page.get_by_role("button", name="Create page").click()
    expect(page.locator("#scheduled_at-error")).to_contain_text("has already passed")
    page.get_by_label("Date").fill((datetime.now() + timedelta(days=3)).strftime("%Y-%m-%d"))
    expect(page.locator("#scheduled_at-error")).to_have_count(0)
    expect(page.get_by_label("Date")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Time")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").filter(has_text="The page was not created")).to_have_count(0)


# Compose: a file past the attachment limit is refused as it is chosen, with the reason on its card.

def test_a_file_past_the_limit_is_refused_as_it_is_chosen(site, app):
    page = site.page
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/compose/attachments") else None)
    page.get_by_label("Attachments").set_input_files([
        file_payload(f"photo-{n}.png", png_bytes(color=(40 * n, 30, 30)), "image/png") for n in range(1, 4)])
    expect(page.locator("input[name=attachment_ids]")).to_have_count(3)
    page.get_by_label("Attachments").set_input_files([
        file_payload(f"photo-{n}.png", png_bytes(color=(40 * n, 30, 30)), "image/png") for n in range(4, 6)])
    expect(page.locator("input[name=attachment_ids]")).to_have_count(4)

    refused = attachment_item(page, "photo-5.png")
    expect(refused.locator(".field-error")).to_have_text(
        "Not added: a page takes at most 4 attachments. Remove one to make room for this file.")
    expect(refused.get_by_role("button", name="Dismiss photo-5.png")).to_be_visible()
    assert len(uploads) == 4, uploads  # the fifth never left the browser

    # Making room lets the next file in.
    attachment_item(page, "photo-1.png").get_by_role("button", name="Remove photo-1.png").click()
    refused.get_by_role("button", name="Dismiss photo-5.png").click()
    page.get_by_label("Attachments").set_input_files([file_payload("photo-6.png", png_bytes(), "image/png")])
    expect(attachment_item(page, "photo-6.png").get_by_label("Description")).to_be_visible()
    expect(page.locator("input[name=attachment_ids]")).to_have_count(4)


# Compose: leaving with typed text or uploads asks first.

def test_leaving_unsaved_work_asks_first(site, app):
    page = site.page
    dialogs = []

    def answer(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss() if len(dialogs) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.get_by_role("link", name="Schedules").click()  # nothing typed: leaves without a question
    expect(page).to_have_url(re.compile("/schedules$"))
    assert dialogs == []
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compose").click()

    page.get_by_label("Attachments").set_input_files([file_payload("keep.png", png_bytes(), "image/png")])
    expect(attachment_item(page, "keep.png").get_by_label("Description")).to_be_visible()
    page.get_by_role("link", name="Schedules").click()
    wait_until(lambda: dialogs, message="the leave-page question")
    assert dialogs == ["beforeunload"]
    expect(page).to_have_url(re.compile("/compose$"))  # stayed: the upload is still there
    expect(attachment_item(page, "keep.png")).to_be_visible()

    page.get_by_role("link", name="Schedules").click()  # asked again, and this time leaves
    expect(page).to_have_url(re.compile("/schedules$"))
    assert dialogs == ["beforeunload", "beforeunload"]


def test_a_created_page_leaves_nothing_unsaved(site, app):
    page = site.page
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.accept()))
    page.get_by_label("Text").fill("Done and dusted")
    page.get_by_role("button", name="Create page").click()
    expect(page.get_by_role("status").filter(has_text="was created")).to_be_visible()
    page.get_by_role("link", name="All schedules").click()
    expect(page).to_have_url(re.compile("/schedules$"))
    assert dialogs == []


# Settings: redirect after creating a token; no sideways scrolling on a phone; local times, copy, a careful Revoke.

def token_count(app):
    from pagesite.models import ApiToken

    return _in_app(app, lambda: ApiToken.query.count())


def create_token(page, name):
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_label("Token", exact=True)).to_have_value(re.compile(r"^ps_"))
    # The token shows before the page's deferred script has run (under load, long before):
    # a click on Copy then finds no handler. Wait for the page to be whole, as a person would see it.
    page.wait_for_load_state("load")


def test_reloading_after_create_token_creates_nothing(site, app):
    page = site.goto("/settings")
    create_token(page, "deploy script")
    expect(page).to_have_url(re.compile("/settings$"))
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings")).to_have_attribute(
        "aria-current", "page")
    assert token_count(app) == 1
    page.reload()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    expect(page.get_by_label("Token", exact=True)).to_have_count(0)  # shown once only
    assert token_count(app) == 1

    page.get_by_role("button", name="Create token").click()  # no name: refused, the menu still knows where it is
    expect(page.locator("#token-name-error")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings")).to_have_attribute(
        "aria-current", "page")


def test_settings_fit_a_phone(site, app):
    page = site.open(viewport={"width": 390, "height": 844}, path="/settings")
    for name in ("a long token name for the nightly export job", "second", "third"):
        create_token(page, name)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for button in page.get_by_role("button", name=re.compile("^Revoke token")).all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    site.screenshot("phone-settings", page)


def test_settings_show_local_times_copy_and_a_careful_revoke(site, app):
    site.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = site.goto("/settings")
    create_token(page, "copied")
    token = page.get_by_label("Token", exact=True).input_value()
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == token

    created = page.locator("table.tokens tbody tr").first.locator("td[data-label=Created]")
    expect(created).not_to_have_text(re.compile(r"\d{4}-\d\d-\d\dT"))  # no raw ISO timestamps
    expect(created).to_contain_text(re.compile(r"(EST|EDT|GMT-[45])"))  # the browser's zone (New York)

    revoke = page.get_by_role("button", name="Revoke token copied")
    assert revoke.evaluate("b => getComputedStyle(b).color") == "rgb(161, 37, 27)"  # the destructive colour
    answers = []
    page.once("dialog", lambda d: (answers.append(d.message), d.dismiss()))
    revoke.click()
    wait_until(lambda: answers, message="the revoke question")
    assert "cannot be undone" in answers[0]
    expect(page.locator("table.tokens .badge")).to_have_text("Active")
    page.once("dialog", lambda d: d.accept())
    revoke.click()
    expect(page.locator("table.tokens .badge")).to_have_text("Revoked")


# The API reference leads back to the app, and nothing on it scrolls sideways on a phone.

def test_api_docs_lead_back_and_fit_a_phone(site, app):
    page = site.open(viewport={"width": 390, "height": 844}, path="/api-docs")
    scrollable = page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.scrollWidth > e.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
        .filter(e => e.tabIndex < 0).length""")
    assert scrollable == 0, "scrollable regions the keyboard cannot reach"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not [v for v in violations(page) if v["id"] == "scrollable-region-focusable"]
    site.screenshot("phone-api-docs", page)
    page.get_by_role("link", name="Back to pagesite").click()
    expect(page).to_have_url(re.compile("/compose$"))


# Signed out, the menu offers nothing that only leads back to sign-in.

def test_signed_out_the_menu_shows_only_what_can_be_used(site, app):
    page = site.page
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("/signin$"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    for name in ("Compose", "Schedules", "Settings"):
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    page.get_by_role("link", name="pagesite").click()
    expect(page).to_have_url(re.compile("/signin$"))
    # An error page reached without an account (a public attachment link
    # gone bad) offers sign-in, not screens that would only redirect there.
    page.goto(site.url + "/links/attachments/not-a-valid-token")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    expect(page.get_by_role("link", name="Back to Compose")).to_have_count(0)


# A time that a daylight-saving change skips is not moved silently: the user is asked first.

def next_spring_forward(zone_name):
    """The next date on which 02:30 does not exist in ``zone_name``."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from pagesite.timeutil import local_time_kind

    day = date.today() + timedelta(days=2)
    for _ in range(400):
        if local_time_kind(day.isoformat(), "02:30", zone_name) == "missing":
            return day
        day += timedelta(days=1)
    raise AssertionError("no spring-forward night within a year")


def test_a_skipped_time_is_confirmed_before_the_page_is_created(site, app):
    from pagesite.models import Page

    day = next_spring_forward("America/New_York")
    page = site.page
    page.get_by_label("Text").fill("At half past two, they say")
    page.get_by_label("Schedule for").check()
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Time").fill("02:30")
    page.get_by_role("button", name="Create page").click()

    question = page.get_by_role("alert").filter(has_text="does not exist")
    expect(question).to_be_focused()
    expect(question).to_contain_text(f"02:30 does not exist on {day.isoformat()} in America/New_York")
    expect(question).to_contain_text("03:30")
    expect(page.get_by_label("Time")).to_have_value("02:30")  # the user's choice is not rewritten
    assert _in_app(app, lambda: Page.query.count()) == 0  # nothing created before the user says so
    site.screenshot("compose-dst-question")

    question.get_by_role("button", name="Schedule for 03:30").click()
    success = page.get_by_role("status").filter(has_text="was created")
    expect(success).to_contain_text("is scheduled for")
    schedule_id = int(re.search(r"#schedule-(\d+)", success.get_by_role("link", name="Its schedule")
                                .get_attribute("href")).group(1))
    expected = datetime(day.year, day.month, day.day, 7, 30, tzinfo=timezone.utc)  # 03:30 EDT
    assert stored(app, "Schedule", schedule_id).scheduled_at == expected


def test_a_skipped_time_can_be_changed_instead(site, app):
    from pagesite.models import Page

    day = next_spring_forward("America/New_York")
    page = site.page
    page.get_by_label("Text").fill("Changed my mind")
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Time").fill("02:30")
    page.get_by_role("button", name="Create page").click()
    expect(page.get_by_role("alert").filter(has_text="does not exist")).to_be_visible()
    page.get_by_label("Time").fill("04:00")
    page.get_by_role("button", name="Create page").click()
    expect(page.get_by_role("status").filter(has_text="was created")).to_be_visible()
    assert _in_app(app, lambda: Page.query.count()) == 1


# After a retry, the attempt count reads as a person would say it.

def test_attempts_after_a_retry_read_plainly(site, workers, app):
    from pagesite.services import pages, schedules

    def failed_once():
        page = pages.create_page("Rejected by the network [stub:fail]")
        return page.id, schedules.publish_now("stub", page.id).schedule.id

    page_id, schedule_id = _in_app(app, failed_once)
    page = site.goto(f"/pages/{page_id}")
    attempts = page.locator(f"#schedule-{schedule_id} td[data-label=Attempts]")
    expect(attempts).to_have_text("1 of 5")
    site.goto("/schedules?status=failed", page)
    expect(attempts).to_have_text("1 of 5")  # the schedules list says it the same way
    page.get_by_role("button", name=f"Retry: schedule {schedule_id}").click()
    wait_until(lambda: stored(app, "Schedule", schedule_id).attempts == 2
               and stored(app, "Schedule", schedule_id).status == "failed", message="the second attempt")
    for screen in (f"/pages/{page_id}", "/schedules?status=failed"):
        site.goto(screen, page)
        expect(attempts).to_have_text("Retried by you; 1 attempt so far in this try (up to 5), 2 in all")
        expect(attempts).not_to_contain_text("of 6")


# An attachment without a description gets a gentle reminder, which can be passed by.

def test_a_missing_description_gets_a_reminder(site, app):
    from pagesite.models import Page

    page = site.page
    page.get_by_label("Text").fill("Look at this")
    page.get_by_label("Attachments").set_input_files([file_payload("sunset.png", png_bytes(), "image/png")])
    description = attachment_item(page, "sunset.png").get_by_label("Description")
    expect(description).to_be_visible()
    page.get_by_role("button", name="Create page").click()

    reminder = page.get_by_role("alert").filter(has_text="no description")
    expect(reminder).to_be_focused()
    expect(reminder).to_contain_text("1 attachment has no description: sunset.png")
    assert _in_app(app, lambda: Page.query.count()) == 0
    site.screenshot("compose-description-reminder")
    reminder.get_by_role("link", name="Add a description").click()
    expect(description).to_be_focused()
    description.fill("The sun going down over the sea")
    page.get_by_role("button", name="Create page").click()
    expect(page.get_by_role("status").filter(has_text="was created")).to_be_visible()
    assert _in_app(app, lambda: Page.query.one().attachments[0].alt_text) == "The sun going down over the sea"


def test_the_reminder_can_be_dismissed(site, app):
    from pagesite.models import Page

    page = site.page
    page.get_by_label("Text").fill("No words needed")
    page.get_by_label("Attachments").set_input_files([file_payload("pattern.png", png_bytes(), "image/png")])
    expect(attachment_item(page, "pattern.png").get_by_label("Description")).to_be_visible()
    page.get_by_role("button", name="Create page").click()
    page.get_by_role("button", name="Create without a description").click()
    expect(page.get_by_role("status").filter(has_text="was created")).to_be_visible()
    assert _in_app(app, lambda: Page.query.count()) == 1
