"""The background processes: RQ workers, the rq-scheduler loop, and a small
supervisor that runs them together for ``worker.py``."""

import logging
import multiprocessing
import signal
import sys
import threading
import time

import redis

from rq import SimpleWorker, Worker

from . import create_app, heartbeats, queueing
from .extensions import get_redis
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


def _beat_forever(connection, worker_id, ttl, every):
    while True:
        try:
            heartbeats.beat_worker(connection, worker_id, ttl)
        except Exception as e:  # Redis away for a moment: keep trying
            log.warning("heartbeat failed: %s", e)
        time.sleep(every)


def run_worker(burst=False):
    """One worker process: takes publish and reconcile jobs off the queue."""
    app = create_app(web=False)
    name = heartbeats.process_id("worker")
    with app.app_context():
        connection = get_redis()
        queue = queueing.get_queue(connection)
        worker_class = WORKER_CLASSES[app.config.get("WORKER_CLASS", "simple")]
    # Beat before taking the first job, so no claim ever names a silent worker.
    ttl, every = heartbeats.ttl(app.config), heartbeats.interval(app.config)
    heartbeats.beat_worker(connection, name, ttl)
    threading.Thread(target=_beat_forever, args=(connection, name, ttl, every), daemon=True).start()
    # The worker gets a connection of its own: RQ raises the socket timeout for
    # its blocking dequeue, which a pooled connection made earlier would miss.
    worker_connection = redis.Redis.from_url(app.config["REDIS_URL"])
    # The RQ worker shares the claimer's name, so a job RQ still calls "started"
    # can be traced to a worker whose heartbeat the reconciler checks.
    worker = worker_class([queue.name], connection=worker_connection, name=name, app=app)
    # Leave RQ's own INFO lines out: pagesite logs one structured line per attempt.
    worker.work(burst=burst, logging_level=app.config.get("RQ_LOG_LEVEL", "WARNING"))


def run_scheduler(burst=False):
    """One scheduler process: moves due jobs onto the queue every interval."""
    app = create_app(web=False)
    with app.app_context():
        scheduler = queueing.get_scheduler(get_redis())
        queueing.register_reconciler(scheduler)
        queueing.register_refresher(scheduler)
        log.info("scheduler polling every %s s", app.config["SCHEDULER_INTERVAL"])
        scheduler.run(burst=burst)


def supervise(worker_count=None):
    """Run one scheduler and ``worker_count`` workers; restart any that dies."""
    app = create_app(web=False)
    worker_count = worker_count or int(app.config["WORKER_PROCESSES"])
    context = multiprocessing.get_context("spawn")
    roles = ["scheduler"] + ["worker"] * worker_count
    targets = {"scheduler": run_scheduler, "worker": run_worker}
    children = [None] * len(roles)
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("starting 1 scheduler and %d worker processes", worker_count)
    while not stopping:
        for n, role in enumerate(roles):
            child = children[n]
            if child is None or not child.is_alive():
                if child is not None:
                    log.warning("%s process %s exited (code %s); restarting", role, child.pid, child.exitcode)
                children[n] = context.Process(target=targets[role], name=f"pagesite-{role}-{n}")
                children[n].start()
        time.sleep(0.5)
    for child in children:
        if child and child.is_alive():
            child.terminate()
    for child in children:
        if child:
            child.join(timeout=10)
    sys.exit(0)
