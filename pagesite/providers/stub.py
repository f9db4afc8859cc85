"""A sandbox provider: it publishes nothing, but records every call it gets
in an append-only JSON-lines outbox that tests (and people) can read.

It behaves like a payment sandbox: a repeated idempotency key that already
published answers with the original external id (outcome ``duplicate``), and
markers in the page text trigger failures:

* ``[stub:fail]``  fails permanently;
* ``[stub:flaky]`` fails transiently on the first call for a key, then succeeds;
* ``[stub:down]``  fails transiently on every call (the provider is down), so
  a schedule uses up all its attempts;
* ``[stub:slow]``  publishes on the first call for a key but answers only
  ``SLOW_SECONDS`` later, so a caller with a shorter timeout cannot know the
  outcome; a retry with the same key then gets ``duplicate``.

``PAGESITE_STUB_DELAY_MS`` adds latency: half before the outbox is written,
half after. Each record carries ``call_started`` and ``call_ends`` (Unix
times), the span of the call as the caller sees it, so overlapping calls can
be counted from the outbox.

Several worker processes may publish at once: every read-decide-append runs
under an exclusive ``flock`` on the outbox.

The stub needs no account: a fresh install has one stub channel, and more can
be added (each record names its channel).
"""

import fcntl
import hashlib
import json
import os
import time
import uuid

from flask import current_app, has_app_context

from ..timeutil import isoformat, utcnow
from . import register
from .base import Account, Connection, Limits, PermanentError, Provider, PublishResult, TransientError

FAIL_MARKER = "[stub:fail]"
FLAKY_MARKER = "[stub:flaky]"
DOWN_MARKER = "[stub:down]"
SLOW_MARKER = "[stub:slow]"
SLOW_SECONDS = 3.0


class _OutboxIndex:
    """What the outbox says so far, read incrementally (each line once per process)."""

    def __init__(self):
        self.inode = None
        self.offset = 0
        self.published = {}  # idempotency key -> external id
        self.failures = {}  # idempotency key -> failed calls

    def refresh(self, fd):
        stat = os.fstat(fd)
        if stat.st_ino != self.inode or stat.st_size < self.offset:
            self.__init__()
            self.inode = stat.st_ino
        if stat.st_size == self.offset:
            return
        os.lseek(fd, self.offset, os.SEEK_SET)
        data = b""
        while len(data) < stat.st_size - self.offset:
            chunk = os.read(fd, stat.st_size - self.offset - len(data))
            if not chunk:
                break
            data += chunk
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            record = json.loads(line)
            key = record["idempotency_key"]
            if record["outcome"] == "published":
                self.published[key] = record["external_id"]
            elif record["outcome"] == "failed":
                self.failures[key] = self.failures.get(key, 0) + 1


_indexes = {}  # outbox path -> _OutboxIndex, outside an app (the app keeps its own)


def _index_for(path):
    """One outbox index per app and path, so each line is read once per process."""
    cache = current_app.extensions.setdefault("pagesite_providers", {}) if has_app_context() else _indexes
    return cache.setdefault(("stub-outbox", path), _OutboxIndex())


@register
class StubProvider(Provider):
    name = "stub"
    label = "Stub (sandbox)"
    description = "Publishes nothing: records each call in a local outbox. For trying pagesite out."

    def __init__(self, channel, config=None):
        super().__init__(channel, config)
        self.outbox_path = self.config["STUB_OUTBOX"]
        self.delay = max(0, float(self.config.get("STUB_DELAY_MS") or 0)) / 1000
        self._index = _index_for(self.outbox_path)
        os.makedirs(os.path.dirname(os.path.abspath(self.outbox_path)), exist_ok=True)

    @classmethod
    def default_limits(cls):
        return Limits(max_characters=5000, counting="Unicode code points", max_attachments=4, content_types=())

    def connect(self):
        return Connection(account=Account(handle="sandbox", display_name="Stub sandbox"),
                          limits=self.default_limits(), credentials={}, settings={})

    def publish(self, page, idempotency_key, *, schedule_id=None, attempt=1, last_attempt_at=None):
        # Like a network call: latency on the way there and on the way back, so
        # a worker can die after the provider acted but before it heard back.
        call_started = time.time()
        time.sleep(self.delay / 2)
        record = {
            "idempotency_key": idempotency_key,
            "page_id": page.id,
            "channel_id": self.channel.id,
            "schedule_id": schedule_id,
            "attempt": attempt,
            # When the previous attempt started (None on a first attempt), as a network provider gets it.
            "last_attempt_at": isoformat(last_attempt_at) if last_attempt_at else None,
            "attachment_ids": [a.id for a in page.attachments],
            # Read through storage like a real provider, so tests can check the bytes arrived.
            "attachments": [{"id": a.id, "sha256": _sha256(a)} for a in page.attachments],
            "text_length": len(page.text),
            # What it was handed, so what was sent can be compared with what the log says was sent.
            "text": page.text,
            "alt_texts": [a.alt_text for a in page.attachments],
        }
        fd = os.open(self.outbox_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._index.refresh(fd)
            error = None
            if idempotency_key in self._index.published:
                record.update(outcome="duplicate", external_id=self._index.published[idempotency_key])
            elif FAIL_MARKER in page.text:
                error = PermanentError("stub: rejected by [stub:fail]")
            elif FLAKY_MARKER in page.text and not self._index.failures.get(idempotency_key):
                error = TransientError("stub: temporary failure by [stub:flaky]; try again")
            elif DOWN_MARKER in page.text:
                error = TransientError("stub: service unavailable by [stub:down]; try again later")
            else:
                record.update(outcome="published", external_id=f"stub-{uuid.uuid4().hex[:16]}")
            if error:
                record.update(outcome="failed", external_id=None, error=str(error))
            answer_delay = self.delay / 2
            if SLOW_MARKER in page.text and record["outcome"] == "published":
                answer_delay += SLOW_SECONDS
            record["received_at"] = isoformat(utcnow())
            record["call_started"] = call_started
            record["call_ends"] = time.time() + answer_delay
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)  # releases the lock
        time.sleep(answer_delay)
        if error:
            raise error
        external_id = record["external_id"]
        return PublishResult(external_id=external_id, url=f"https://stub.pagesite.invalid/posts/{external_id}")


def _sha256(attachment):
    digest = hashlib.sha256()
    try:
        with attachment.open() as stream:
            for chunk in iter(lambda: stream.read(1024 * 1024), b""):
                digest.update(chunk)
    except Exception as e:  # storage unreachable or the bytes gone: like a failed media upload
        raise TransientError(f"stub: could not read attachment {attachment.id}: {e}") from e
    return digest.hexdigest()


def read_outbox(path):
    """Every record in the outbox, oldest first (for tests and the CLI)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
