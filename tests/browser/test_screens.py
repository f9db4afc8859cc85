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
