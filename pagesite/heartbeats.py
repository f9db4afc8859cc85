"""Liveness marks the worker and scheduler processes leave in Redis.

A mark expires ``HEARTBEAT_TTL`` seconds after it was written and is
rewritten every ``HEARTBEAT_INTERVAL`` seconds, so a mark that is gone means
its process has been silent for at least the TTL: the reconciler treats the
claims of such a worker as abandoned.
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
    connection.set(WORKER_PREFIX + worker_id, time.time(), px=_ms(ttl))


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
    """{worker id: seconds since its last heartbeat} for every live mark."""
    keys = list(connection.scan_iter(WORKER_PREFIX + "*"))
    if not keys:
        return {}
    now = time.time()
    values = connection.mget(keys)
    return {
        k.decode()[len(WORKER_PREFIX):]: round(now - float(v), 3) for k, v in zip(keys, values) if v is not None
    }


def scheduler_age(connection):
    value = connection.get(SCHEDULER_KEY)
    return None if value is None else round(time.time() - float(value), 3)
