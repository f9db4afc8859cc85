"""What a publishing destination must implement."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO


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
    """An attachment as the provider sees it; its bytes come from ``open()``
    (a binary stream from storage, wherever storage is), closed by the caller."""

    id: int
    content_type: str
    alt_text: str
    filename: str
    size: int
    opener: Callable[[], BinaryIO] = field(repr=False, compare=False)

    def open(self):
        return self.opener()


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
