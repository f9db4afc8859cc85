"""Liveness marks the worker and scheduler processes leave in Redis.

A mark expires ``HEARTBEAT_TTL`` seconds after it was written and is
rewritten every ``HEARTBEAT_INTERVAL`` seconds, so a mark that is gone means
its process has been silent for at least the TTL: the reconciler treats the
claims of such a worker as abandoned.

Who the workers are is kept apart from their marks: a sorted set (worker id ->
time of its last beat) that every beat updates along with the mark, so that
listing the workers reads that one key and one mark per worker, never a scan of
the keyspace (``worker_ages`` is read by every health check and metrics scrape).
"""

import contextlib
import os
import socket
import threading
import time
import uuid

PREFIX = "pagesite:heartbeat:"
WORKER_PREFIX = PREFIX + "worker:"
SCHEDULER_KEY = PREFIX + "scheduler"
WORKERS_KEY = PREFIX + "workers"  # sorted set: worker id -> time of its last beat (the index of the marks)
FORGOTTEN_AFTER = 86400  # seconds: a member no reader pruned is dropped by the next beat of anyone
# A web process beats only while it publishes (publish-now), under its claim id.
PUBLISHER_PREFIX = PREFIX + "publisher:"
TTL = 15  # default PAGESITE_HEARTBEAT_TTL: a mark outlives its writer by this much
INTERVAL = 1.0  # default PAGESITE_HEARTBEAT_INTERVAL: how often a live process rewrites it


def ttl(config):
    return float(config.get("HEARTBEAT_TTL") or TTL)


def interval(config):
    """Seconds between beats: the configured interval, but always well inside the TTL."""
    return min(float(config.get("HEARTBEAT_INTERVAL") or INTERVAL), ttl(config) / 3)


def process_id(role):
    """Who claims a schedule: role, host, pid and a random suffix (pids get reused),
    so its liveness can be checked."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _ms(seconds):
    return max(1, int(float(seconds) * 1000))


def beat_worker(connection, worker_id, ttl=TTL):
    """Rewrite the worker's mark (it expires after ``ttl``) and its entry in the index, together."""
    now = time.time()
    pipe = connection.pipeline(transaction=True)
    pipe.set(WORKER_PREFIX + worker_id, now, px=_ms(ttl))
    pipe.zadd(WORKERS_KEY, {worker_id: now})
    # Members of workers long dead, should no reader have pruned them: the set stays small.
    pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - FORGOTTEN_AFTER)
    pipe.execute()


def beat_scheduler(connection, ttl=TTL):
    connection.set(SCHEDULER_KEY, time.time(), px=_ms(ttl))


def worker_alive(connection, worker_id):
    return bool(connection.exists(WORKER_PREFIX + worker_id))


def claimer_alive(connection, claimer_id):
    """Whether whoever claimed a schedule still beats: a worker, or a web process publishing now.
    Anyone else (a CLI, a test) is never declared dead by its silence."""
    if claimer_id.startswith("worker:"):
        return worker_alive(connection, claimer_id)
    if claimer_id.startswith("web:"):
        return bool(connection.exists(PUBLISHER_PREFIX + claimer_id))
    return True


@contextlib.contextmanager
def beating(connection, claimer_id, ttl=TTL, every=INTERVAL):
    """Keep ``claimer_id``'s mark alive while the block runs (a web process's
    publish-now), so its claim is rescued within a TTL if the process dies."""
    key = PUBLISHER_PREFIX + claimer_id
    stop = threading.Event()

    def beat():
        while not stop.wait(every):
            try:
                connection.set(key, time.time(), px=_ms(ttl))
            except Exception:  # Redis away for a moment: the next beat may get through
                pass

    connection.set(key, time.time(), px=_ms(ttl))  # before the claim, so it never names a silent claimer
    thread = threading.Thread(target=beat, daemon=True, name="publish-heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        try:
            connection.delete(key)
        except Exception:
            pass


def worker_ages(connection):
    """{worker id: seconds since its last heartbeat} for every live mark.

    The index names the workers; each one's mark says whether it is alive (the
    mark's own expiry, which Redis keeps: no clock of this machine, nor the TTL
    its writer was configured with, is needed to tell). Members whose mark has
    expired are pruned here. O(workers): no SCAN."""
    members = [m.decode() for m in connection.zrange(WORKERS_KEY, 0, -1)]
    if not members:
        return {}
    values = connection.mget([WORKER_PREFIX + m for m in members])
    gone = [m for m, v in zip(members, values) if v is None]
    if gone:
        # A worker that beats again between the read and this removal is back in the index at
        # its next beat (within a heartbeat interval); its mark, which claimer_alive reads, is untouched.
        connection.zrem(WORKERS_KEY, *gone)
    now = time.time()
    return {m: round(now - float(v), 3) for m, v in zip(members, values) if v is not None}


def scheduler_age(connection):
    value = connection.get(SCHEDULER_KEY)
    return None if value is None else round(time.time() - float(value), 3)
