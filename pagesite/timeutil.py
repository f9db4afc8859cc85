"""UTC inside, an explicit offset outside."""

from datetime import datetime, timezone

from sqlalchemy.types import DateTime, TypeDecorator


def utcnow():
    return datetime.now(timezone.utc)


def isoformat(value):
    """ISO 8601 with a ``Z`` offset, or None."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_aware(text):
    """Parse an ISO 8601 timestamp that must carry an offset; returns UTC.

    Raises ValueError with a message fit for the user.
    """
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
