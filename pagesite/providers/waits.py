"""How long a network asked us to wait, read from its answer's headers: one
reading for every provider, so a 429 or 503 means the same wherever it comes from."""

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

# Below this a reset is seconds from now (the IETF RateLimit header); above, seconds since
# the epoch (Bluesky's RateLimit-Reset, some servers' X-RateLimit-Reset): no delay is 30 years.
_EPOCH_FROM = 1_000_000_000

# The headers that say when a rate limit resets, in the order they are believed.
RESET_HEADERS = ("RateLimit-Reset", "X-RateLimit-Reset")


def seconds_to_wait(headers, now=None):
    """Seconds until the network takes requests again, or None when it did not say.

    A rate limit's reset (ISO 8601, as Mastodon sends it; epoch seconds; or
    seconds from now) comes first; else ``Retry-After`` (seconds, or an HTTP
    date). Never negative: a time already past means now."""
    now = now or datetime.now(timezone.utc)
    for name in RESET_HEADERS:
        when = _instant(headers.get(name), now, numbers_may_be_epochs=True)
        if when is not None:
            return max(0.0, (when - now).total_seconds())
    when = _instant(headers.get("Retry-After"), now, numbers_may_be_epochs=False)
    return None if when is None else max(0.0, (when - now).total_seconds())


def _instant(value, now, numbers_may_be_epochs):
    value = (value or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if numbers_may_be_epochs and number >= _EPOCH_FROM:
            return datetime.fromtimestamp(number, timezone.utc)
        return datetime.fromtimestamp(now.timestamp() + number, timezone.utc)
    for parse in (_iso, parsedate_to_datetime):
        try:
            when = parse(value)
        except (TypeError, ValueError, IndexError):
            continue
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return None


def _iso(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
