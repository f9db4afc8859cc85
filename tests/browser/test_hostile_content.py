"""Hostile text, file names and descriptions are shown as text: no script runs."""

import io
from datetime import datetime, timedelta, timezone

import pytest

from helpers import png_bytes

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<script>window.__xss = 'script tag'</script>",
    '<img src=x onerror="window.__xss = \'img onerror\'">',
    '"><svg onload="window.__xss = \'svg onload\'">',
    "javascript:window.__xss = 'javascript url'",
    "{{ 7 * 7 }} {% raw %}",
    "Ωμέγα 👋 مرحبا\u202eevil",
]
HOSTILE_TEXT = "\n".join(PAYLOADS)


def _arrange(app):
    """A scheduled page whose text, attachment name and description are all hostile."""
    from pagesite.extensions import db
    from pagesite.services import attachments, pages, schedules

    with app.app_context():
        try:
            asset = attachments.upload(io.BytesIO(png_bytes()), '<img src=x onerror="window.__xss=1">.png',
                                       alt_text='" onmouseover="window.__xss=2" <b>bold</b>')
            page = pages.create_page(HOSTILE_TEXT, [asset.id])
            when = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
            schedules.create_schedule(page.id, when)
            failed = pages.create_page("<script>window.__xss='failed row'</script> [stub:fail]")
            schedules.publish_now("stub", failed.id)
            return page.id
        finally:
            db.session.remove()


def _watch(page):
    """Record dialogs and CSP violations; a script that runs would trigger one or set __xss."""
    seen = {"dialogs": [], "csp": []}
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: "Content Security Policy" in message.text and seen["csp"].append(message.text))
    return seen


def _assert_inert(page, seen):
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert seen["dialogs"] == []
    assert seen["csp"] == [], seen["csp"]  # nothing inline even tried to run


def test_hostile_content_is_shown_as_text_everywhere(site, app):
    page_id = _arrange(app)
    page = site.page
    seen = _watch(page)

    site.goto("/schedules", page)
    page.wait_for_selector("table")
    assert "<script>window.__xss = 'script tag'</script>" in page.inner_text("main")
    _assert_inert(page, seen)

    site.goto(f"/pages/{page_id}", page)
    body = page.inner_text("main")
    # No template evaluation either; only the text's own line is checked, since
    # the page's dates may hold "49" (11:49) on their own.
    template_line = next(line for line in body.splitlines() if "7 * 7" in line)
    assert "{{ 7 * 7 }}" in template_line and "49" not in template_line
    assert "<img src=x onerror=" in body
    _assert_inert(page, seen)

    site.goto("/compose", page)
    page.get_by_label("Text").fill(HOSTILE_TEXT)
    preview = page.locator("#preview, .preview").first
    preview.get_by_text("<script>window.__xss = 'script tag'</script>").wait_for()
    _assert_inert(page, seen)
    site.screenshot("hostile-content-preview", page)


def test_every_html_response_carries_the_policy(site):
    page = site.page
    for path in ("/compose", "/schedules", "/settings", "/api-docs"):
        response = page.goto(site.url + path)
        headers = response.headers
        assert response.status == 200, path
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path
