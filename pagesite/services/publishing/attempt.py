"""One attempt at a schedule: wait for its time, claim, call, record.

A schedule is published only by whoever moves it from ``queued`` (and due) to
``publishing`` in one conditional UPDATE. Duplicate jobs, a second scheduler,
a retry or the reconciler can all try; exactly one claim succeeds. The
provider is always called with the schedule's own idempotency key, so even a
worker that dies after the provider acted cannot make it post twice, and a
retry never starts while an earlier call for the same schedule still runs
(``limits.LateCalls``).
"""

import functools
import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update

from ... import heartbeats, metrics, queueing
from ...extensions import db, get_redis
from ...limits import ChannelSlots, late_calls
from ...encryption import UNREADABLE, CredentialsUnreadable, decrypt
from ...models import AttachmentAsset, Channel, Page, PageAttachment, PageVersion, PublishLog, Schedule
from ...providers import (
    AttachmentData, AuthenticationError, ChannelData, PageData, PermanentError, TransientError, get_provider,
    provider_class,
)
from ...storage import get_storage
from ...tickets import Ticket
from ...timeutil import UTCDateTime, utcnow
from .. import channels

log = logging.getLogger("pagesite.publish")


@dataclass
class Attempt:
    outcome: str  # published, retrying, failed, skipped (not claimable), busy (no provider slot),
    # handed_over (claimed; a worker thread calls the provider and records the result),
    # deferred (an earlier call for the schedule is still running; tried again shortly)
    schedule_id: int
    log_id: int | None = None

    @property
    def schedule(self):
        """The schedule as it is now, loaded on first use (a publish job never reads it)."""
        return db.session.get(Schedule, self.schedule_id)

    @property
    def log(self):
        """This attempt's log row, loaded on first use (a publish job never reads it either)."""
        return db.session.get(PublishLog, self.log_id) if self.log_id is not None else None


@dataclass(frozen=True)
class Claimed:
    """What a publish needs of the schedule it claimed, read in the claim's transaction."""
    id: int
    page_id: int
    channel_id: int
    channel_label: str
    provider: str
    attempt: int
    max_attempts: int
    claimed_at: object  # when this attempt started
    key: str  # the schedule's idempotency key
    sent: dict  # what the provider is handed: {"text", "attachments": [{"id", "alt_text"}]}


def repeatable(provider_name):
    """Whether sending a schedule again with its key cannot post it twice on this network."""
    cls = provider_class(provider_name)
    return cls is None or cls.idempotent


def unconfirmed(provider_name, reason):
    """What a schedule that may have been published says, on a network that offers no idempotency."""
    label = getattr(provider_class(provider_name), "label", provider_name)
    return (f"May have been published: {reason} {label} offers no way to send a post only once, so pagesite "
            "does not send it again by itself. Look at the channel, then choose Mark as published (with its "
            "link, if you like) or Send again.")


def backoff_seconds(attempt, config=None):
    """Exponential backoff with jitter: base * 2^(attempt-1), capped, times 0.5-1."""
    config = config or current_app.config
    ceiling = min(config["RETRY_MAX_SECONDS"], config["RETRY_BASE_SECONDS"] * 2 ** (attempt - 1))
    return ceiling * random.uniform(0.5, 1.0)


# The publish path's statements, built once and run as plain Core: on a busy
# worker, building them and going through the ORM cost more than the database.
#
# Each runs on its own, in autocommit: the claim is durable the moment it is
# made, and the read that follows needs no transaction of its own, because an
# edit can never commit while its page is being published (it is refused with
# 409) — what the read sees is the page as it was at the claim. With the
# record of the result (one statement on PostgreSQL, see _record_statements),
# a publish makes three round trips to the database, where BEGIN and COMMIT
# around each step made nine.
_schedules, _pages, _channels = Schedule.__table__.c, Page.__table__.c, Channel.__table__.c
_links, _assets, _logs = PageAttachment.__table__.c, AttachmentAsset.__table__.c, PublishLog.__table__.c
_versions = PageVersion.__table__.c
# (Not named after columns: an UPDATE or INSERT reserves those names for its values.)
_NOW = bindparam("at", type_=UTCDateTime())
_ID = bindparam("schedule_id")

_LOOK = select(_schedules.channel_id, _schedules.status, _schedules.next_attempt_at, _schedules.claimed_at) \
    .where(_schedules.id == _ID)

_CLAIM = update(Schedule.__table__) \
    .where(_schedules.id == _ID, _schedules.status == "queued", _schedules.next_attempt_at <= _NOW) \
    .values(status="publishing", next_attempt_at=None, attempts=_schedules.attempts + 1, claimed_at=_NOW,
            claimed_by=bindparam("claimer"), updated_at=_NOW)

_READ_CLAIMED = select(
    _schedules.page_id, _schedules.channel_id, _schedules.scheduled_at, _schedules.attempts,
    _schedules.max_attempts, _schedules.claimed_at, _schedules.idempotency_key,
    func.coalesce(_versions.text, _pages.text).label("text"),  # the channel's own version, else the page
    _pages.link_card,
    _channels.provider, _channels.name, _channels.settings, _channels.credentials_encrypted, _channels.account,
    _channels.limits, _channels.status.label("channel_status"), _channels.last_error,
    _assets.id.label("attachment_id"), _assets.storage_key, _assets.content_type, _assets.size_bytes,
    _assets.sha256, _links.alt_text, _assets.filename, _assets.width, _assets.height,
).select_from(
    Schedule.__table__
    .join(Page.__table__, _pages.id == _schedules.page_id)
    .join(Channel.__table__, _channels.id == _schedules.channel_id)
    .outerjoin(PageVersion.__table__, (_versions.page_id == _pages.id) & (_versions.channel_id == _channels.id))
    .outerjoin(PageAttachment.__table__, _links.page_id == _pages.id)
    .outerjoin(AttachmentAsset.__table__, _assets.id == _links.attachment_id)
).where(_schedules.id == _ID).order_by(_links.position)

_LOG_COLUMNS = ("page_id", "schedule_id", "channel_id", "provider", "attempt", "status", "external_id", "url",
                "error", "duration_ms", "notes", "sent", "created_at")


@functools.lru_cache(maxsize=None)
def _record_statements(dialect, moves, requires_publishing):
    """The statements that write an attempt's log row and move its schedule on
    (``moves``: the schedule columns set), as one atomic unit.

    PostgreSQL does both in one statement (the UPDATE in a WITH); elsewhere,
    two statements that the caller runs in one transaction. Either way the
    result has the log id and whether the schedule moved."""
    mine = [_schedules.id == bindparam("log_schedule_id"), _schedules.attempts == bindparam("log_attempt")]
    if requires_publishing:
        mine.append(_schedules.status == "publishing")
    move = update(Schedule.__table__).where(*mine).values(
        updated_at=bindparam("log_created_at"), **{name: bindparam(f"move_{name}") for name in moves})
    write = insert(PublishLog.__table__).values(**{name: bindparam(f"log_{name}") for name in _LOG_COLUMNS})
    if dialect == "postgresql":
        moved = move.returning(_schedules.id).cte("moved")
        return (write.add_cte(moved).returning(
            _logs.id, select(func.count()).select_from(moved).scalar_subquery().label("moved")),)
    return write.returning(_logs.id), move


def _autocommit():
    return db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def claim(schedule_id, claimed_by, connection=None):
    """Take the schedule if it is queued and due (on ``connection``, else in the session's transaction)."""
    connection = connection or db.session.connection()
    return connection.execute(_CLAIM, dict(schedule_id=schedule_id, at=utcnow(), claimer=claimed_by)).rowcount == 1


def _opener(storage, key):
    return lambda: storage.open(key)


def _read_claimed(connection, schedule_id):
    """The claimed schedule, its channel and a snapshot of its page and attachments, in one query.

    Plain rows rather than ORM objects: nothing here is changed through the session."""
    rows = connection.execute(_READ_CLAIMED, dict(schedule_id=schedule_id)).all()
    first = rows[0]
    storage = get_storage(current_app)
    attachments = tuple(
        AttachmentData(id=r.attachment_id, content_type=r.content_type, size=r.size_bytes, sha256=r.sha256,
                       alt_text=r.alt_text, filename=r.filename, width=r.width, height=r.height,
                       opener=_opener(storage, r.storage_key))
        for r in rows if r.attachment_id is not None
    )
    handle = (first.account or {}).get("handle")
    label = f"{first.name} ({handle})" if handle and handle != first.name else first.name
    # The page and its links come from this one statement, after the claim: an edit
    # committed before it is read whole, and none can commit after it (see _CLAIM).
    sent = {"text": first.text, "attachments": [{"id": a.id, "alt_text": a.alt_text} for a in attachments]}
    if not first.link_card:
        sent["link_card"] = False
    claimed = Claimed(id=schedule_id, page_id=first.page_id, channel_id=first.channel_id, channel_label=label,
                      provider=first.provider, attempt=first.attempts, max_attempts=first.max_attempts,
                      claimed_at=first.claimed_at, key=first.idempotency_key, sent=sent)
    channel = ChannelData(id=first.channel_id, provider=first.provider, name=first.name,
                          settings=dict(first.settings or {}), credentials={}, account=dict(first.account or {}),
                          limits=dict(first.limits or {}))
    # Why this channel cannot publish before we even try, or None.
    blocked = None
    if first.channel_status == "needs_attention":
        blocked = PermanentError(
            f"{label} needs reconnecting ({first.last_error or 'its network refused it'}). "
            "Reconnect it under Settings → Channels, then retry this schedule.")
    else:
        try:
            channel.credentials = decrypt(first.credentials_encrypted)
        except CredentialsUnreadable:
            blocked = AuthenticationError(f"{label}: {UNREADABLE}.")
    page = PageData(id=first.page_id, text=first.text, attachments=attachments, scheduled_at=first.scheduled_at,
                    link_card=first.link_card)
    return claimed, page, channel, blocked


_executor = None
_executor_pid = None


def _provider_executor(config):
    """Threads for provider calls, so a call that hangs can be timed out (one pool per process).

    Twice the publishes a process may have in flight: a call that outlived its
    timeout keeps its thread until it ends, and must not starve the next call."""
    global _executor, _executor_pid
    if _executor is None or _executor_pid != os.getpid():
        _executor = ThreadPoolExecutor(max_workers=2 * int(config["PUBLISHES_PER_WORKER"]),
                                       thread_name_prefix="provider")
        _executor_pid = os.getpid()
    return _executor


def _call_provider(provider, page, claimed, on_end, last_attempt_at=None):
    """(result, error, duration_ms, sent); a timeout is a transient error of unknown outcome.
    ``sent``: whether the call started at all (the page reached the provider).

    The timeout counts from when the call starts, not from when it was handed
    to the pool. ``on_end`` runs when the call really ends, which for a call
    that timed out is later than this function returns; until then the call
    is held as late (``limits.late_calls``), so no retry starts beside it."""
    config = current_app.config
    timeout = float(config["PUBLISH_TIMEOUT"])
    started = threading.Event()
    began = []

    def call():
        began.append(time.monotonic())
        started.set()
        return provider.publish(page, claimed.key, schedule_id=claimed.id, attempt=claimed.attempt,
                                last_attempt_at=last_attempt_at)

    guard = threading.Lock()
    late = []  # the late-call hold, once the call outlives its timeout

    def ended(_future):
        with guard:
            for hold in late:
                hold.release()
        on_end()

    future = _provider_executor(config).submit(call)
    future.add_done_callback(ended)
    if not started.wait(timeout) and future.cancel():
        # Every thread is taken by calls that outlived their timeout: nothing was sent.
        return None, TransientError(f"Every provider thread of this process was busy for {timeout:g} s; "
                                    "nothing was sent, so it will be tried again."), 0, False
    started.wait()
    done, _ = futures_wait([future], timeout=max(0.0, began[0] + timeout - time.monotonic()))
    if not done:
        with guard:
            if not future.done():
                late.append(late_calls.hold(get_redis(), claimed.id, heartbeats.ttl(config),
                                            heartbeats.interval(config)))
    if late:
        # Where a repeat could post twice, _finish says what happens instead.
        then = (", so it will be retried with the same idempotency key, once this call has ended"
                if repeatable(claimed.provider) else "")
        result, error = None, TransientError(
            f"The provider did not answer within {timeout:g} s; the outcome is unknown{then}.",
            outcome_unknown=True)
    else:  # it ended in time (or just then)
        result, error = _outcome(future)
    return result, error, int((time.monotonic() - began[0]) * 1000), True


def _outcome(future):
    """(result, error) of a call that ended."""
    try:
        return future.result(timeout=0), None
    except Exception as e:  # ProviderError, or a bug in the provider: retry, then fail visibly
        return None, e if hasattr(e, "transient") else TransientError(f"Unexpected provider error: {e!r}")


def _finish(claimed, result, error, duration_ms, credentials=None, sent=True):
    """Write the attempt's log row and move the schedule on, in one transaction.

    ``sent``: whether the page reached the provider's call (the log then keeps what it was handed).
    ``credentials``: the channel's credentials when the provider changed them
    (a refreshed session), to store again, encrypted."""
    now = utcnow()
    attempt = claimed.attempt
    entry = dict(page_id=claimed.page_id, schedule_id=claimed.id, channel_id=claimed.channel_id,
                 provider=claimed.provider, attempt=attempt, duration_ms=duration_ms,
                 sent=claimed.sent if sent else None, created_at=now, error=None, external_id=None, url=None,
                 notes=[])
    if result is not None:
        entry.update(status="published", external_id=result.external_id, url=result.url,
                     notes=[str(note) for note in result.notes])
        outcome = "published"
        # No status condition: if the reconciler already requeued this attempt,
        # the provider still published it, and that is the truth to record
        # (and nothing is planned for it any more).
        values = dict(status="published", published_at=now, external_id=result.external_id,
                      url=result.url, last_error=None, next_attempt_at=None, outcome_unknown=False)
    else:
        message = str(error)
        # Whether the network may have acted (a timeout after sending): the page then stays
        # unchangeable until an attempt knows, so the retry sends what this one sent.
        unknown = bool(getattr(error, "outcome_unknown", False))
        # A network that may post twice is never sent the same post again blindly.
        blind_repeat = unknown and not repeatable(claimed.provider)
        if blind_repeat:
            message = unconfirmed(claimed.provider, message)
        if isinstance(error, AuthenticationError):
            # The channel, not the page, is at fault: other channels carry on.
            channels.mark_needs_attention(claimed.channel_id, message)
            db.session.commit()
            message += f" Reconnect {claimed.channel_label} under Settings → Channels, then retry this schedule."
        entry.update(status="failed", error=message)
        if error.transient and attempt < claimed.max_attempts and not blind_repeat:
            outcome = "retrying"
            # The network's own "try again after" wins over our backoff.
            retry_after = getattr(error, "retry_after", None)
            delay = max(0.0, float(retry_after)) if retry_after is not None else backoff_seconds(attempt)
            values = dict(status="queued", last_error=message, next_attempt_at=now + timedelta(seconds=delay),
                          outcome_unknown=unknown)
        else:
            outcome = "failed"
            values = dict(status="failed", last_error=message, next_attempt_at=None, outcome_unknown=unknown)
    if credentials is not None:
        # A refreshed session is kept even if recording the attempt fails after it.
        channels.store_credentials(claimed.channel_id, credentials)
        db.session.commit()
    log_id, moved = _record(entry, values, requires_publishing=result is None)
    record = {"event": "publish_attempt", "schedule_id": claimed.id, "page_id": claimed.page_id,
              "channel_id": claimed.channel_id, "provider": claimed.provider, "attempt": attempt, "outcome": outcome,
              "duration_ms": duration_ms, "error": entry["error"]}
    log.info(json.dumps(record))
    metrics.publish_finished(claimed.provider, outcome, duration_ms)
    if outcome == "retrying" and moved:
        queueing.dispatch(Ticket(claimed.id, claimed.channel_id, values["next_attempt_at"], claimed.claimed_at))
    return Attempt(outcome, claimed.id, log_id)


def _record(entry, values, requires_publishing):
    """Write the log row and move the schedule on, atomically: (log id, whether the schedule moved)."""
    dialect = db.engine.dialect.name
    statements = _record_statements(dialect, tuple(sorted(values)), requires_publishing)
    params = {f"log_{name}": value for name, value in entry.items()}
    params.update({f"move_{name}": value for name, value in values.items()})
    if len(statements) == 1:
        with _autocommit() as connection:
            row = connection.execute(statements[0], params).one()
        return row.id, row.moved == 1
    write, move = statements
    with db.engine.begin() as connection:
        log_id = connection.execute(write, params).scalar_one()
        return log_id, connection.execute(move, params).rowcount == 1


def _skipped(schedule_id, status):
    """A job with nothing to do: a duplicate, a canceled or moved schedule, or one already taken."""
    log.debug(json.dumps({"event": "publish_skipped", "schedule_id": schedule_id, "status": status}))
    return Attempt("skipped", schedule_id)


def _look(schedule_id):
    with _autocommit() as connection:
        return connection.execute(_LOOK, dict(schedule_id=schedule_id)).first()


def publish_schedule(schedule_id, claimed_by=None, hold_seconds=0.0, ticket=None, in_flight=None):
    """Publish one schedule if it is queued and due; otherwise do nothing.

    ``ticket`` is what the job knows of its attempt; without it, the schedule is
    read first. An attempt due within ``hold_seconds`` is waited for: its job
    was handed out ahead of time. Then the claim decides, so a schedule canceled
    or moved meanwhile is skipped (a moved one has a job of its own), and
    nothing is ever claimed before its time.

    With ``in_flight`` (a worker's ``InFlight``), the provider call and the
    record may run in one of its threads once the schedule is claimed; the
    outcome returned is then ``handed_over``.
    """
    if ticket is None:
        # A look first, so a job with nothing to do never takes or waits for a slot.
        found = _look(schedule_id)
        give_up = time.monotonic() + hold_seconds  # in all: moved again and again, it is the new job's
        while found is not None and found.status == "queued" \
                and 0 < (ahead := (found.next_attempt_at - utcnow()).total_seconds()) <= give_up - time.monotonic():
            time.sleep(ahead)  # holding no connection while waiting
            found = _look(schedule_id)
        if found is None or found.status != "queued" or found.next_attempt_at > utcnow():
            return _skipped(schedule_id, found.status if found else None)
        ticket = Ticket(schedule_id, found.channel_id, found.next_attempt_at, found.claimed_at)
    else:
        ahead = (ticket.due_at - utcnow()).total_seconds()
        if ahead > hold_seconds:  # handed out too early (clocks apart): the reconciler hands it out again
            return _skipped(schedule_id, "not yet due")
        if ahead > 0:
            time.sleep(ahead + 0.001)  # the job carries its time as a float: a microsecond either way

    if in_flight is None:
        return _publish_due(ticket, claimed_by, None)
    in_flight.reserve()
    handed_over = False
    try:
        attempt = _publish_due(ticket, claimed_by, in_flight)
        handed_over = attempt.outcome == "handed_over"
        return attempt
    finally:
        if not handed_over:
            in_flight.release()


def slot_lease_seconds(config):
    """How long a provider slot is leased: a call's timeout and a margin (a worker that dies frees it then)."""
    return config["PUBLISH_TIMEOUT"] + 10


def _defer(ticket, seconds):
    """Try again in ``seconds`` (an earlier call for this schedule is still running),
    without an attempt: a new ticket for the new time, if the schedule is still this one's."""
    later = utcnow() + timedelta(seconds=seconds)
    with _autocommit() as connection:
        moved = connection.execute(
            update(Schedule.__table__)
            # Still queued and due, as our claim would have required: otherwise it was
            # canceled, taken or moved, and is not this ticket's any more.
            .where(_schedules.id == ticket.schedule_id, _schedules.status == "queued",
                   _schedules.next_attempt_at <= utcnow())
            .values(next_attempt_at=later)).rowcount == 1
    log.info(json.dumps({"event": "publish_deferred", "schedule_id": ticket.schedule_id,
                         "reason": "earlier call still running", "moved": moved}))
    if moved:
        queueing.dispatch(Ticket(ticket.schedule_id, ticket.channel_id, later, ticket.last_claimed_at))
    return Attempt("deferred", ticket.schedule_id)


def _publish_due(ticket, claimed_by, in_flight):
    """Take the channel's slot, claim, and publish (here, or in ``in_flight``'s thread)."""
    config = current_app.config
    schedule_id = ticket.schedule_id
    connection = get_redis()
    # Only a retry can meet an earlier call of its own (one that outlived its timeout).
    if ticket.is_retry and late_calls.running(connection, schedule_id):
        return _defer(ticket, heartbeats.interval(config))
    # The cap is per channel: one busy account does not hold up the others.
    slots = ChannelSlots(
        connection, ticket.channel_id, config["CHANNEL_CONCURRENCY"],
        lease_seconds=slot_lease_seconds(config),
    )
    claimed_by = claimed_by or heartbeats.process_id("app")
    token = slots.acquire(wait_seconds=config["PUBLISH_TIMEOUT"], holder=claimed_by)
    if token is None:
        log.info(json.dumps({"event": "publish_busy", "schedule_id": schedule_id, "channel_id": ticket.channel_id}))
        return Attempt("busy", schedule_id)
    slot_handed_over = False
    try:
        with _autocommit() as connection:
            if not claim(schedule_id, claimed_by, connection):
                status = connection.scalar(select(_schedules.status).where(_schedules.id == schedule_id))
                return _skipped(schedule_id, status)
            claimed, page, channel, blocked = _read_claimed(connection, schedule_id)
        # Lateness is the worker's: from when this attempt was due, not from the user's time.
        metrics.publish_claimed(claimed.provider, (utcnow() - ticket.due_at).total_seconds())
        if blocked is not None:
            return _finish(claimed, None, blocked, 0, sent=False)
        provider = get_provider(channel, config)

        def call_and_record():
            credentials_before = dict(channel.credentials)
            # The slot is freed when the provider call ends, not when we stop
            # waiting for it: a call that timed out still counts against the limit.
            result, error, duration_ms, sent = _call_provider(provider, page, claimed,
                                                              on_end=lambda: slots.release(token),
                                                              last_attempt_at=ticket.last_claimed_at)
            if in_flight is not None:
                in_flight.observe(claimed.provider, duration_ms)
            changed = channel.credentials if channel.credentials != credentials_before else None
            return _finish(claimed, result, error, duration_ms, credentials=changed, sent=sent)

        if in_flight is None or not in_flight.worth_handing_over(claimed.provider):
            slot_handed_over = True
            return call_and_record()
        in_flight.run(call_and_record)
        slot_handed_over = True
        return Attempt("handed_over", schedule_id)
    finally:
        if not slot_handed_over:
            slots.release(token)


