"""Web and worker on "different machines": separate, empty instance folders,
sharing only PostgreSQL or SQLite, Redis and an S3 endpoint."""

import hashlib
import os
from datetime import datetime, timedelta, timezone

import pytest

from conftest import s3_settings, wait_until
from helpers import http, jpeg_bytes, multipart, png_bytes
from scheduling_helpers import FAST, published_once, status_counts

pytestmark = pytest.mark.usefixtures("bind_app")


def host(tmp_path, name, endpoint):
    """The environment of one machine: its own instance folder, nothing shared on disk."""
    instance = tmp_path / name
    instance.mkdir()
    return {"PAGESITE_INSTANCE_PATH": str(instance), "PAGESITE_UPLOAD_DIR": str(instance / "uploads"),
            **s3_settings(endpoint, prefix="shared")}


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, n), folder) for d, _, names in os.walk(folder) for n in names)


def test_web_and_worker_share_no_disk(processes, outbox, api_token, s3_endpoint, tmp_path):
    web_host = host(tmp_path, "web-host", s3_endpoint)
    worker_host = host(tmp_path, "worker-host", s3_endpoint)
    web = processes.web(env=web_host)
    processes.scheduler(env=worker_host)
    processes.worker(env=worker_host)

    images = {"cat.png": png_bytes(30, 20), "dog.jpg": jpeg_bytes(16, 16)}
    assets = []
    for name, data in images.items():
        status, asset = multipart(web.url + "/api/attachment", name, data, {"alt_text": name}, api_token,
                                  timeout=60)  # the first upload loads boto3 in a process still starting
        assert status == 201 and asset["sha256"] == hashlib.sha256(data).hexdigest()
        assets.append(asset)
    status, page = http("POST", web.url + "/api/pages",
                        {"text": "From two machines", "attachment_ids": [a["id"] for a in assets]}, api_token)
    assert status == 201
    when = datetime.now(timezone.utc) + timedelta(seconds=1)
    status, schedule = http("POST", web.url + "/api/schedules",
                            {"page_id": page["id"], "scheduled_at": when.isoformat()}, api_token)
    assert status == 201

    def published():
        _, s = http("GET", f"{web.url}/api/schedules/{schedule['id']}", token=api_token)
        return s if s["status"] == "published" else None

    wait_until(published, timeout=20, message="the schedule to be published by the other host's worker")
    [record] = [r for r in outbox() if r["schedule_id"] == schedule["id"]]
    # The worker read every attachment's bytes from the bucket, and they are the uploaded ones.
    assert record["attachments"] == [{"id": a["id"], "sha256": a["sha256"]} for a in assets]
    # Neither machine kept attachment bytes on its own disk.
    for env in (web_host, worker_host):
        assert [f for f in files_under(env["PAGESITE_UPLOAD_DIR"])] == []


def test_two_hosts_publish_500_schedules_once_each_when_one_loses_its_worker(processes, outbox, api_token,
                                                                              s3_endpoint, tmp_path):
    """Two independent "hosts", each with its own instance folder, web, scheduler
    and worker, against one database, one Redis and one bucket. Schedules are
    created through both; one host's worker is killed mid-run."""
    hosts = []
    for name in ("host-a", "host-b"):
        env = {**host(tmp_path, name, s3_endpoint), **FAST, "PAGESITE_CHANNEL_CONCURRENCY": "8"}
        web = processes.web(env=env)
        processes.scheduler(env=env)
        worker = processes.worker(env=env)
        hosts.append((env, web, worker))

    attachments = {}
    for n, (_, web, _) in enumerate(hosts):
        data = png_bytes(10 + n, 10)
        status, asset = multipart(web.url + "/api/attachment", f"host{n}.png", data, {"alt_text": "x"}, api_token,
                                  timeout=60)  # the first upload loads boto3 in a process still starting
        assert status == 201
        attachments[asset["id"]] = hashlib.sha256(data).hexdigest()

    ids = []
    for n in range(500):
        _, web, _ = hosts[n % 2]
        body = {"text": f"Two hosts #{n}"}
        if n % 50 == 0:  # some with the other host's attachment
            body["attachment_ids"] = [list(attachments)[(n // 50 + 1) % 2]]
        status, page = http("POST", web.url + "/api/pages", body, api_token, timeout=60)
        assert status == 201, page
        when = datetime.now(timezone.utc) + timedelta(seconds=1)
        status, schedule = http("POST", web.url + "/api/schedules",
                                {"page_id": page["id"], "scheduled_at": when.isoformat()}, api_token, timeout=60)
        assert status == 201, schedule
        ids.append(schedule["id"])
        if n == 250:
            processes.kill(hosts[0][2])  # host A's worker dies mid-run; A's web and scheduler carry on

    wait_until(lambda: status_counts().get("published", 0) == 500, timeout=300, interval=0.2,
               message=f"500 schedules published (now {status_counts()})")
    records = outbox()
    counts = published_once(records)
    assert len(counts) == 500 and set(counts.values()) == {1}
    for record in records:
        for item in record["attachments"]:
            assert item["sha256"] == attachments[item["id"]]
    assert sum(1 for r in records if r["outcome"] == "published" and r["attachments"]) == 10
