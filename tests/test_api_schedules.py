"""/api/schedules and /api/providers: validation, conflicts, jobs in Redis, sync publish."""

from datetime import datetime, timedelta, timezone

import pytest

from pagesite import jobs, queueing
from pagesite.extensions import db, get_redis
from pagesite.models import Schedule
from pagesite.tickets import Ticket


def page_id(client, text="Hello"):
    return client.post("/api/pages", json={"text": text}).json["id"]


def future(seconds=3600):
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def scheduled_job_ids(app):
    with app.app_context():
        return {j.decode() for j in get_redis().zrange(queueing.PagesiteScheduler.scheduled_jobs_key, 0, -1)}


def queued_job_ids(app):
    with app.app_context():
        return queueing.get_job_queue().job_ids


def test_future_schedule_is_queued_and_handed_to_the_scheduler(client, app):
    pid = page_id(client)
    response = client.post("/api/schedules", json={"page_id": pid, "scheduled_at": future()})
    assert response.status_code == 201
    schedule = response.json
    assert schedule["status"] == "queued" and schedule["attempts"] == 0
    assert schedule["provider"] == "stub"  # "default" resolves to the configured provider
    assert schedule["page"]["id"] == pid and schedule["page"]["text"] == "Hello"
    with app.app_context():
        row = db.session.get(Schedule, schedule["id"])
        assert f"publish-{row.id}-" in " ".join(scheduled_job_ids(app))
        assert queueing.publish_job_id(Ticket.of(row)) in scheduled_job_ids(app)
        # The job runs at the schedule's exact time, fraction of a second included.
        score = get_redis().zscore(queueing.PagesiteScheduler.scheduled_jobs_key, queueing.publish_job_id(Ticket.of(row)))
        assert score == pytest.approx(row.scheduled_at.timestamp(), abs=0.001)


def test_schedule_without_time_is_due_now_and_enqueued_directly(client, app):
    schedule = client.post("/api/schedules", json={"page_id": page_id(client)}).json
    assert schedule["status"] == "queued"
    assert datetime.fromisoformat(schedule["scheduled_at"]) <= datetime.now(timezone.utc)
    assert any(j.startswith(f"publish-{schedule['id']}-") for j in queued_job_ids(app))


def test_offsets_are_converted_to_utc(client):
    local = (datetime.now(timezone(timedelta(hours=5, minutes=30))) + timedelta(days=1)).replace(microsecond=0)
    schedule = client.post("/api/schedules", json={"page_id": page_id(client), "scheduled_at": local.isoformat()}).json
    assert schedule["scheduled_at"].endswith("Z")
    assert datetime.fromisoformat(schedule["scheduled_at"]) == local


@pytest.mark.parametrize(
    "scheduled_at, message",
    [
        ("2031-01-01T09:00:00", "offset"),  # naive: ambiguous
        ("next tuesday", "valid ISO 8601"),
        ("2020-01-01T09:00:00Z", "in the past"),
        (12345, "ISO 8601"),
    ],
)
def test_bad_times_are_422(client, scheduled_at, message):
    response = client.post("/api/schedules", json={"page_id": page_id(client), "scheduled_at": scheduled_at})
    assert response.status_code == 422
    assert message in response.json["errors"]["scheduled_at"][0]


@pytest.mark.parametrize("bad", [None, 999999, "1", -1, 2**64])
def test_unknown_page_is_422(client, bad):
    response = client.post("/api/schedules", json={"page_id": bad, "scheduled_at": future()})
    assert response.status_code == 422
    assert "page_id" in response.json["errors"]


def test_unknown_provider_is_422(client):
    response = client.post("/api/schedules", json={"page_id": page_id(client), "provider": "myspace"})
    assert response.status_code == 422
    assert "provider" in response.json["errors"]


def test_second_live_schedule_for_same_page_and_provider_is_409(client):
    pid = page_id(client)
    first = client.post("/api/schedules", json={"page_id": pid, "scheduled_at": future()}).json
    response = client.post("/api/schedules", json={"page_id": pid, "scheduled_at": future(7200)})
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.json["schedule_id"] == first["id"]
    # Once canceled, the page can be scheduled again.
    client.post(f"/api/schedules/{first['id']}/cancel")
    assert client.post("/api/schedules", json={"page_id": pid, "scheduled_at": future()}).status_code == 201


def test_cancel_removes_the_job_and_only_works_once(client, app):
    schedule = client.post("/api/schedules", json={"page_id": page_id(client), "scheduled_at": future()}).json
    response = client.post(f"/api/schedules/{schedule['id']}/cancel")
    assert response.status_code == 200 and response.json["status"] == "canceled"
    assert not any(j.startswith(f"publish-{schedule['id']}-") for j in scheduled_job_ids(app))
    again = client.post(f"/api/schedules/{schedule['id']}/cancel")
    assert again.status_code == 409
    assert again.json["schedule_status"] == "canceled"
    assert client.post("/api/schedules/987654/cancel").status_code == 404


def test_canceled_schedule_is_never_published_even_if_its_job_runs(client, app, outbox):
    schedule = client.post("/api/schedules", json={"page_id": page_id(client)}).json
    client.post(f"/api/schedules/{schedule['id']}/cancel")
    with app.app_context():
        assert jobs.publish(schedule["id"]) == "skipped"  # the old job firing anyway
    assert client.get(f"/api/schedules/{schedule['id']}").json["status"] == "canceled"
    assert outbox() == []


def test_reschedule_moves_the_job(client, app):
    schedule = client.post("/api/schedules", json={"page_id": page_id(client), "scheduled_at": future()}).json
    later = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)
    response = client.patch(f"/api/schedules/{schedule['id']}", json={"scheduled_at": later.isoformat()})
    assert response.status_code == 200
    assert datetime.fromisoformat(response.json["scheduled_at"]) == later
    ids = [j for j in scheduled_job_ids(app) if j.startswith(f"publish-{schedule['id']}-")]
    assert ids == [f"publish-{schedule['id']}-{int(later.timestamp() * 1000)}"]
    bad = client.patch(f"/api/schedules/{schedule['id']}", json={"scheduled_at": "2001-01-01T00:00:00Z"})
    assert bad.status_code == 422
    client.post(f"/api/schedules/{schedule['id']}/cancel")
    assert client.patch(f"/api/schedules/{schedule['id']}", json={"scheduled_at": future()}).status_code == 409


def test_list_filters_sorts_and_embeds_pages(client):
    early = client.post("/api/schedules", json={"page_id": page_id(client, "B"), "scheduled_at": future(200)}).json
    late = client.post("/api/schedules", json={"page_id": page_id(client, "A"), "scheduled_at": future(100_000)}).json
    soon = client.post("/api/schedules", json={"page_id": page_id(client, "C"), "scheduled_at": future(100)}).json
    client.post(f"/api/schedules/{late['id']}/cancel")
    listing = client.get("/api/schedules").json
    assert [s["id"] for s in listing["items"]] == [soon["id"], early["id"], late["id"]]
    assert listing["total"] == 3
    assert listing["items"][0]["page"]["text"] == "C"
    queued = client.get("/api/schedules?status=queued").json
    assert [s["id"] for s in queued["items"]] == [soon["id"], early["id"]]
    by_page = client.get(f"/api/schedules?page_id={early['page_id']}").json
    assert [s["id"] for s in by_page["items"]] == [early["id"]]
    bad = client.get("/api/schedules?status=lost")
    assert bad.status_code == 422 and "status" in bad.json["errors"]


def test_publish_now_is_synchronous(client, outbox):
    pid = page_id(client)
    response = client.post("/api/providers/stub/publish", json={"page_id": pid})
    assert response.status_code == 201
    log = response.json  # the PublishLog itself, its schedule nested
    assert log["status"] == "published" and log["attempt"] == 1 and log["external_id"].startswith("stub-")
    assert log["schedule"]["status"] == "published" and log["schedule_id"] == log["schedule"]["id"]
    assert response.headers["Location"].endswith(f"/api/schedules/{log['schedule_id']}")
    # It shows in the schedules list and the page's log.
    assert [s["status"] for s in client.get("/api/schedules").json["items"]] == ["published"]
    assert client.get(f"/api/pages/{pid}").json["status"] == "published"
    assert [e["id"] for e in client.get(f"/api/pages/{pid}/logs").json["items"]] == [log["id"]]
    assert [r["outcome"] for r in outbox()] == ["published"]


def test_publish_now_default_alias(client):
    assert client.post("/api/providers/default/publish", json={"page_id": page_id(client)}).status_code == 201


def test_publish_now_failure_is_502_with_the_log(client):
    pid = page_id(client, "This one breaks [stub:fail]")
    response = client.post("/api/providers/stub/publish", json={"page_id": pid})
    assert response.status_code == 502
    assert response.mimetype == "application/problem+json"
    assert response.json["publish_log"]["status"] == "failed"
    assert "[stub:fail]" in response.json["publish_log"]["error"]
    schedule = client.get("/api/schedules").json["items"][0]
    assert schedule["status"] == "failed" and schedule["last_error"]


def test_publish_now_errors(client):
    pid = page_id(client)
    assert client.post("/api/providers/myspace/publish", json={"page_id": pid}).status_code == 404
    assert client.post("/api/providers/stub/publish", json={"page_id": 999999}).status_code == 422
    client.post("/api/schedules", json={"page_id": pid, "scheduled_at": future()})
    assert client.post("/api/providers/stub/publish", json={"page_id": pid}).status_code == 409


def test_list_providers(client):
    items = client.get("/api/providers").json["items"]
    assert [(p["name"], p["default"]) for p in items] == [
        ("bluesky", False), ("discord", False), ("mastodon", False), ("matrix", False), ("nostr", False),
        ("stub", True), ("telegram", False), ("webhook", False)]
    webhook = next(p for p in items if p["name"] == "webhook")
    assert webhook["settings_schema"]["required"] == ["url"]
    assert webhook["credentials_schema"]["properties"]["secret"]["secret"] is True


def test_health_reports_database_and_redis(client):
    response = client.get("/api/health")
    body = response.json
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    # No worker runs in this test, and health says so rather than pretending.
    assert response.status_code == 503
    assert any("worker" in p for p in body["problems"])
