"""End to end through HTTP only: upload -> page -> schedule -> published by a real worker."""

import hashlib
import json
import urllib.request
from datetime import datetime, timedelta, timezone

from helpers import png_bytes
from conftest import wait_until


def http(method, url, body=None, token=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def multipart(url, filename, data, fields, token, timeout=10):
    boundary = "pagesite-test-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(url, data=b"".join(parts), method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read())


def test_upload_page_schedule_published(processes, outbox, api_token):
    web = processes.web()
    processes.scheduler()
    processes.worker()

    image = png_bytes()
    status, asset = multipart(web.url + "/api/attachment", "cat.png", image, {"alt_text": "A cat"}, api_token)
    assert status == 201 and asset["sha256"] == hashlib.sha256(image).hexdigest()
    status, page = http("POST", web.url + "/api/pages", {"text": "Hello world", "attachment_ids": [asset["id"]]}, api_token)
    assert status == 201 and page["status"] == "draft"

    when = datetime.now(timezone.utc) + timedelta(seconds=2)
    status, schedule = http("POST", web.url + "/api/schedules",
                            {"page_id": page["id"], "scheduled_at": when.isoformat()}, api_token)
    assert status == 201 and schedule["status"] == "queued"

    def published():
        _, s = http("GET", f"{web.url}/api/schedules/{schedule['id']}", token=api_token)
        return s if s["status"] == "published" else None

    done = wait_until(published, timeout=15, message="the schedule to be published")
    published_at = datetime.fromisoformat(done["published_at"])
    assert published_at >= when, "published before its time"
    assert published_at - when < timedelta(seconds=3)
    assert done["attempts"] == 1 and done["external_id"].startswith("stub-")

    _, page_now = http("GET", f"{web.url}/api/pages/{page['id']}", token=api_token)
    assert page_now["status"] == "published"
    _, logs = http("GET", f"{web.url}/api/pages/{page['id']}/logs", token=api_token)
    assert [entry["status"] for entry in logs["items"]] == ["published"]
    records = outbox()
    assert [(r["idempotency_key"], r["outcome"], r["attachment_ids"]) for r in records] == [
        (done["idempotency_key"], "published", [asset["id"]])
    ]
    # The worker read the very bytes that were uploaded, through storage.
    assert records[0]["attachments"] == [{"id": asset["id"], "sha256": asset["sha256"]}]
