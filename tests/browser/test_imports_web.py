"""A plan in from CSV on screen: every row previewed with its problems beside it,
then the good rows created; out again from the schedules list. Keyboard only,
checked with axe-core at 1280 and 390 px."""

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from browser.axe import assert_accessible
from browser.test_web import _in_app

pytestmark = pytest.mark.browser


def stub_channel(app):
    from pagesite.services import channels

    return _in_app(app, lambda: (lambda c: (c.id, c.name))(channels.resolve()))


def write_plan(tmp_path, channel_name):
    soon = datetime.now(timezone.utc) + timedelta(days=2)
    lines = ["text,scheduled_at,channels",
             f"From the spreadsheet,{soon:%Y-%m-%d} 09:00,{channel_name}",
             f"\"Second, with a comma\",{soon:%Y-%m-%dT%H:%M:%S}+00:00,{channel_name}",
             f"Yesterday's news,{datetime.now(timezone.utc) - timedelta(days=1):%Y-%m-%dT%H:%M:%S}Z,{channel_name}"]
    path = tmp_path / "plan.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def made():
    from pagesite.services import schedules

    return sorted((s.page.text, s.scheduled_at.isoformat()) for s in schedules.list_schedules().items)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_import_a_plan_with_the_keyboard(site, app, tmp_path, viewport):
    _, name = stub_channel(app)
    page = site.open(viewport=viewport, path="/schedules")
    page.locator("#import-csv").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Import a plan from CSV")).to_be_visible()
    assert_accessible(page, f"import-form-{'phone' if viewport['width'] < 600 else 'desktop'}")

    # No file chosen: said next to the field, which takes the focus.
    page.locator("#read-file").press("Enter")
    expect(page.locator("#file-error")).to_contain_text("Choose a CSV file")
    expect(page.locator("#file")).to_be_focused()
    expect(page.locator("#file")).to_have_attribute("aria-invalid", "true")

    page.locator("#file").set_input_files(write_plan(tmp_path, name))
    page.get_by_label("Time zone of times without an offset").fill("Europe/Berlin")
    page.locator("#read-file").press("Enter")
    expect(page.locator("#import-summary")).to_contain_text("2 of 3 rows can be created")
    expect(page.locator("#import-line-4")).to_contain_text("in the past")
    expect(page.locator("#import-line-2")).to_contain_text("None")
    expect(page.locator("#import-line-3")).to_contain_text("Second, with a comma")
    kind = "phone" if viewport["width"] < 600 else "desktop"
    assert_accessible(page, f"import-preview-{kind}")
    site.screenshot(f"import-preview-{kind}", page)
    assert _in_app(app, made) == []  # the preview created nothing

    page.locator("#create-valid").press("Enter")
    expect(page.locator(".notice, [role=status]").filter(has_text="Imported 2 schedules")).to_be_visible()
    expect(page.locator("body")).to_contain_text("From the spreadsheet")
    expect(page.locator("body")).to_contain_text("Second, with a comma")

    soon = datetime.now(timezone.utc) + timedelta(days=2)
    rows = _in_app(app, made)
    berlin_nine = rows[0][1]
    assert [text for text, _ in rows] == ["From the spreadsheet", "Second, with a comma"]
    assert berlin_nine.endswith(("07:00:00+00:00", "08:00:00+00:00"))  # 09:00 in Berlin, summer or winter
    assert berlin_nine.startswith(f"{soon:%Y-%m-%d}")


def test_the_schedules_list_downloads_as_csv(site, app):
    from pagesite.services import pages, schedules

    def create():
        page = pages.create_page("Out as a file")
        schedules.create_schedule(page.id, (datetime.now(timezone.utc) + timedelta(days=1)).isoformat())

    _in_app(app, create)
    page = site.open(path="/schedules?q=file")
    with page.expect_download() as download:
        page.locator("#export-csv").press("Enter")
    content = open(download.value.path(), encoding="utf-8").read()
    assert content.splitlines()[0].startswith("schedule_id,page_id,text")
    assert "Out as a file" in content and len(content.splitlines()) == 2
