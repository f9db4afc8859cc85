"""The data model: attachments, pages, channels, schedules and the publish log."""

import secrets

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import encryption
from .encryption import Encrypted
from .extensions import db
from .timeutil import UTCDateTime, utcnow

SCHEDULE_STATUSES = ("queued", "publishing", "published", "failed", "canceled")
ACTIVE_STATUSES = ("queued", "publishing")  # a page may have one of these per channel
LOG_STATUSES = ("published", "failed")
CHANNEL_STATUSES = ("connected", "needs_attention")


class AttachmentAsset(db.Model):
    __tablename__ = "attachment_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))  # sanitised, for display only
    content_type: Mapped[str] = mapped_column(String(100))  # sniffed from the bytes
    size_bytes: Mapped[int] = mapped_column(db.BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    alt_text: Mapped[str] = mapped_column(Text, default="")
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, index=True)

    @property
    def kind(self):
        return self.content_type.split("/", 1)[0]


class Page(db.Model):
    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    # Whether a network that shows a card for the first link only when sent one (Bluesky) is sent one.
    link_card: Mapped[bool] = mapped_column(db.Boolean, default=True, server_default=sql_text("true"))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # A deleted page keeps its row, so its published history stays readable.
    deleted_at: Mapped[object | None] = mapped_column(UTCDateTime)

    page_attachments: Mapped[list["PageAttachment"]] = relationship(
        back_populates="page", order_by="PageAttachment.position", cascade="all, delete-orphan"
    )
    schedules: Mapped[list["Schedule"]] = relationship(
        back_populates="page", order_by="Schedule.id", cascade="all, delete-orphan"
    )
    versions: Mapped[list["PageVersion"]] = relationship(
        back_populates="page", order_by="PageVersion.channel_id", cascade="all, delete-orphan"
    )

    def text_for(self, channel_id):
        """What ``channel_id`` is sent: its version's text, else the page's."""
        return next((v.text for v in self.versions if v.channel_id == channel_id), self.text)

    @property
    def attachments(self):
        """The page's files in order, each with this page's description."""
        return [PageFile(link.attachment, link.alt_text) for link in self.page_attachments]


class PageFile:
    """A file as one page uses it: the upload's details, the page's own ``alt_text``."""

    def __init__(self, asset, alt_text):
        self._asset, self.alt_text = asset, alt_text

    def __getattr__(self, name):
        return getattr(self._asset, name)


class PageAttachment(db.Model):
    __tablename__ = "page_attachments"

    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachment_assets.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    # This page's description of the file (the upload's description by default),
    # so editing one page never changes another's.
    alt_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    page: Mapped[Page] = relationship(back_populates="page_attachments")
    attachment: Mapped[AttachmentAsset] = relationship(lazy="joined")


class PageVersion(db.Model):
    """A page in one channel's own words: its text there (the page's attachments still go with it)."""

    __tablename__ = "page_versions"

    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)

    page: Mapped[Page] = relationship(back_populates="versions")
    channel: Mapped["Channel"] = relationship(lazy="joined", viewonly=True)


class Channel(db.Model):
    """One connected account on one provider ("our company's Bluesky").

    ``credentials_encrypted`` is the only place its secrets live (Fernet, see
    pagesite/encryption.py). A removed channel keeps its row (``deleted_at``),
    so its schedules and publish logs keep saying where they went; its
    credentials are erased.
    """

    __tablename__ = "channels"
    __table_args__ = (
        CheckConstraint("status IN ('connected', 'needs_attention')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    credentials_encrypted: Mapped[str | None] = mapped_column(Encrypted)
    account: Mapped[dict] = mapped_column(JSON, default=dict)  # handle, display_name, avatar_url, url
    limits: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="connected")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # When the account and limits were last read from the network (connecting, or the daily refresh).
    refreshed_at: Mapped[object | None] = mapped_column(UTCDateTime)

    @property
    def label(self):
        """How messages name the channel: "Bluesky (@ana.example)"."""
        handle = (self.account or {}).get("handle")
        return f"{self.name} ({handle})" if handle and handle != self.name else self.name

    @property
    def credentials_unreadable(self):
        """Whether no configured key can read its credentials (an old key was dropped too soon)."""
        return not encryption.readable(self.credentials_encrypted)

    @property
    def current_status(self):
        """``status``, or needs_attention while its credentials cannot be read: what is shown."""
        return "needs_attention" if self.credentials_unreadable else self.status

    @property
    def current_error(self):
        """``last_error``, or why its credentials cannot be read."""
        if self.credentials_unreadable:
            return f"{self.label}: {encryption.UNREADABLE}."
        return self.last_error


def new_idempotency_key():
    """A schedule's own key: 128 random bits, so no other schedule, installation or reset
    database can ever pick it (the id alone repeats after a reset)."""
    return f"ps-{secrets.token_hex(16)}"


def _first_attempt(context):
    """A new queued schedule is first tried at the time chosen for it."""
    values = context.get_current_parameters()
    return values.get("scheduled_at") if values.get("status", "queued") == "queued" else None


class Schedule(db.Model):
    __tablename__ = "schedules"
    __table_args__ = (
        # The list query: filter by status, order by time then id. Schedules of
        # deleted pages leave every list, so the lists' indexes leave them out too,
        # and a list (its count included) is read from an index alone. (The always
        # empty page_deleted_at is in them for SQLite, which reads the table for a
        # column of the index's WHERE that the index itself does not hold.)
        Index("ix_schedules_status_scheduled_at", "status", "scheduled_at", "id", "page_deleted_at",
              sqlite_where=sql_text("page_deleted_at IS NULL"), postgresql_where=sql_text("page_deleted_at IS NULL")),
        Index("ix_schedules_scheduled_at", "scheduled_at", "id", "page_deleted_at",
              sqlite_where=sql_text("page_deleted_at IS NULL"), postgresql_where=sql_text("page_deleted_at IS NULL")),
        # What the worker, the reconciler and health look for: queued and due.
        Index("ix_schedules_status_next_attempt_at", "status", "next_attempt_at", "id"),
        # At most one live schedule per page and channel, even under concurrent requests.
        Index(
            "uq_schedules_active_page_channel", "page_id", "channel_id", unique=True,
            sqlite_where=sql_text("status IN ('queued', 'publishing')"),
            postgresql_where=sql_text("status IN ('queued', 'publishing')"),
        ),
        CheckConstraint(
            "status IN ('queued', 'publishing', 'published', 'failed', 'canceled')", name="status_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    provider: Mapped[str] = mapped_column(String(50))  # the channel's provider, kept for history and filters
    # The time the user chose; only the user changes it.
    scheduled_at: Mapped[object] = mapped_column(UTCDateTime)
    # When the worker tries next (the chosen time, then backoff, rescue or retry); None unless queued.
    next_attempt_at: Mapped[object | None] = mapped_column(UTCDateTime, default=_first_attempt)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts allowed before giving up; a manual retry raises it.
    max_attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[object | None] = mapped_column(UTCDateTime)
    external_id: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2048))
    # When the current attempt was claimed; lets the reconciler find dead workers.
    claimed_at: Mapped[object | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    # When its page was deleted (the page's deleted_at, copied): the schedule then leaves every list.
    page_deleted_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # Sent to the network on every attempt (Mastodon's Idempotency-Key, the webhook-id,
    # the Bluesky record key), so a provider that honours keys posts once. Never reused.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True, default=new_idempotency_key)
    # The last attempt ended without a known outcome (a timeout, a worker that died):
    # the network may have posted it. Until an attempt knows, the page cannot be edited,
    # so the retry sends what the unknown attempt sent, under the same key.
    outcome_unknown: Mapped[bool] = mapped_column(db.Boolean, default=False, server_default=sql_text("false"))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    page: Mapped[Page] = relationship(back_populates="schedules")
    channel: Mapped[Channel] = relationship(lazy="joined")



class PublishLog(db.Model):
    __tablename__ = "publish_logs"
    __table_args__ = (Index("ix_publish_logs_page_id_id", "page_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"), index=True)
    provider: Mapped[str] = mapped_column(String(50))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2048))
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # What the provider said the user should know ("image 1 was scaled down to fit"), a list of sentences.
    notes: Mapped[list] = mapped_column(JSON, default=list, server_default=sql_text("'[]'"))
    # What was handed to the provider: {"text", "attachments": [{"id", "alt_text"}, ...]} in order.
    # A snapshot on the row rather than a revision table: a log row is written once and never
    # changed, so a later edit cannot rewrite it, and reading history needs no join.
    # None for an attempt that never reached the provider's call.
    sent: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    channel: Mapped[Channel | None] = relationship(lazy="joined")
    schedule: Mapped["Schedule | None"] = relationship(viewonly=True)


class MastodonApp(db.Model):
    """pagesite registered as an app on one Mastodon instance, for signing in there.

    Registered once per instance and redirect URI (``POST /api/v1/apps``) and
    reused by every sign-in; the client secret is encrypted like channel credentials.
    """

    __tablename__ = "mastodon_apps"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_url: Mapped[str] = mapped_column(String(255), unique=True)  # normalised: https://host
    redirect_uri: Mapped[str] = mapped_column(String(2048))  # what it was registered with
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_encrypted: Mapped[str] = mapped_column(Encrypted)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-case
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user", order_by="ApiToken.id")


class ApiToken(db.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell tokens apart
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[object | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # None: it never expires. An expired token is refused with a 401 that says so.
    expires_at: Mapped[object | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    @property
    def expired(self):
        return self.expires_at is not None and self.expires_at <= utcnow()


class UserSession(db.Model):
    """One signed-in browser. Its cookie carries a random key; only the key's SHA-256 is stored.

    Signing out deletes the row, so a copied cookie stops working at once;
    changing the password deletes the user's other rows.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class SetupCode(db.Model):
    """The one-time code of first-run set-up (its SHA-256 only). Spent, by deleting the row,
    in the transaction that creates the first account, so only one set-up can succeed."""

    __tablename__ = "setup_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class CalendarFeed(db.Model):
    """A user's secret calendar feed. Only the SHA-256 of the secret in its URL is stored."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class PostingQueue(db.Model):
    """Weekly posting times in a time zone; "Add to queue" takes the next free one.

    ``channel_id`` NULL is the default queue; a channel's own row, when it has times, replaces it for that channel.
    ``slots`` is a list of {"weekday": "mon", "time": "09:00"}, sorted.
    """

    __tablename__ = "posting_queues"
    __table_args__ = (
        # One queue per channel, and one for the default destination (NULL).
        Index("uq_posting_queues_channel", sql_text("coalesce(channel_id, 0)"), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(Integer)
    time_zone: Mapped[str] = mapped_column(String(64))
    slots: Mapped[list] = mapped_column(db.JSON, default=list)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Import(db.Model):
    """A CSV plan read for import: each row as it was in the file, kept until it is
    committed, so what the preview showed is what is created (checked again then)."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    time_zone: Mapped[str | None] = mapped_column(String(64))  # for times written without an offset
    rows: Mapped[list] = mapped_column(JSON, default=list)  # [{"line", "text", "scheduled_at", "channels"}], as read
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    committed_at: Mapped[object | None] = mapped_column(UTCDateTime)
    schedule_ids: Mapped[list | None] = mapped_column(JSON)  # what the commit created


class Snippet(db.Model):
    """A saved block of text (a hashtag group, a sign-off) to insert while composing."""

    __tablename__ = "snippets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


FEED_MODES = ("draft", "queue", "now")


class Feed(db.Model):
    """An RSS, Atom or JSON Feed whose new items become pages (services/feeds.py)."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str | None] = mapped_column(String(300))  # the feed's own, as last read
    channel_ids: Mapped[list] = mapped_column(JSON, default=list)
    mode: Mapped[str] = mapped_column(String(10), default="queue")  # draft, queue (the posting queue) or now
    template: Mapped[str] = mapped_column(Text)
    # For conditional requests: what the feed's server said last.
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    checked_at: Mapped[object | None] = mapped_column(UTCDateTime)  # the last read, whatever its outcome
    next_check_at: Mapped[object | None] = mapped_column(UTCDateTime, index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # reads failed in a row
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (CheckConstraint("mode IN ('draft', 'queue', 'now')", name="mode_known"),)


class FeedItem(db.Model):
    """An item a feed has had, by its id (or link): the one row that makes it a page at most once."""

    __tablename__ = "feed_items"
    __table_args__ = (db.UniqueConstraint("feed_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(64))  # SHA-256 of the item's id, else its link
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id", ondelete="SET NULL"))  # None: only seen
    seen_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class EngagementReading(db.Model):
    """A published post's public counts as read from its network at one moment (services/engagement.py).
    Readings are kept, never overwritten: together they are how the post did over time."""

    __tablename__ = "engagement_readings"
    __table_args__ = (Index("ix_engagement_readings_schedule_id_read_at", "schedule_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    read_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    planned: Mapped[bool] = mapped_column(db.Boolean, default=True)  # one of the readings by age, or on demand
    likes: Mapped[int | None] = mapped_column(Integer)
    reposts: Mapped[int | None] = mapped_column(Integer)
    replies: Mapped[int | None] = mapped_column(Integer)
    quotes: Mapped[int | None] = mapped_column(Integer)  # None where the network does not count them
    deleted: Mapped[bool] = mapped_column(db.Boolean, default=False)  # the post is gone from the network
