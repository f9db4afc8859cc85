"""GET /api/health and ``flask pagesite status``: alive, silent, backlog."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from conftest import ROOT, wait_until
from scheduling_helpers import FAST, add_schedules, wait_ready

pytestmark = pytest.mark.usefixtures("bind_app")


@pytest.fixture
def quick(app, client, monkeypatch):
    """Call a process silent after 1.5 s (the default is 15 s). With a token: the details."""
    monkeypatch.setitem(app.config, "HEARTBEAT_STALE_SECONDS", 1.5)
    return client


def health(http):
    response = http.get("/api/health")
    return response.status_code, response.get_json()


def test_health_is_200_when_alive_and_503_when_worker_or_scheduler_is_silent(quick, processes):
    scheduler = processes.scheduler(env=FAST)
    worker = processes.worker(env=FAST)
    wait_ready(1)
    code, body = health(quick)
    assert code == 200 and body["status"] == "ok" and body["problems"] == []
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    assert checks["worker"] == {"ok": True, "processes": 1, "last_heartbeat_age": checks["worker"]["last_heartbeat_age"]}
    assert 0 <= checks["worker"]["last_heartbeat_age"] < 1.5
    assert checks["scheduler"]["ok"] and 0 <= checks["scheduler"]["last_heartbeat_age"] < 1.5

    processes.kill(worker)
    code, body = wait_until(lambda: (r := health(quick))[0] == 503 and r, timeout=5, message="503")
    assert body["status"] == "degraded" and not body["checks"]["worker"]["ok"]
    assert body["checks"]["scheduler"]["ok"]
    assert any("worker" in p for p in body["problems"])

    worker = processes.worker(env=FAST)
    wait_until(lambda: health(quick)[0] == 200, timeout=10, message="200 with a new worker")

    processes.kill(scheduler)
    code, body = wait_until(lambda: (r := health(quick))[0] == 503 and r, timeout=5, message="503")
    assert body["checks"]["worker"]["ok"] and not body["checks"]["scheduler"]["ok"]
    assert [p for p in body["problems"] if "scheduler" in p] and not [p for p in body["problems"] if "worker" in p]


def test_health_reports_queue_depth_and_the_oldest_overdue_schedule(quick):
    from pagesite.timeutil import isoformat, utcnow

    now = utcnow()
    oldest = add_schedules(2, when=now - timedelta(seconds=30))  # overdue, and on the queue
    add_schedules(1, when=now - timedelta(seconds=5), dispatch=False)  # overdue, its job lost
    add_schedules(4, when=now + timedelta(hours=1))  # not due: not counted
    code, body = health(quick)
    assert code == 503  # no worker, no scheduler
    assert body["queue_depth"] == 2
    assert body["schedules"]["due_unclaimed"] == 3 and body["schedules"]["publishing"] == 0
    assert body["schedules"]["oldest_overdue_at"] == isoformat(now - timedelta(seconds=30))
    assert body["schedules"]["oldest_overdue_id"] == min(oldest)
    assert 30 <= body["schedules"]["oldest_overdue_seconds"] < 35
    assert body["checks"]["worker"] == {"ok": False, "processes": 0, "last_heartbeat_age": None}
    assert body["checks"]["scheduler"] == {"ok": False, "last_heartbeat_age": None}


def test_status_command_prints_the_same_report(quick, app, processes):
    from pagesite.timeutil import utcnow

    runner = app.test_cli_runner()
    [overdue] = add_schedules(1, when=utcnow() - timedelta(seconds=12), dispatch=False)
    result = runner.invoke(args=["pagesite", "status"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "worker     FAIL  never seen, 0 process(es)" in lines
    assert "scheduler  FAIL  never seen" in lines
    assert "due        1 due and unclaimed, 0 publishing" in lines
    assert any(line.startswith(f"oldest     schedule {overdue} due at ") and line.endswith(" s overdue)")
               for line in lines)
    assert "problem:   no worker heartbeat in the last 1.5 s" in lines

    processes.scheduler(env=FAST)
    processes.worker(env=FAST)
    wait_ready(1)
    wait_until(lambda: runner.invoke(args=["pagesite", "status"]).exit_code == 0, timeout=10,
               message="status to be healthy")  # the overdue schedule gets published too
    result = runner.invoke(args=["pagesite", "status"])
    lines = result.output.splitlines()
    assert lines[0].startswith("database   ok") and lines[1].startswith("redis      ok")
    assert lines[2].startswith("worker     ok  last heartbeat ") and lines[2].endswith("1 process(es)")
    assert lines[3].startswith("scheduler  ok  last heartbeat ")
    assert any(line.startswith("queue      ") for line in lines)
    assert not [line for line in lines if line.startswith("problem:")]

    # The real command line, as an operator runs it (the default staleness, 15 s).
    real = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "wsgi",
                           "pagesite", "status", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert real.returncode == 0, real.stdout + real.stderr
    assert '"status": "ok"' in real.stdout and '"due_unclaimed": 0' in real.stdout
