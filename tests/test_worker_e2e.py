"""End to end through HTTP only: upload -> page -> schedule -> published by a real worker."""

import hashlib
from datetime import datetime, timedelta, timezone

from helpers import http, multipart, png_bytes
from conftest import wait_until


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
