"""How long a network asked us to wait: one reading of its headers for every provider."""

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx

from pagesite.providers.waits import seconds_to_wait

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
SOON = NOW + timedelta(seconds=120)


def test_a_reset_in_iso_8601_epoch_seconds_or_seconds_from_now():
    assert seconds_to_wait({"X-RateLimit-Reset": SOON.isoformat().replace("+00:00", "Z")}, NOW) == 120  # Mastodon
    assert seconds_to_wait({"RateLimit-Reset": str(int(SOON.timestamp()))}, NOW) == 120  # Bluesky
    assert seconds_to_wait({"RateLimit-Reset": "45"}, NOW) == 45  # the IETF header: seconds from now


def test_retry_after_in_seconds_or_as_an_http_date():
    assert seconds_to_wait({"Retry-After": "30"}, NOW) == 30
    assert seconds_to_wait({"Retry-After": format_datetime(SOON, usegmt=True)}, NOW) == 120


def test_a_reset_is_believed_before_retry_after_and_nothing_said_is_none():
    assert seconds_to_wait({"Retry-After": "5", "X-RateLimit-Reset": SOON.isoformat()}, NOW) == 120
    assert seconds_to_wait({}, NOW) is None
    assert seconds_to_wait({"Retry-After": "soon-ish"}, NOW) is None


def test_a_time_already_past_means_now_and_header_names_are_any_case():
    assert seconds_to_wait({"X-RateLimit-Reset": "2000-01-01T00:00:00Z"}, NOW) == 0
    assert seconds_to_wait(httpx.Headers({"retry-after": "7"}), NOW) == 7
