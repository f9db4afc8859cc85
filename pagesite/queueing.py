"""How schedules become Redis jobs: the one module services call to enqueue,
move and withdraw work. The functions the jobs run are in ``jobs.py``, named
here by their import path, so nothing here imports the services back.

The database is the source of truth; Redis only carries work. Every job id is
derived from the schedule's id and time, so dispatching twice, a reconciler
pass and a second scheduler all name the same job, and the claim in
``services.publishing`` makes any duplicate run a no-op.

On the second: the scheduler polls, so it hands each job to the queue a little
ahead of its time (``lead_seconds``), and the worker that takes it holds it
until the schedule's exact time, then looks at the schedule again (status and
time, in the database) before it claims. A burst is thus already on the queue
when it falls due, and a poll interval adds nothing to lateness.
"""

import logging
import time
import uuid

import redis
from flask import current_app
from rq import Queue
from rq.job import Job
from rq_scheduler import Scheduler

from .extensions import get_redis
from . import heartbeats, installation
from .timeutil import utcnow

log = logging.getLogger(__name__)

PUBLISH = "pagesite.jobs.publish"
RECONCILE = "pagesite.jobs.reconcile"
RECONCILE_JOB_ID = "pagesite-reconcile"
REFRESH = "pagesite.jobs.refresh_channels"
REFRESH_JOB_ID = "pagesite-refresh-channels"
FEEDS = "pagesite.jobs.poll_feeds"
FEEDS_JOB_ID = "pagesite-poll-feeds"
FEEDS_CHECK_SECONDS = 60  # how often the feed job looks for feeds due (each feed has its own interval)
ENGAGEMENT = "pagesite.jobs.read_engagement"
ENGAGEMENT_JOB_ID = "pagesite-read-engagement"
ENGAGEMENT_CHECK_SECONDS = 300  # how often posts' counts are read, for those whose next reading has come
REFRESH_CHECK_SECONDS = 3600  # how often the refresh job looks for channels due (each is due once a day)
LIVE_STATUSES = {b"scheduled", b"queued", b"started", b"deferred"}


# Extend the pass lock only while we still own it; release only our own.
_EXTEND_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def lead_seconds(config=None):
    """How far ahead of its time the scheduler hands a job to the queue: one
    poll interval, plus a second for the pass itself (a burst of a thousand)."""
    config = config or current_app.config
    return float(config["SCHEDULER_INTERVAL"]) + 1.0


def hold_seconds(config=None):
    """The longest a worker holds a job for its time: the lead, plus a second
    for clocks that differ between machines. A job further ahead than this
    belongs to a schedule moved later; its new job runs it."""
    return lead_seconds(config) + 1.0


class PagesiteScheduler(Scheduler):
    """rq-scheduler, with sub-second job times, a heartbeat of our own, and a
    pass lock that a dead scheduler cannot hold for long.

    Upstream rounds job times and "now" down to whole seconds, which lets a job
    run up to a second early or late; we keep the fraction on both sides.
    Upstream's lock has no owner and lasts interval + 10 s, so a scheduler
    killed mid-pass stalls its replacement that long, and a pass longer than
    that lets a second scheduler in. Ours names its owner, lasts a few seconds
    and is extended while the pass runs; a pass that lost it stops.
    """

    heartbeat_ttl = heartbeats.TTL
    queue_hold = None  # installation.QueueHold, in a scheduler process
    lead = 0.0  # seconds ahead of their time that jobs go to the queue

    @property
    def lock_ms(self):
        return int(max(3.0, 2 * float(self._interval)) * 1000)

    def acquire_lock(self):
        self._lock_token = uuid.uuid4().hex
        self._lock_acquired = bool(self.connection.set(self.scheduler_lock_key, self._lock_token,
                                                       px=self.lock_ms, nx=True))
        return self._lock_acquired

    def _still_locked(self):
        return bool(self.connection.eval(_EXTEND_LOCK, 1, self.scheduler_lock_key, self._lock_token, self.lock_ms))

    def remove_lock(self):
        if self._lock_acquired:
            self.connection.eval(_RELEASE_LOCK, 1, self.scheduler_lock_key, self._lock_token)
            self._lock_acquired = False

    def enqueue_at(self, scheduled_time, func, *args, **kwargs):
        job = super().enqueue_at(scheduled_time, func, *args, **kwargs)
        self.connection.zadd(self.scheduled_jobs_key, {job.id: scheduled_time.timestamp()})
        return job

    def get_jobs_to_queue(self, with_times=False):
        return self.get_jobs(until=time.time() + self.lead, with_times=with_times)

    def heartbeat(self):
        super().heartbeat()
        heartbeats.beat_scheduler(self.connection, self.heartbeat_ttl)
        if self.queue_hold is not None:  # a scheduler process: the queue is taken again after a Redis wipe
            self.queue_hold.keep()

    def enqueue_job(self, job):
        # The reconciler jumps the queue: it must run even behind a backlog of
        # publish jobs (that is when a lost or stuck schedule hurts most).
        # rq-scheduler's own at_front is not stored with the job, so set it here.
        if job.id == RECONCILE_JOB_ID:
            job.enqueue_at_front = True
        return super().enqueue_job(job)

    def enqueue_jobs(self):
        # Re-register the reconciler if Redis lost it (FLUSHALL, a restart
        # without persistence): it is what brings every other job back.
        if RECONCILE_JOB_ID not in self:
            register_reconciler(self)
        if REFRESH_JOB_ID not in self:
            register_refresher(self)
        if FEEDS_JOB_ID not in self:
            register_feed_reader(self)
        if ENGAGEMENT_JOB_ID not in self:
            register_engagement_reader(self)
        due = self.get_jobs_to_queue()
        extended = time.monotonic()
        for job in due:
            if time.monotonic() - extended > self.lock_ms / 3000:
                if not self._still_locked():
                    log.warning("scheduler pass lost its lock; the scheduler holding it carries on")
                    break
                extended = time.monotonic()
            self.enqueue_job(job)
        return due


def job_timeout(config=None):
    """Hold for its time, slot wait, provider call and margin: how long a publish job may run."""
    config = config or current_app.config
    return 2 * int(config["PUBLISH_TIMEOUT"]) + 30 + int(hold_seconds(config) + 1)


def publish_job_id(ticket):
    """The job of a ticket (a queued schedule's next attempt); None when no attempt is planned."""
    if ticket.due_at is None:
        return None
    return f"publish-{ticket.schedule_id}-{int(ticket.due_at.timestamp() * 1000)}"


def get_job_queue(connection=None):
    """The RQ queue publish and reconcile jobs wait in (not a posting queue: services/posting_queue.py)."""
    return Queue(current_app.config["QUEUE"], connection=connection or get_redis())


def get_scheduler(connection=None):
    scheduler = PagesiteScheduler(
        queue_name=current_app.config["QUEUE"],
        connection=connection or get_redis(),
        interval=current_app.config["SCHEDULER_INTERVAL"],
    )
    scheduler.heartbeat_ttl = heartbeats.ttl(current_app.config)
    scheduler.lead = lead_seconds()
    return scheduler


def _register_periodic(scheduler, func, job_id, interval, timeout):
    scheduler.schedule(
        scheduled_time=utcnow(),
        func=func,
        interval=interval,
        repeat=None,
        id=job_id,
        timeout=timeout,
        result_ttl=interval * 10,  # longer than the interval, or the job can vanish
        queue_name=current_app.config["QUEUE"],
    )


def register_reconciler(scheduler):
    interval = max(1, int(current_app.config["RECONCILE_INTERVAL"]))
    _register_periodic(scheduler, RECONCILE, RECONCILE_JOB_ID, interval, timeout=max(60, interval * 4))


def register_refresher(scheduler):
    """The channel refresh job: hourly (or as often as channels fall due, when that is shorter); the
    job itself picks the channels whose account and limits are older than CHANNEL_REFRESH_SECONDS,
    so a scheduler restarted often still refreshes each channel once a day, no more."""
    interval = max(1, min(REFRESH_CHECK_SECONDS, int(current_app.config["CHANNEL_REFRESH_SECONDS"])))
    _register_periodic(scheduler, REFRESH, REFRESH_JOB_ID, interval,
                       timeout=max(300, 2 * int(current_app.config["PUBLISH_TIMEOUT"]) + 60))


def register_feed_reader(scheduler):
    """The feed job: every minute (or each feed's interval, when shorter) it reads the feeds whose
    time has come; each feed keeps its own next time, so restarts neither skip nor repeat a read."""
    interval = max(1, min(FEEDS_CHECK_SECONDS, int(current_app.config["FEED_INTERVAL"])))
    _register_periodic(scheduler, FEEDS, FEEDS_JOB_ID, interval, timeout=300)


def register_engagement_reader(scheduler):
    """The job that reads published posts' counts as they age (services/engagement.py)."""
    _register_periodic(scheduler, ENGAGEMENT, ENGAGEMENT_JOB_ID, ENGAGEMENT_CHECK_SECONDS, timeout=600)


def publish_job_args(ticket):
    """A ticket as a publish job's arguments (``jobs.publish`` makes it a ticket again)."""
    return (ticket.schedule_id, ticket.channel_id, ticket.due_at.timestamp(),
            ticket.last_claimed_at.timestamp() if ticket.last_claimed_at else None)


def _job_args(ticket):
    """What a publish job is enqueued with: ``publish_job_args``, then whose database the schedule
    is in (``jobs.publish``'s ``installation_id``: a worker of another installation refuses the job)."""
    return (*publish_job_args(ticket), installation.current_id())


def enqueue_now(ticket, connection=None):
    get_job_queue(connection).enqueue(
        PUBLISH,
        *_job_args(ticket),
        job_id=publish_job_id(ticket),
        job_timeout=job_timeout(),
        result_ttl=600,
        failure_ttl=24 * 3600,
    )


def dispatch(ticket):
    """Hand a ticket to Redis: onto the queue when due, else to the scheduler
    for its time. A Redis failure is logged, not raised: the schedule is safe
    in the database and the reconciler enqueues it once it is due."""
    try:
        if ticket.due_at <= utcnow():
            enqueue_now(ticket)
        else:
            get_scheduler().enqueue_at(
                ticket.due_at,
                PUBLISH,
                *_job_args(ticket),
                job_id=publish_job_id(ticket),
                timeout=job_timeout(),
                job_result_ttl=600,
                queue_name=current_app.config["QUEUE"],
            )
    except redis.RedisError as e:
        log.warning("could not dispatch schedule %s (the reconciler will): %s", ticket.schedule_id, e)


def move(old_job_id, ticket):
    """A queued schedule's time changed: withdraw its old job, dispatch its new ticket."""
    withdraw(old_job_id)
    dispatch(ticket)


def withdraw(job_id):
    """Remove a job from the scheduler and its queue, if it is still there."""
    if job_id is None:
        return
    try:
        connection = get_redis()
        get_scheduler(connection).cancel(job_id)
        try:
            Job.fetch(job_id, connection=connection).delete(remove_from_queue=True)
        except Exception:  # already gone, or running: the claim stops it
            pass
    except redis.RedisError as e:
        log.warning("could not withdraw job %s: %s", job_id, e)


def job_statuses(job_ids, connection=None):
    """{job id: (status, worker name)} for the jobs Redis still holds as scheduled,
    queued or running (the worker name is that of the worker running it, if any)."""
    connection = connection or get_redis()
    pipe = connection.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hmget(Job.key_for(job_id), "status", "worker_name")
    return {
        job_id: (status.decode(), (worker or b"").decode())
        for job_id, (status, worker) in zip(job_ids, pipe.execute())
        if status in LIVE_STATUSES
    }


def is_waiting(job_id, status, connection=None):
    """Whether a "queued" job is really on the queue, or a "scheduled" one in
    the scheduler's set (a worker that died right after taking a job off the
    queue leaves it "queued" in neither)."""
    connection = connection or get_redis()
    if status == "scheduled":
        return connection.zscore(PagesiteScheduler.scheduled_jobs_key, job_id) is not None
    return connection.lpos(get_job_queue(connection).key, job_id) is not None
