"""UTC inside, an explicit offset outside, the user's own zone on screen."""

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.types import DateTime, TypeDecorator


def utcnow():
    return datetime.now(timezone.utc)


def from_timestamp(seconds):
    """Aware UTC from seconds since the epoch (as jobs carry times)."""
    return datetime.fromtimestamp(seconds, timezone.utc)


def isoformat(value):
    """ISO 8601 with a ``Z`` offset, or None."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_aware(text):
    """Parse an ISO 8601 timestamp that must carry an offset; returns UTC.

    Raises ValueError with a message fit for the user. An aware datetime (the
    API has parsed the text already) is taken as it is.
    """
    if isinstance(text, datetime) and text.utcoffset() is not None:
        return text.astimezone(timezone.utc)
    if not isinstance(text, str):
        raise ValueError("Must be an ISO 8601 date-time string with an offset, such as 2030-01-31T09:00:00Z.")
    try:
        # fromisoformat accepts "Z" since Python 3.11.
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"Not a valid ISO 8601 date-time: {text!r}.") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Needs a time-zone offset (such as Z or +02:00); a time without one is ambiguous.")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # such as 9999-12-31T23:00:00-02:00, past the last representable instant
        raise ValueError(f"{text.strip()!r} is outside the range of supported dates.") from None


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no time zones, so the value is stored naive there (always UTC);
    PostgreSQL stores ``timestamptz``. Either way Python only sees aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _zone(name):
    if not isinstance(name, str) or not name.strip():
        raise ValueError("The time zone is missing.")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Unknown time zone {name!r}.") from None


def _wall_clock(day, clock):
    """A naive datetime from ``YYYY-MM-DD`` and ``HH:MM[:SS]`` (or date and time objects)."""
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day.strip())
        except ValueError:
            raise ValueError("Enter a date such as 2030-01-31.") from None
    if isinstance(clock, str):
        try:
            clock = time.fromisoformat(clock.strip())
        except ValueError:
            raise ValueError("Enter a time such as 09:30.") from None
    if not isinstance(day, date) or not isinstance(clock, time):
        raise ValueError("Enter a date and a time.")
    return datetime.combine(day, clock.replace(tzinfo=None))


def local_to_utc(day, clock, zone):
    """The UTC instant of a wall-clock ``day`` and ``clock`` in the IANA ``zone``.

    Around daylight-saving changes: a time that does not exist (clocks jump
    forward past it) is read with the offset in force just before the jump, so
    it lands as many minutes after the jump as it was past the hour; a time that
    happens twice (clocks go back) means its first occurrence. ``local_time_kind``
    says which case applies, so callers can tell the user.
    Raises ValueError with a message fit for the user.
    """
    tz = _zone(zone)
    naive = _wall_clock(day, clock)
    return naive.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)


def local_time_kind(day, clock, zone):
    """``"missing"``, ``"repeated"`` or ``"normal"`` for a wall-clock time in ``zone``."""
    tz = _zone(zone)
    naive = _wall_clock(day, clock)
    first = naive.replace(tzinfo=tz, fold=0)
    if first.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != naive:
        return "missing"
    if first.utcoffset() != naive.replace(tzinfo=tz, fold=1).utcoffset():
        return "repeated"
    return "normal"
