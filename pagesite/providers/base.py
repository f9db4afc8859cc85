"""What a publishing destination must implement.

A provider type (stub, webhook, mastodon, bluesky) is a class; one connected
account on it is a channel, and the class is instantiated with that channel's
data (the pattern of Redash's destinations). The rest of pagesite only ever
hears "published with this id and URL", "try again after", "reconnect", or
"refused because".
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO


# Idempotency keys from before every schedule had a random one (migration 0008):
# the bare schedule id, kept by schedules attempted before the upgrade.
LEGACY_KEY_PREFIX = "pagesite-schedule-"


class ProviderError(Exception):
    """The provider refused or could not be reached. The message is shown to the user: no secrets in it."""

    transient = False


class TransientError(ProviderError):
    """Worth trying again later (rate limit, timeout, 5xx).

    ``retry_after`` is seconds from now when the network said when (Retry-After,
    X-RateLimit-Reset, RateLimit-Reset); None lets the worker's backoff decide.

    ``outcome_unknown``: the request may have reached the network and acted
    (no answer came back), so the retry must send exactly what was sent.
    """

    transient = True

    def __init__(self, message, retry_after=None, outcome_unknown=False):
        super().__init__(message)
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown


class UnusableAnswer(TransientError):
    """The network answered with something that is not its API: a web page, an empty body, cut-off or
    wrongly typed JSON, an answer that does not stop.

    Publishing tries again (a proxy's error page passes); connecting answers 422 on ``field``, the
    address typed, which is then most likely wrong.
    """

    def __init__(self, field, message, outcome_unknown=False):
        super().__init__(message, outcome_unknown=outcome_unknown)
        self.field = field


class PermanentError(ProviderError):
    """Trying again will not help (rejected content)."""


class AuthenticationError(PermanentError):
    """The network refused the channel's credentials: the channel needs reconnecting.

    The publishing service marks the channel ``needs_attention`` with this
    message and fails the schedule; other channels carry on.
    """


class InvalidChannel(PermanentError):
    """Connecting failed because of one field (``settings.url``, ``credentials.app_password``...).

    Raised by ``Provider.connect``; the API answers 422 with the message on that field.
    """

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Limits:
    """What a channel accepts; checked when a schedule is created, not at the due time."""

    max_characters: int
    counting: str  # how characters are counted, in words: "graphemes; each link counts as 23"
    max_attachments: int
    content_types: tuple  # accepted MIME types, e.g. ("image/jpeg", "image/png", ...)
    max_image_bytes: int | None = None  # None: no limit of its own (the upload limit applies)
    max_video_bytes: int | None = None  # 0: video not accepted
    max_description: int | None = None  # characters of alt text
    characters_reserved_per_url: int | None = None  # a link counts as this many characters (Mastodon)

    def to_dict(self):
        return {**self.__dict__, "content_types": list(self.content_types)}

    @classmethod
    def from_dict(cls, data):
        return cls(**{**data, "content_types": tuple(data.get("content_types", ()))})


@dataclass(frozen=True)
class Account:
    """The account as the network reports it."""

    handle: str
    display_name: str | None = None
    avatar_url: str | None = None
    url: str | None = None


@dataclass
class Connection:
    """What connecting (verifying) a channel found out.

    ``credentials`` is the full set to store (encrypted): the user's input plus
    what the provider adds (a Bluesky session and DID, a generated webhook
    secret). ``settings`` likewise (normalised URL, remembered app registration).
    """

    account: Account
    limits: Limits
    credentials: dict
    settings: dict


@dataclass(frozen=True)
class AttachmentData:
    """One attachment of the page being published; its bytes come from ``open()``
    (a binary stream from storage, wherever storage is, closed by the caller), never a path."""

    id: int
    content_type: str
    size: int
    sha256: str
    alt_text: str
    filename: str
    width: int | None
    height: int | None
    opener: Callable[[], BinaryIO] = field(repr=False, compare=False, default=None)

    def open(self):
        """A binary stream of the attachment's bytes (close it when done)."""
        return self.opener()

    def read(self):
        with self.open() as stream:
            return stream.read()


@dataclass(frozen=True)
class PageData:
    """A page as the provider sees it: plain data, no database session."""

    id: int
    text: str
    attachments: tuple = field(default_factory=tuple)
    scheduled_at: object = None  # aware UTC: when the schedule being published was due (None when only checking)
    link_card: bool = True  # whether a card for the first link is built where the network needs one sent (Bluesky)


@dataclass(frozen=True)
class PublishResult:
    external_id: str
    url: str | None = None
    notes: tuple = ()  # things the user should know, kept in the publish log ("image 2 was scaled down to fit")


@dataclass(frozen=True)
class Counts:
    """A post's public counts, in one set of names for every network; None where it does not count one."""

    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None


@dataclass
class ChannelData:
    """One channel as a provider sees it: plain data, credentials decrypted.

    A provider may update ``credentials`` in place (a refreshed session); the
    publishing service stores them again, encrypted, when they changed.
    """

    id: int
    provider: str
    name: str
    settings: dict
    credentials: dict
    account: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)


class Provider:
    """Base class of every provider type. Subclasses call ``register`` (see providers/__init__.py)."""

    name = "base"  # the type, as stored on the channel: "mastodon"
    label = "Base"  # shown to people: "Mastodon"
    description = ""  # one sentence for the connect form: what a channel of this type does
    # JSON schema of the channel's settings and credentials, for the API and the
    # connect form. A credentials property marked ``"secret": true`` is never shown again.
    settings_schema = {"type": "object", "properties": {}}
    credentials_schema = {"type": "object", "properties": {}}
    # Whether the network posts once per idempotency key, however often it is sent (Mastodon's
    # Idempotency-Key, Bluesky's record key, a webhook-id receivers deduplicate on). Where it does
    # not (Telegram, Discord), an attempt whose outcome is unknown is never sent again by itself:
    # the schedule fails as "may have been published", and the person decides.
    idempotent = True

    def __init__(self, channel: ChannelData, config=None):
        self.channel = channel
        self.config = config or {}  # the app's config, for base URL, timeouts and the like

    @classmethod
    def default_limits(cls):
        """The limits to use before (or without) asking the network."""
        raise NotImplementedError

    def connect(self) -> Connection:
        """Verify the channel's settings and credentials with the network.

        Raise InvalidChannel (with the field) or AuthenticationError when the
        network refuses; TransientError when it cannot be reached.
        """
        raise NotImplementedError

    def refresh(self) -> Connection | None:
        """The account and limits as the network reports them now, for the daily refresh; None when this
        provider has nothing to refresh. Raise AuthenticationError only when the network refused the
        credentials (the channel then needs reconnecting); any other error keeps what is stored."""
        return None

    def count_characters(self, text) -> int:
        """The length of ``text`` as this network counts it."""
        return len(text)

    def check(self, page: PageData, limits: Limits) -> list:
        """What about ``page`` this channel would refuse, as messages ([] when it fits).

        Called when a schedule is created, so limits fail at compose time, not at the due time.
        """
        problems = []
        length = self.count_characters(page.text)
        if length > limits.max_characters:
            problems.append(f"text is {length} characters; at most {limits.max_characters}.")
        if len(page.attachments) > limits.max_attachments:
            problems.append(f"{len(page.attachments)} attachments; at most {limits.max_attachments}.")
        for a in page.attachments:
            problems += self.attachment_problems(a, limits)
        return problems

    def attachment_problems(self, a, limits) -> list:
        """What this channel would refuse about one attachment, as messages naming it."""
        problems = []
        if limits.content_types and a.content_type not in limits.content_types:
            problems.append(f"{a.filename}: {a.content_type} is not accepted.")
        elif a.content_type.startswith("video/") and limits.max_video_bytes is not None \
                and a.size > limits.max_video_bytes:
            problems.append(f"{a.filename}: video is {a.size} bytes; at most {limits.max_video_bytes}.")
        elif a.content_type.startswith("image/") and limits.max_image_bytes is not None \
                and a.size > limits.max_image_bytes:
            problems.append(f"{a.filename}: image is {a.size} bytes; at most {limits.max_image_bytes}.")
        if limits.max_description is not None and len(a.alt_text) > limits.max_description:
            problems.append(f"{a.filename}: description is {len(a.alt_text)} characters; "
                            f"at most {limits.max_description}.")
        return problems

    reads_counts = False  # whether ``read_counts`` is implemented (the network shows public counts)
    counts_per_call = 1  # how many posts one ``read_counts`` call may ask about

    def read_counts(self, external_ids) -> dict:
        """{external id: Counts, or None when the post is gone} for posts this channel published.
        TransientError (with ``retry_after``) when the network asks to wait; AuthenticationError when
        it refuses the channel."""
        raise NotImplementedError

    def publish(self, page: PageData, idempotency_key: str, *, schedule_id, attempt,
                last_attempt_at=None) -> PublishResult:
        """Publish ``page`` once per ``idempotency_key``; return a PublishResult.

        ``last_attempt_at`` (aware UTC) is when the previous attempt for this
        schedule started, if any, for networks whose idempotency expires.
        Raise TransientError to retry with backoff (honouring ``retry_after``),
        AuthenticationError to mark the channel for reconnection, or
        PermanentError to fail the schedule at once.
        """
        raise NotImplementedError
