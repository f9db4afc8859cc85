"""The background processes: RQ workers, the rq-scheduler loop, and a small
supervisor that runs them together for ``worker.py``.

None of them starts its work before Redis and the database answer and the
queue is this installation's (``wait_until_ready``), and the supervisor
restarts a process that keeps dying less and less often (``Backoff``)."""

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time

import redis
import sqlalchemy as sa
from rq import SimpleWorker, Worker
from sqlalchemy.exc import SQLAlchemyError

from . import create_app, heartbeats, installation, queueing
from .config import InvalidSetting, without_password
from .extensions import db, get_redis
from .services import publishing

log = logging.getLogger("pagesite.processes")


class AppWorker:
    """An RQ worker that runs every job inside its pagesite app's context.

    Its name is the claimer id its jobs record (``jobs.claimer_id``), the same
    name its heartbeat carries, so the reconciler can tell whether it lives.
    """

    # RQ refreshes its worker record three times per job, each refresh three
    # round trips to Redis, looks for `rq suspend` before each job and writes
    # "idle" twice: at hundreds of jobs a second, that is a good part of a
    # publish's cost. The record lives for minutes (worker_ttl), so once a
    # second is plenty. (pagesite's own heartbeat, which the reconciler reads,
    # is separate: heartbeats.py.)
    rq_heartbeat_every = 1.0

    def __init__(self, *args, app, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app
        self._last_done = {}  # what is done at most once a second -> when it was last done

    def perform_job(self, *args, **kwargs):
        with self.app.app_context():
            return super().perform_job(*args, **kwargs)

    def _due(self, what):
        """Whether ``what`` is due (last done over ``rq_heartbeat_every`` ago); if so, it counts as done now."""
        now = time.monotonic()
        last = self._last_done.get(what)
        if last is not None and now - last < self.rq_heartbeat_every:
            return False
        self._last_done[what] = now
        return True

    def heartbeat(self, timeout=None, pipeline=None):
        # Only the between-jobs refresh is spaced out; the others keep their timing.
        if timeout is None and pipeline is None and not self._due("heartbeat"):
            return
        super().heartbeat(timeout, pipeline)

    def check_for_suspension(self, burst):
        # `rq suspend` is noticed within a second, not one Redis round trip per job.
        if self._due("suspension check"):
            super().check_for_suspension(burst)

    def set_state(self, state, pipeline=None):
        if pipeline is None and state == self._state:
            return  # already written
        super().set_state(state, pipeline)


class SimpleAppWorker(AppWorker, SimpleWorker):
    """One process runs many jobs, and several publishes at once: each publish
    job claims and hands the provider call to a thread (``publishing.InFlight``),
    so the worker takes its next job while a network answers."""

    def __init__(self, *args, app, **kwargs):
        super().__init__(*args, app=app, **kwargs)
        self.in_flight = publishing.InFlight(app, int(app.config["PUBLISHES_PER_WORKER"]))
        app.extensions[publishing.IN_FLIGHT] = self.in_flight

    def work(self, *args, **kwargs):
        stopped = super().work(*args, **kwargs)
        # A warm stop (SIGTERM, or --burst with nothing left) ends only when every
        # publish in flight is recorded. A cold one (a second signal) does not wait
        # here; whatever it cuts short, the reconciler rescues.
        if not self.in_flight.drain(timeout=2 * float(self.app.config["PUBLISH_TIMEOUT"]) + 30):
            log.warning("stopping with %d publishes still in flight; the reconciler will rescue them",
                        self.in_flight.in_flight())
        return stopped


class ForkAppWorker(AppWorker, Worker):
    """A process per job (the context is entered in the job's process)."""


WORKER_CLASSES = {"simple": SimpleAppWorker, "fork": ForkAppWorker}


def _beat_forever(connection, worker_id, ttl, every, hold, lost):
    """Beat, and keep the queue this installation's; once another installation holds it, put the
    refusal in ``lost`` and stop the worker warmly (RQ's SIGTERM: publishes in flight are recorded)."""
    while True:
        try:
            heartbeats.beat_worker(connection, worker_id, ttl)
            if not lost:
                hold.keep()
        except installation.QueueOwnedElsewhere as e:
            lost.append(e)
            os.kill(os.getpid(), signal.SIGTERM)
        except Exception as e:  # Redis away for a moment: keep trying
            log.warning("heartbeat failed: %s", e)
        time.sleep(every)


def run_worker(burst=False):
    """One worker process: takes publish and reconcile jobs off the queue."""
    app = create_app(web=False)
    name = heartbeats.process_id("worker")
    with app.app_context():
        hold = wait_until_ready(app)
        connection = get_redis()
        queue = queueing.get_job_queue(connection)
        worker_class = WORKER_CLASSES[app.config.get("WORKER_CLASS", "simple")]
    # Beat before taking the first job, so no claim ever names a silent worker.
    ttl, every = heartbeats.ttl(app.config), heartbeats.interval(app.config)
    heartbeats.beat_worker(connection, name, ttl)
    lost = []
    threading.Thread(target=_beat_forever, args=(connection, name, ttl, every, hold, lost), daemon=True).start()
    # The worker gets a connection of its own: RQ raises the socket timeout for
    # its blocking dequeue, which a pooled connection made earlier would miss.
    worker_connection = redis.Redis.from_url(app.config["REDIS_URL"])
    # The RQ worker shares the claimer's name, so a job RQ still calls "started"
    # can be traced to a worker whose heartbeat the reconciler checks.
    worker = worker_class([queue.name], connection=worker_connection, name=name, app=app)
    # Leave RQ's own INFO lines out: pagesite logs one structured line per attempt.
    worker.work(burst=burst, logging_level=app.config.get("RQ_LOG_LEVEL", "WARNING"))
    if lost:
        raise lost[0]


def run_scheduler(burst=False):
    """One scheduler process: moves due jobs onto the queue every interval."""
    app = create_app(web=False)
    with app.app_context():
        hold = wait_until_ready(app)
        scheduler = queueing.get_scheduler(get_redis())
        scheduler.queue_hold = hold
        queueing.register_reconciler(scheduler)
        queueing.register_refresher(scheduler)
        queueing.register_feed_reader(scheduler)
        queueing.register_engagement_reader(scheduler)
        log.info("scheduler polling every %s s", app.config["SCHEDULER_INTERVAL"])
        scheduler.run(burst=burst)


class Backoff:
    """Waits that double from ``first`` up to ``longest``. A process that stayed up ``settled``
    seconds was not crashing: the wait after it starts from ``first`` again."""

    def __init__(self, first=1.0, longest=30.0, settled=60.0):
        self.first, self.longest, self.settled = first, longest, settled
        self._next = first

    def next(self, ran_for=0.0):
        """The wait before the next try, after one that lasted ``ran_for`` seconds."""
        if ran_for >= self.settled:
            self._next = self.first
        wait = self._next
        self._next = min(self._next * 2, self.longest)
        return wait


def _first_line(error):
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]


def _ready_or_why(app):
    """(this installation's QueueHold, None) once Redis and the database answer; else
    (None, (what, the line that says so)). Raises QueueOwnedElsewhere."""
    redis_url = without_password(app.config["REDIS_URL"])
    database_url = without_password(app.config["SQLALCHEMY_DATABASE_URI"])
    waiting = "waiting for it (checking again with backoff, at most 30 s apart)"
    probe = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=2)
    try:
        probe.ping()
    except redis.RedisError as e:
        return None, ("redis", f"Redis at {redis_url} (REDIS_URL) does not answer ({e}); {waiting}")
    finally:
        probe.close()
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        hold = installation.QueueHold()
    except SQLAlchemyError as e:
        try:
            migrated = sa.inspect(db.engine).has_table(installation.Installation.__tablename__)
        except SQLAlchemyError:
            migrated = True  # it does not answer at all
        if not migrated:
            return None, ("schema", f"The database at {database_url} (DATABASE_URL) has no installation table: "
                                    f"run `flask --app wsgi db upgrade`; {waiting}")
        return None, ("database", f"The database at {database_url} (DATABASE_URL) does not answer "
                                  f"({_first_line(e)}); {waiting}")
    try:
        hold.keep()
    except redis.RedisError as e:
        return None, ("redis", f"Redis at {redis_url} (REDIS_URL) does not answer ({e}); {waiting}")
    return hold, None


def wait_until_ready(app, stopping=lambda: False):
    """Wait until Redis and the database answer, then make sure the queue is this installation's.

    What does not answer is said once, in one line; it is then checked again
    after 1 s, 2 s, 4 s... (at most 30 s apart), silently. Returns the queue's
    QueueHold (None if ``stopping`` turned true first); raises
    QueueOwnedElsewhere if another installation holds the queue.
    """
    backoff = Backoff()
    said = set()
    while not stopping():
        hold, problem = _ready_or_why(app)
        if hold is not None:
            if said:
                log.info("Redis and the database answer")
            return hold
        what, line = problem
        if what not in said:
            said.add(what)
            log.warning(line)
        _nap(backoff.next(), stopping)
    return None


def _nap(seconds, stopping):
    end = time.monotonic() + seconds
    while not stopping() and (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.2))


def _run_child(role):
    """A supervised process. A refusal (a bad setting, a queue of another installation) is its one line
    and exit code 1, not a traceback."""
    try:
        {"scheduler": run_scheduler, "worker": run_worker}[role]()
    except (InvalidSetting, installation.QueueOwnedElsewhere) as e:
        sys.exit(str(e))


class _Child:
    """One place in the supervisor: its role, the process in it, and when the next may start."""

    def __init__(self, role, n):
        self.role, self.name = role, f"pagesite-{role}-{n}"
        self.process = None
        self.started_at = None
        self.start_at = 0.0  # monotonic time from which its next process may start
        self.backoff = Backoff()

    def start(self, context):
        self.process = context.Process(target=_run_child, args=(self.role,), name=self.name)
        self.process.start()
        self.started_at = time.monotonic()

    def reap(self, now):
        """If its process has ended: say why and when the next one starts (one line)."""
        if self.process is None or self.process.is_alive():
            return
        self.process.join()
        ran = now - self.started_at
        wait = self.backoff.next(ran)
        code = self.process.exitcode
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        log.warning("%s process %s %s after %.1f s; restarting it in %g s", self.role, self.process.pid, how,
                    ran, wait)
        self.process = None
        self.start_at = now + wait

    def stop(self):
        if self.process is not None and self.process.is_alive():
            self.process.terminate()

    def join(self):
        if self.process is not None:
            self.process.join(timeout=10)


def supervise(worker_count=None):
    """Run one scheduler and ``worker_count`` workers once Redis and the database answer and the
    queue is this installation's; restart any that dies, after 1 s, then after twice as long each
    time it dies again soon (at most 30 s; from 1 s again once it stayed up a minute)."""
    app = create_app(web=False)
    worker_count = worker_count or int(app.config["WORKER_PROCESSES"])
    context = multiprocessing.get_context("spawn")
    children = [_Child(role, n) for n, role in enumerate(["scheduler"] + ["worker"] * worker_count)]
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        with app.app_context():
            ready = wait_until_ready(app, lambda: stopping) is not None
        if ready:
            log.info("starting 1 scheduler and %d worker processes", worker_count)
        while ready and not stopping:
            now = time.monotonic()
            for child in children:
                child.reap(now)
            due = [child for child in children if child.process is None and child.start_at <= now]
            if due:
                with app.app_context():  # not one child before they can run
                    if wait_until_ready(app, lambda: stopping) is None:
                        break
                for child in due:
                    child.start(context)
            running = [child.process.sentinel for child in children if child.process is not None]
            next_start = min((child.start_at for child in children if child.process is None), default=now + 0.5)
            multiprocessing.connection.wait(running, timeout=min(0.5, max(0.0, next_start - time.monotonic())))
    finally:
        for child in children:
            child.stop()
        for child in children:
            child.join()
    sys.exit(0)
