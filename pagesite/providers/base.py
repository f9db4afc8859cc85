"""What a publishing destination must implement."""

from dataclasses import dataclass, field


class ProviderError(Exception):
    """The provider refused or could not be reached."""

    transient = False


class TransientError(ProviderError):
    """Worth trying again later (rate limit, timeout, 5xx)."""

    transient = True


class PermanentError(ProviderError):
    """Trying again will not help (rejected content, bad credentials)."""


@dataclass(frozen=True)
class AttachmentData:
    id: int
    path: str
    content_type: str
    alt_text: str
    filename: str


@dataclass(frozen=True)
class PageData:
    """A page as the provider sees it: plain data, no database session."""

    id: int
    text: str
    attachments: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class PublishResult:
    external_id: str
    url: str | None = None


class Provider:
    name = "base"

    def publish(self, page, attachments, idempotency_key, *, schedule_id=None, attempt=1):
        """Publish ``page`` once per ``idempotency_key``; return a PublishResult.

        Raise TransientError to have the publish retried with backoff, or
        PermanentError to fail the schedule at once.
        """
        raise NotImplementedError
