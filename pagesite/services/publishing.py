"""Publishing a schedule through its provider: claim, call, record.

A schedule is published only by whoever moves it from ``queued`` (and due) to
``publishing`` in one conditional UPDATE. Duplicate jobs, a second scheduler,
a retry or the reconciler can all try; exactly one claim succeeds. The
provider is always called with the schedule's idempotency key, so even a
worker that dies after the provider acted cannot make it post twice.
"""

import functools
import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update

from .. import heartbeats, metrics, queueing
from ..extensions import db, get_redis
from ..limits import ProviderSlots, free_dead_holders
from ..encryption import CredentialsUnreadable, decrypt
from ..models import AttachmentAsset, Channel, Page, PageAttachment, PublishLog, Schedule
from ..providers import (
    AttachmentData, AuthenticationError, ChannelData, PageData, PermanentError, TransientError, get_provider,
)
from ..storage import get_storage
from ..timeutil import UTCDateTime, utcnow
from . import channels

log = logging.getLogger("pagesite.publish")


@dataclass
class Attempt:
    outcome: str  # published, retrying, failed, skipped (not claimable), busy (no provider slot),
    # handed_over (claimed; a worker thread calls the provider and records the result)
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
class Due:
    """What a publish job knows of the attempt it was made for (``queueing.publish_job_args``)."""
    channel_id: int
    next_attempt_at: object  # aware UTC: when the attempt is due
    claimed_at: object = None  # when the previous attempt started, if one did


@dataclass(frozen=True)
class Claimed:
    """What a publish needs of the schedule it claimed, read in the claim's transaction."""
    id: int
    page_id: int
    channel_id: int
    channel_label: str
    provider: str
    attempt: int
    attempt_limit: int
    claimed_at: object  # when this attempt started
    sent: dict  # what the provider is handed: {"text", "attachments": [{"id", "alt_text"}]}


def backoff_seconds(attempt, config=None):
    """Exponential backoff with jitter: base * 2^(attempt-1), capped, times 0.5-1."""
    config = config or current_app.config
    ceiling = min(config["RETRY_MAX_SECONDS"], config["RETRY_BASE_SECONDS"] * 2 ** (attempt - 1))
    return ceiling * random.uniform(0.5, 1.0)


_executor = None
_executor_pid = None


def _provider_executor():
    """Threads for provider calls, so a call that hangs can be timed out (one pool per process)."""
    global _executor, _executor_pid
    if _executor is None or _executor_pid != os.getpid():
        _executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="provider")
        _executor_pid = os.getpid()
    return _executor


IN_FLIGHT = "pagesite_in_flight"  # where a worker keeps its InFlight, in its app's extensions


class InFlight:
    """The publishes a worker process has handed to threads of its own.

    A publish job holds for its time, takes its provider slot and claims in the
    worker's main thread, then hands the provider call and the record of its
    result to one of these threads and ends, so the worker takes its next job
    while a network answers. At most ``limit`` are in flight per process; a
    job waits for room before it takes a slot or claims. The claim names the
    worker, so if the process dies with publishes in flight, the reconciler
    rescues them as it rescues any dead worker's claims (same idempotency key).

    A provider whose calls end within a few milliseconds (the sandbox, a
    receiver next door) is cheaper to wait for than to hand over: threads
    then only contend for the interpreter and the database. So each process
    keeps a running average of each provider's call time, and hands over only
    the calls of providers slower than ``hand_over_above_ms`` (and any
    provider's first call).
    """

    hand_over_above_ms = 5.0

    def __init__(self, app, limit):
        self.app = app
        self.limit = limit
        self._room = threading.BoundedSemaphore(limit)
        self._threads = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="publish")
        self._idle = threading.Condition()
        self._running = 0
        self._call_ms = {}  # provider name -> running average of its call time here

    def observe(self, provider, duration_ms):
        average = self._call_ms.get(provider)
        self._call_ms[provider] = duration_ms if average is None else 0.8 * average + 0.2 * duration_ms

    def worth_handing_over(self, provider):
        return self._call_ms.get(provider, float("inf")) > self.hand_over_above_ms

    def reserve(self):
        """Wait for room (a publish in flight ends within the provider timeout and the record)."""
        self._room.acquire()
        with self._idle:
            self._running += 1

    def release(self):
        with self._idle:
            self._running -= 1
            self._idle.notify_all()
        self._room.release()

    def run(self, publish):
        """Run ``publish`` (a reserved publish's rest) in a thread, inside the app's context."""

        def rest():
            try:
                with self.app.app_context():
                    publish()
            except Exception:  # already logged where it can be; the reconciler rescues the claim
                log.exception("a publish handed to a thread failed")
            finally:
                self.release()

        self._threads.submit(rest)

    def in_flight(self):
        with self._idle:
            return self._running

    def drain(self, timeout=None):
        """Wait until every publish in flight is recorded (a worker stopping warmly); whether all were."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True


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
    _schedules.attempt_limit, _schedules.claimed_at, _pages.text,
    _channels.provider, _channels.name, _channels.settings, _channels.credentials_encrypted, _channels.account,
    _channels.limits, _channels.status.label("channel_status"), _channels.last_error,
    _assets.id.label("attachment_id"), _assets.storage_key, _assets.content_type, _assets.size_bytes,
    _assets.sha256, _links.alt_text, _assets.filename, _assets.width, _assets.height,
).select_from(
    Schedule.__table__
    .join(Page.__table__, _pages.id == _schedules.page_id)
    .join(Channel.__table__, _channels.id == _schedules.channel_id)
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
    claimed = Claimed(id=schedule_id, page_id=first.page_id, channel_id=first.channel_id, channel_label=label,
                      provider=first.provider, attempt=first.attempts, attempt_limit=first.attempt_limit,
                      claimed_at=first.claimed_at, sent=sent)
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
        except CredentialsUnreadable as e:
            blocked = AuthenticationError(str(e))
    page = PageData(id=first.page_id, text=first.text, attachments=attachments, scheduled_at=first.scheduled_at)
    return claimed, page, channel, blocked


def _call_provider(provider, page, schedule_id, attempt, idempotency_key, on_end=None, last_attempt_at=None):
    """(result, error, duration_ms); a timeout is a transient error of unknown outcome.

    ``on_end`` runs when the call really ends, which for a call that timed out
    is later than this function returns."""
    timeout = current_app.config["PUBLISH_TIMEOUT"]
    started = time.monotonic()
    future = _provider_executor().submit(
        provider.publish, page, idempotency_key, schedule_id=schedule_id, attempt=attempt,
        last_attempt_at=last_attempt_at,
    )
    if on_end is not None:
        future.add_done_callback(lambda _future: on_end())
    result = error = None
    try:
        result = future.result(timeout=timeout)
    except FuturesTimeout:
        error = TransientError(
            f"The provider did not answer within {timeout} s; the outcome is unknown, so it will be "
            "retried with the same idempotency key."
        )
    except Exception as e:  # ProviderError, or a bug in the provider: retry, then fail visibly
        error = e if hasattr(e, "transient") else TransientError(f"Unexpected provider error: {e!r}")
    return result, error, int((time.monotonic() - started) * 1000)


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
        # the provider still published it, and that is the truth to record.
        values = dict(status="published", published_at=now, external_id=result.external_id,
                      url=result.url, last_error=None)
    else:
        message = str(error)
        if isinstance(error, AuthenticationError):
            # The channel, not the page, is at fault: other channels carry on.
            channels.mark_needs_attention(claimed.channel_id, message)
            db.session.commit()
            message += f" Reconnect {claimed.channel_label} under Settings → Channels, then retry this schedule."
        entry.update(status="failed", error=message)
        if error.transient and attempt < claimed.attempt_limit:
            outcome = "retrying"
            # The network's own "try again after" wins over our backoff.
            retry_after = getattr(error, "retry_after", None)
            delay = max(0.0, float(retry_after)) if retry_after is not None else backoff_seconds(attempt)
            values = dict(status="queued", last_error=message, next_attempt_at=now + timedelta(seconds=delay))
        else:
            outcome = "failed"
            values = dict(status="failed", last_error=message)
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
        queueing.dispatch(SimpleNamespace(id=claimed.id, channel_id=claimed.channel_id,
                                          next_attempt_at=values["next_attempt_at"], claimed_at=claimed.claimed_at))
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


def publish_schedule(schedule_id, claimed_by=None, hold_seconds=0.0, due=None, in_flight=None):
    """Publish one schedule if it is queued and due; otherwise do nothing.

    ``due`` is what the job knows of its attempt; without it, the schedule is
    read first. An attempt due within ``hold_seconds`` is waited for: its job
    was handed out ahead of time. Then the claim decides, so a schedule canceled
    or moved meanwhile is skipped (a moved one has a job of its own), and
    nothing is ever claimed before its time.

    With ``in_flight`` (a worker's ``InFlight``), the provider call and the
    record may run in one of its threads once the schedule is claimed; the
    outcome returned is then ``handed_over``.
    """
    if due is None:
        # A look first, so a job with nothing to do never takes or waits for a slot.
        found = _look(schedule_id)
        give_up = time.monotonic() + hold_seconds  # in all: moved again and again, it is the new job's
        while found is not None and found.status == "queued" \
                and 0 < (ahead := (found.next_attempt_at - utcnow()).total_seconds()) <= give_up - time.monotonic():
            time.sleep(ahead)  # holding no connection while waiting
            found = _look(schedule_id)
        if found is None or found.status != "queued" or found.next_attempt_at > utcnow():
            return _skipped(schedule_id, found.status if found else None)
        due = Due(found.channel_id, found.next_attempt_at, found.claimed_at)
    else:
        ahead = (due.next_attempt_at - utcnow()).total_seconds()
        if ahead > hold_seconds:  # handed out too early (clocks apart): the reconciler hands it out again
            return _skipped(schedule_id, "not yet due")
        if ahead > 0:
            time.sleep(ahead + 0.001)  # the job carries its time as a float: a microsecond either way

    if in_flight is None:
        return _publish_due(schedule_id, claimed_by, due, None)
    in_flight.reserve()
    handed_over = False
    try:
        attempt = _publish_due(schedule_id, claimed_by, due, in_flight)
        handed_over = attempt.outcome == "handed_over"
        return attempt
    finally:
        if not handed_over:
            in_flight.release()


def _slot_lease_seconds(config):
    """How long a provider slot is leased: a call's timeout and a margin (a worker that dies frees it then)."""
    return config["PUBLISH_TIMEOUT"] + 10


def _publish_due(schedule_id, claimed_by, due, in_flight):
    """Take the channel's slot, claim, and publish (here, or in ``in_flight``'s thread)."""
    config = current_app.config
    # The cap is per channel: one busy account does not hold up the others.
    slots = ProviderSlots(
        get_redis(), f"channel-{due.channel_id}", config["PROVIDER_CONCURRENCY"],
        lease_seconds=_slot_lease_seconds(config),
    )
    claimed_by = claimed_by or heartbeats.process_id("app")
    token = slots.acquire(wait_seconds=config["PUBLISH_TIMEOUT"], holder=claimed_by)
    if token is None:
        log.info(json.dumps({"event": "publish_busy", "schedule_id": schedule_id, "channel_id": due.channel_id}))
        return Attempt("busy", schedule_id)
    slot_handed_over = False
    try:
        with _autocommit() as connection:
            if not claim(schedule_id, claimed_by, connection):
                status = connection.scalar(select(_schedules.status).where(_schedules.id == schedule_id))
                return _skipped(schedule_id, status)
            claimed, page, channel, blocked = _read_claimed(connection, schedule_id)
        # Lateness is the worker's: from when this attempt was due, not from the user's time.
        metrics.publish_claimed(claimed.provider, (utcnow() - due.next_attempt_at).total_seconds())
        if blocked is not None:
            return _finish(claimed, None, blocked, 0, sent=False)
        provider = get_provider(channel, config)

        def call_and_record():
            credentials_before = dict(channel.credentials)
            # The slot is freed when the provider call ends, not when we stop
            # waiting for it: a call that timed out still counts against the limit.
            result, error, duration_ms = _call_provider(provider, page, schedule_id, claimed.attempt,
                                                        Schedule.key_for(schedule_id),
                                                        on_end=lambda: slots.release(token),
                                                        last_attempt_at=due.claimed_at)
            if in_flight is not None:
                in_flight.observe(claimed.provider, duration_ms)
            changed = channel.credentials if channel.credentials != credentials_before else None
            return _finish(claimed, result, error, duration_ms, credentials=changed)

        if in_flight is None or not in_flight.worth_handing_over(claimed.provider):
            slot_handed_over = True
            return call_and_record()
        in_flight.run(call_and_record)
        slot_handed_over = True
        return Attempt("handed_over", schedule_id)
    finally:
        if not slot_handed_over:
            slots.release(token)


def publish_within(schedule_id, claimed_by, wait_seconds):
    """Publish now, but answer within ``wait_seconds``: the Attempt if it ended
    by then, else Attempt("publishing") while it carries on in the background.

    The publish runs in a thread of its own that keeps a heartbeat under
    ``claimed_by``: if this process dies mid-publish, the reconciler sees the
    silence and hands the schedule to a worker (same idempotency key). A
    provider slot that stays busy is left to a worker too (outcome ``busy``).
    """
    app = current_app._get_current_object()
    config = app.config
    finished = threading.Event()
    outcome = {}

    def run():
        try:
            with app.app_context():
                connection = get_redis()
                with heartbeats.beating(connection, claimed_by, heartbeats.ttl(config), heartbeats.interval(config)):
                    attempt = publish_schedule(schedule_id, claimed_by=claimed_by)
                if attempt.outcome == "busy":
                    queueing.dispatch(db.session.get(Schedule, schedule_id))
                # Ids only: the log row belongs to this thread's session.
                outcome.update(outcome=attempt.outcome, log_id=attempt.log_id)
        except BaseException as e:
            outcome["error"] = e
            log.exception("publish-now of schedule %s failed", schedule_id)
        finally:
            finished.set()

    threading.Thread(target=run, name=f"publish-now-{schedule_id}", daemon=True).start()
    if not finished.wait(wait_seconds):
        return Attempt("publishing", schedule_id)
    if "error" in outcome:
        raise outcome["error"]
    return Attempt(outcome["outcome"], schedule_id, outcome["log_id"])


def _lost(schedule, now):
    """Record an attempt whose worker vanished, and queue it again (same key)."""
    attempt = schedule.attempts
    message = (
        f"Attempt {attempt} was interrupted (its worker stopped before recording the result). "
        "It is retried with the same idempotency key, so it cannot post twice."
    )
    retry = attempt < schedule.attempt_limit
    values = dict(status="queued", next_attempt_at=now, last_error=message) if retry else dict(
        status="failed", last_error=message + " No attempts are left; check the provider before retrying."
    )
    result = db.session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id, Schedule.status == "publishing", Schedule.attempts == attempt)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    db.session.add(PublishLog(
        page_id=schedule.page_id, schedule_id=schedule.id, channel_id=schedule.channel_id, provider=schedule.provider,
        attempt=attempt, status="failed", error=message, created_at=now,
    ))
    db.session.commit()
    log.info(json.dumps({"event": "publish_lost", "schedule_id": schedule.id, "attempt": attempt,
                         "requeued": retry}))
    metrics.publish_finished(schedule.provider, "lost")
    if retry:
        db.session.refresh(schedule)
        queueing.dispatch(schedule)  # at once, rather than a grace period later
    return True


def reconcile(batch=5000):
    """Rescue schedules whose worker died, and enqueue due ones Redis lost."""
    config = current_app.config
    connection = get_redis()
    now = utcnow()
    hard_limit = timedelta(seconds=queueing.job_timeout(config) + 5)
    # A worker (or a web process publishing now) whose heartbeat mark has
    # expired has been silent for a whole TTL.
    dead_after = timedelta(seconds=heartbeats.ttl(config))

    def dead(claimer_id):
        return not heartbeats.claimer_alive(connection, claimer_id)

    rescued = 0
    for schedule in db.session.scalars(select(Schedule).where(Schedule.status == "publishing")).all():
        age = now - (schedule.claimed_at or now)
        if (age > dead_after and dead(schedule.claimed_by or "")) or age > hard_limit:
            rescued += _lost(schedule, now)
    # And the provider slots they held, which their leases would keep for a while yet.
    freed = free_dead_holders(connection, dead, lease_seconds=_slot_lease_seconds(config),
                              settled_seconds=heartbeats.ttl(config))

    # A due schedule normally leaves the scheduler within one interval; past
    # this grace, one without a live job has lost it.
    grace = timedelta(seconds=2 * float(config["SCHEDULER_INTERVAL"]) + 2)
    # Plain rows with what a job needs (queueing.publish_job_args), which a commit does not
    # expire them (ORM objects would each be reloaded, one query apiece).
    due = db.session.execute(
        select(Schedule.id, Schedule.channel_id, Schedule.next_attempt_at, Schedule.claimed_at)
        .where(Schedule.status == "queued", Schedule.next_attempt_at <= now - grace)
        .order_by(Schedule.next_attempt_at, Schedule.id)
        .limit(batch)
    ).all()
    db.session.commit()
    job_ids = [queueing.publish_job_id(s) for s in due]
    live = queueing.job_statuses(job_ids, connection)
    # A job still "queued" or "scheduled" long after its time may be in no list
    # at all: its worker died between taking it off the queue and starting it.
    stranded_after = grace + timedelta(seconds=heartbeats.ttl(config))
    looked = 0
    requeued = 0
    for schedule, job_id in zip(due, job_ids):
        status, worker = live.get(job_id, (None, ""))
        # A job "started" on a queued schedule whose worker is dead (or that
        # started long ago) lost its worker before the claim, for instance
        # while it waited for a provider slot.
        lost = status is None or (status == "started" and (dead(worker) or now - schedule.next_attempt_at > hard_limit))
        if not lost and status in ("queued", "scheduled") and now - schedule.next_attempt_at > stranded_after \
                and looked < 100:  # each look scans the queue: a few per pass
            looked += 1
            lost = not queueing.is_waiting(job_id, status, connection)
        if lost:
            queueing.enqueue_now(schedule, connection)
            requeued += 1
    if rescued or requeued or freed:
        log.info(json.dumps({"event": "reconcile", "rescued": rescued, "requeued": requeued, "freed_slots": freed}))
    return {"rescued": rescued, "requeued": requeued, "freed_slots": freed}
