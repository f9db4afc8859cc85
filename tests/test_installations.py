"""One installation, one queue: two databases on the same Redis queue never run
each other's jobs. The second installation's processes refuse to start; a job of
another installation fails where it can be seen; a reset installation takes its
queue back with ``flask pagesite adopt-queue``."""

import os
import subprocess
import sys
import threading

import pytest
import sqlalchemy

from conftest import ROOT, wait_until
from scheduling_helpers import FAST, add_schedules, get, in_app
from helpers import flask_db

from pagesite import installation, queueing

pytestmark = pytest.mark.usefixtures("bind_app")


def output(proc):
    with open(proc.log_path) as f:
        return f.read()


def other_database(tmp_path, name):
    """A new installation's database: migrated, so it has its own installation id."""
    url = f"sqlite:///{tmp_path}/{name}.db"
    flask_db(url, "upgrade")
    return url


def id_of(url):
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(sqlalchemy.text("SELECT id FROM installation"))
    finally:
        engine.dispose()


@pytest.fixture
def redis_connection(app):
    from pagesite.extensions import get_redis

    with app.app_context():
        return get_redis()


@pytest.fixture
def owner(redis_connection, test_env):
    """Who holds this run's queue now."""
    key = installation.OWNER_PREFIX + test_env["PAGESITE_QUEUE"]
    return lambda: (value.decode() if (value := redis_connection.get(key)) else None)


@pytest.mark.parametrize("role", [[], ["work"], ["schedule"]], ids=["supervisor", "worker", "scheduler"])
def test_a_second_installation_on_the_same_queue_refuses_to_start_in_one_line(processes, tmp_path, test_env, owner,
                                                                              role):
    first = processes.worker(env=FAST)  # this run's installation
    with in_app():
        ours = installation.current_id()
    wait_until(lambda: owner() == ours, message="the first installation to take the queue")

    other = other_database(tmp_path, "second")
    second = processes.start(sys.executable, "worker.py", *role, env={**FAST, "DATABASE_URL": other}, name="second")
    assert second.wait(timeout=60) == 1
    lines = [line for line in output(second).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    [line] = lines
    queue, redis_url = test_env["PAGESITE_QUEUE"], test_env["REDIS_URL"]
    assert f'the queue "{queue}" (PAGESITE_QUEUE) on {redis_url} (REDIS_URL) belongs to another' in line
    assert ours in line and id_of(other) in line
    assert "another REDIS_URL" in line and "flask --app wsgi pagesite adopt-queue" in line
    assert owner() == ours and first.poll() is None  # the first installation carries on


def test_a_job_of_another_installation_fails_loudly_and_runs_nothing(processes, tmp_path, owner):
    from rq.job import Job
    from rq.registry import FailedJobRegistry

    other = other_database(tmp_path, "other")
    other_outbox = tmp_path / "other-outbox.jsonl"
    worker = processes.worker(env={**FAST, "DATABASE_URL": other, "PAGESITE_STUB_OUTBOX": str(other_outbox)})
    theirs = id_of(other)
    wait_until(lambda: owner() == theirs, message="the other installation's worker to take the queue")

    # A job of this installation on that queue (as if enqueued before the other took the queue).
    [schedule_id] = add_schedules(1, text="Not theirs", dispatch=False)
    schedule = get(schedule_id)
    with in_app():
        ours = installation.current_id()
        queue = queueing.get_job_queue()
        job_id = f"publish-{schedule_id}-foreign"
        queue.enqueue(queueing.PUBLISH, schedule_id, schedule.channel_id, schedule.next_attempt_at.timestamp(), None,
                      ours, job_id=job_id, failure_ttl=3600)
        job = Job.fetch(job_id, connection=queue.connection)
    wait_until(lambda: job.get_status(refresh=True) in ("failed", "finished"), timeout=20, message="the job to run")
    assert job.get_status() == "failed"
    with in_app():
        assert job_id in FailedJobRegistry(queue=queueing.get_job_queue()).get_job_ids()
    [line] = [line for line in output(worker).splitlines() if " ERROR pagesite.jobs " in line]
    assert job_id in line and ours in line and theirs in line
    assert not other_outbox.exists() or other_outbox.read_text() == ""
    assert get(schedule_id).status == "queued" and get(schedule_id).attempts == 0


def test_a_reset_installation_takes_its_queue_back_with_adopt_queue(processes, tmp_path, owner, redis_connection):
    from pagesite import heartbeats

    before = other_database(tmp_path, "before-reset")
    old = processes.start(sys.executable, "worker.py", env={**FAST, "DATABASE_URL": before,
                                                             "PAGESITE_WORKER_PROCESSES": "1"}, name="old")
    old_id = id_of(before)
    wait_until(lambda: owner() == old_id and heartbeats.worker_ages(redis_connection)
               and heartbeats.scheduler_age(redis_connection) is not None, timeout=30,
               message="the old database's worker and scheduler to take the queue and beat")
    # A Redis wipe loses the key; the running processes take it again within a heartbeat.
    redis_connection.delete(installation.OWNER_PREFIX + os.environ["PAGESITE_QUEUE"])
    wait_until(lambda: owner() == old_id, timeout=5, message="the queue to be taken again")

    # The database is reset: empty, with a new id. Its processes refuse the old database's queue...
    after = other_database(tmp_path, "after-reset")
    new_env = {**FAST, "DATABASE_URL": after}
    refused = processes.worker(env=new_env)
    assert refused.wait(timeout=60) == 1 and "adopt-queue" in output(refused)

    # ...until it is adopted.
    adopt = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "pagesite", "adopt-queue"], cwd=ROOT,
                           env={**os.environ, **new_env}, capture_output=True, text=True, timeout=60)
    assert adopt.returncode == 0, adopt.stderr
    new_id = id_of(after)
    assert f"now belongs to this installation ({new_id}); it belonged to {old_id}." in adopt.stdout
    assert owner() == new_id

    # The old database's processes see the queue is no longer theirs and stop; so does their
    # supervisor, rather than start them again, each saying so in one line.
    assert old.wait(timeout=30) == 1
    refusal = f"belongs to another pagesite installation ({new_id}; this one is {old_id})"
    assert output(old).count(refusal) == 3, output(old)  # the scheduler, the worker, the supervisor

    supervisor = processes.start(sys.executable, "worker.py", env={**new_env, "PAGESITE_WORKER_PROCESSES": "1"},
                                 name="supervisor")
    wait_until(lambda: any(_child_of(supervisor, w) for w in heartbeats.worker_ages(redis_connection))
               and heartbeats.scheduler_age(redis_connection) is not None,
               timeout=30, message="the reset installation's worker and scheduler to beat")
    assert owner() == new_id and supervisor.poll() is None


def _child_of(proc, worker_id):
    import psutil

    pid = int(worker_id.split(":")[2])
    return pid in {child.pid for child in psutil.Process(proc.pid).children()}


def test_the_id_is_made_once_when_its_row_is_missing_even_by_many_at_once(tmp_path):
    from pagesite import create_app
    from pagesite.extensions import db

    url = other_database(tmp_path, "lazy")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        db.session.execute(sqlalchemy.text("DELETE FROM installation"))
        db.session.commit()
    start = threading.Barrier(8)
    made = []

    def make():
        with app.app_context():
            start.wait()
            made.append(installation.current_id())

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 1 and made[0] == id_of(url)
    with app.app_context():
        assert db.session.scalar(sqlalchemy.text("SELECT count(*) FROM installation")) == 1
        db.engine.dispose()
