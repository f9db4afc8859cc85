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

from . import create_app, heartbeats, jobs
from .extensions import get_redis

log = logging.getLogger("pagesite.processes")

WORKER_CLASSES = {"simple": SimpleWorker, "fork": Worker}


def _beat_forever(connection, worker_id, ttl, every):
    while True:
        try:
            heartbeats.beat_worker(connection, worker_id, ttl)
        except Exception as e:  # Redis away for a moment: keep trying
            log.warning("heartbeat failed: %s", e)
        time.sleep(every)


def run_worker(burst=False):
    """One worker process: takes publish and reconcile jobs off the queue."""
    app = create_app()
    jobs._worker_app = app
    jobs.claimer_id = heartbeats.process_id("worker")
    with app.app_context():
        connection = get_redis()
        queue = jobs.get_queue(connection)
        worker_class = WORKER_CLASSES[app.config.get("WORKER_CLASS", "simple")]
    # Beat before taking the first job, so no claim ever names a silent worker.
    ttl, every = heartbeats.ttl(app.config), heartbeats.interval(app.config)
    heartbeats.beat_worker(connection, jobs.claimer_id, ttl)
    threading.Thread(target=_beat_forever, args=(connection, jobs.claimer_id, ttl, every), daemon=True).start()
    # The worker gets a connection of its own: RQ raises the socket timeout for
    # its blocking dequeue, which a pooled connection made earlier would miss.
    worker_connection = redis.Redis.from_url(app.config["REDIS_URL"])
    # The RQ worker shares the claimer's name, so a job RQ still calls "started"
    # can be traced to a worker whose heartbeat the reconciler checks.
    worker = worker_class([queue.name], connection=worker_connection, name=jobs.claimer_id)
    # Leave RQ's own INFO lines out: pagesite logs one structured line per attempt.
    worker.work(burst=burst, logging_level=app.config.get("RQ_LOG_LEVEL", "WARNING"))


def run_scheduler(burst=False):
    """One scheduler process: moves due jobs onto the queue every interval."""
    app = create_app()
    with app.app_context():
        scheduler = jobs.get_scheduler(get_redis())
        jobs.register_reconciler(scheduler)
        log.info("scheduler polling every %s s", app.config["SCHEDULER_INTERVAL"])
        scheduler.run(burst=burst)


def supervise(worker_count=None):
    """Run one scheduler and ``worker_count`` workers; restart any that dies."""
    app = create_app()
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
