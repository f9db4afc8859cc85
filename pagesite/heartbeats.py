"""Liveness marks the worker and scheduler processes leave in Redis."""

import os
import socket
import time

PREFIX = "pagesite:heartbeat:"
WORKER_PREFIX = PREFIX + "worker:"
SCHEDULER_KEY = PREFIX + "scheduler"
TTL = 15  # a mark outlives its writer by this much


def process_id(role):
    """Who claims a schedule: role, host and pid, so its liveness can be checked."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}"


def beat_worker(connection, worker_id):
    connection.set(WORKER_PREFIX + worker_id, time.time(), ex=TTL)


def beat_scheduler(connection):
    connection.set(SCHEDULER_KEY, time.time(), ex=TTL)


def worker_alive(connection, worker_id):
    return bool(connection.exists(WORKER_PREFIX + worker_id))


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
