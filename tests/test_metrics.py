"""GET /metrics: Prometheus text, behind an API token, adding up web and worker processes."""

import re
import subprocess
import sys
import urllib.request

import pytest

from conftest import ROOT, wait_until
from helpers import png_bytes
from scheduling_helpers import add_schedules, wait_all, wait_ready
from helpers import multipart


def sample(text, name, **labels):
    """The value of one sample in Prometheus text, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if match and match.group(1) == name:
            got = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
            if got == wanted:
                return float(match.group(3))
    return None


def scrape(url, token):
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


pytestmark = pytest.mark.usefixtures("bind_app")


def test_metrics_need_an_api_token(anon, client):
    refused = anon.get("/metrics")
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    assert anon.get("/metrics", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert sample(text, "pagesite_up", component="database") == 1.0
    assert sample(text, "pagesite_up", component="redis") == 1.0
    assert sample(text, "pagesite_queue_depth") == 0.0
    assert sample(text, "pagesite_due_unclaimed") == 0.0


def test_web_and_worker_processes_add_up(processes, api_token, tmp_path):
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    web = processes.web(env=shared)
    processes.scheduler(env=shared)
    processes.worker(env=shared)
    processes.worker(env=shared)
    wait_ready(2)
    status, _ = multipart(web.url + "/api/attachment", "a.png", png_bytes(), {}, api_token)
    assert status == 201
    ids = add_schedules(6, text="Counted")
    wait_all("published", len(ids), timeout=20)

    def counted():
        text = scrape(web.url, api_token)
        return text if sample(text, "pagesite_publishes_total", provider="stub", outcome="published") == 6 else None

    text = wait_until(counted, timeout=10, message="six publishes in the metrics")
    assert sample(text, "pagesite_publish_lateness_seconds_count", provider="stub") == 6
    assert sample(text, "pagesite_provider_call_seconds_count", provider="stub") == 6
    assert sample(text, "pagesite_uploads_total", outcome="stored") == 1
    assert sample(text, "pagesite_up", component="worker") == 1.0
    assert sample(text, "pagesite_scheduler_heartbeat_age_seconds") is not None
    assert len([line for line in text.splitlines() if line.startswith("pagesite_worker_heartbeat_age_seconds{")]) == 2


def test_threads_recording_their_first_metrics_at_once_all_count(tmp_path):
    """The web process serves from threads: the first metrics a process records
    may come from several at once, and each must count (in a fresh process, so
    nothing is registered yet)."""
    script = f"""
import os, threading
os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(tmp_path)!r}
from flask import Flask
from pagesite import metrics
app = Flask("race")
barrier = threading.Barrier(8)
def record():
    barrier.wait()
    with app.app_context():
        metrics.upload_finished("stored")
threads = [threading.Thread(target=record) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
registry = CollectorRegistry()
MultiProcessCollector(registry)
print(generate_latest(registry).decode())
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "recording a metric failed" not in out.stderr, out.stderr
    assert sample(out.stdout, "pagesite_uploads_total", outcome="stored") == 8
