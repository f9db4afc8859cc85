"""Editing and deleting pages; descriptions per page; the chosen time and what was sent stay true."""

import io
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from helpers import png_bytes
from scheduling_helpers import get, in_app, logs_for, make_page, schedule_page, seconds, start, wait_status

pytestmark = pytest.mark.usefixtures("bind_app")


def upload(client, alt_text=""):
    response = client.post("/api/attachment", data={"file": (io.BytesIO(png_bytes()), "a.png"), "alt_text": alt_text},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    return response.json["id"]


def set_status(schedule_id, status):
    from pagesite.extensions import db
    from pagesite.models import Schedule

    with in_app():
        db.session.execute(update(Schedule).where(Schedule.id == schedule_id).values(status=status))
        db.session.commit()


def later(minutes=30):
    from pagesite.timeutil import utcnow

    return utcnow() + timedelta(minutes=minutes)


# Descriptions belong to the page's use of a file

def test_each_page_has_its_own_description_of_a_shared_file(client):
    file_id = upload(client, "the file's own words")
    first = client.post("/api/pages", json={"text": "one", "attachment_ids": [file_id]}).json
    second = client.post("/api/pages", json={"text": "two", "attachments": [{"id": file_id, "alt_text": "two's"}]}).json
    assert first["attachments"][0]["alt_text"] == "the file's own words"  # attachment_ids: the file's description
    assert second["attachments"][0]["alt_text"] == "two's"

    edited = client.patch(f"/api/pages/{first['id']}",
                          json={"attachments": [{"id": file_id, "alt_text": "one's, edited"}]})
    assert edited.status_code == 200, edited.json
    assert edited.json["attachments"][0]["alt_text"] == "one's, edited"
    assert client.get(f"/api/pages/{second['id']}").json["attachments"][0]["alt_text"] == "two's"
    assert client.get(f"/api/attachment/{file_id}").json["alt_text"] == "the file's own words"
    # Changing the file's own description later changes no page's.
    client.patch(f"/api/attachment/{file_id}", json={"alt_text": "new default"})
    assert client.get(f"/api/pages/{first['id']}").json["attachments"][0]["alt_text"] == "one's, edited"


def test_patch_changes_text_and_order_and_keeps_descriptions_not_given(client):
    a, b = upload(client, "A default"), upload(client, "B default")
    page = client.post("/api/pages", json={"text": "before", "attachments": [
        {"id": a, "alt_text": "A here"}, {"id": b}]}).json
    assert [x["alt_text"] for x in page["attachments"]] == ["A here", "B default"]
    response = client.patch(f"/api/pages/{page['id']}", json={"text": "  after  ", "attachments": [{"id": b},
                                                                                                {"id": a}]})
    assert response.status_code == 200, response.json
    assert response.json["text"] == "after"
    assert [(x["id"], x["alt_text"]) for x in response.json["attachments"]] == [(b, "B default"), (a, "A here")]
    # Text alone leaves the attachments; [] removes them.
    assert client.patch(f"/api/pages/{page['id']}", json={"text": "again"}).json["attachments"][0]["id"] == b
    assert client.patch(f"/api/pages/{page['id']}", json={"attachment_ids": []}).json["attachments"] == []
    # Nothing to change: the page as it is.
    assert client.patch(f"/api/pages/{page['id']}", json={}).json["text"] == "again"


@pytest.mark.parametrize("body, field", [
    ({"text": "   "}, "text"),
    ({"attachment_ids": [1], "attachments": [{"id": 1}]}, "attachments"),
    ({"attachment_ids": [999999]}, "attachment_ids"),
    ({"attachments": [{"id": 999999}]}, "attachments"),
    ({"attachments": [{"id": 1, "alt_text": "x" * 1501}]}, "attachments"),
])
def test_bad_edits_are_422_and_change_nothing(client, body, field):
    upload(client)
    page = client.post("/api/pages", json={"text": "kept"}).json
    response = client.patch(f"/api/pages/{page['id']}", json=body)
    assert response.status_code == 422, response.json
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert field in response.json["errors"], response.json
    assert client.get(f"/api/pages/{page['id']}").json["text"] == "kept"


def test_edit_is_409_while_publishing_and_404_for_unknown(client):
    page_id = make_page(client, "busy")
    schedule = schedule_page(client, page_id, later())
    set_status(schedule["id"], "publishing")
    response = client.patch(f"/api/pages/{page_id}", json={"text": "changed"})
    assert response.status_code == 409 and response.json["schedule_id"] == schedule["id"]
    assert client.delete(f"/api/pages/{page_id}").status_code == 409
    assert client.get(f"/api/pages/{page_id}").json["text"] == "busy"
    assert client.patch("/api/pages/999999", json={"text": "x"}).status_code == 404
    assert client.delete("/api/pages/999999").status_code == 404


# Deleting

def test_delete_while_queued_cancels_and_hides_the_page(client, processes, outbox):
    from pagesite.timeutil import utcnow

    start(processes)
    page_id = make_page(client, "never sent")
    schedule = schedule_page(client, page_id, utcnow() + timedelta(seconds=1.5))
    other = schedule_page(client, make_page(client, "still sent"), utcnow() + timedelta(seconds=1.5))
    response = client.delete(f"/api/pages/{page_id}")
    assert response.status_code == 204 and response.data == b""
    assert get(schedule["id"]).status == "canceled"
    assert client.get(f"/api/pages/{page_id}").status_code == 404
    assert client.get(f"/api/pages/{page_id}/logs").status_code == 404
    assert page_id not in [p["id"] for p in client.get("/api/pages?per_page=100").json["items"]]
    assert page_id not in [s["page_id"] for s in client.get("/api/schedules?per_page=100").json["items"]]
    assert client.patch(f"/api/pages/{page_id}", json={"text": "x"}).status_code == 404
    assert client.post("/api/schedules", json={"page_id": page_id}).status_code == 422
    assert client.delete(f"/api/pages/{page_id}").status_code == 404
    wait_status(other["id"], "published")  # the worker ran past the deleted page's time
    assert schedule["id"] not in {r["schedule_id"] for r in outbox()}
    assert get(schedule["id"]).status == "canceled" and logs_for(schedule["id"]) == []


def test_deleted_page_with_published_history_stays_readable(client, anon, processes, outbox):
    start(processes)
    file_id = upload(client, "a red square")
    page = client.post("/api/pages", json={"text": "sent once", "attachments": [{"id": file_id}]}).json
    published = wait_status(schedule_page(client, page["id"])["id"], "published")
    feed = client.post("/api/calendar-feed").json["url"].removeprefix("http://localhost")
    assert b"sent once" in anon.get(feed).data
    assert client.delete(f"/api/pages/{page['id']}").status_code == 204
    assert b"sent once" not in anon.get(feed).data  # gone from the plan, like from the lists
    kept = client.get(f"/api/pages/{page['id']}")
    assert kept.status_code == 200 and kept.json["deleted_at"].endswith("Z")
    [entry] = client.get(f"/api/pages/{page['id']}/logs").json["items"]
    assert entry["schedule_id"] == published.id
    assert entry["sent"] == {"text": "sent once", "attachments": [{"id": file_id, "alt_text": "a red square"}]}
    assert page["id"] not in [p["id"] for p in client.get("/api/pages?per_page=100").json["items"]]
    assert client.patch(f"/api/pages/{page['id']}", json={"text": "rewrite history"}).status_code == 404


# The chosen time and what was sent

def test_retry_keeps_the_chosen_time_and_each_log_says_what_was_sent(client, processes, outbox):
    start(processes)
    file_id = upload(client, "file words")
    page = client.post("/api/pages", json={"text": "Sometimes [stub:flaky] fails",
                                           "attachments": [{"id": file_id, "alt_text": "page words"}]}).json
    created = schedule_page(client, page["id"])
    assert created["next_attempt_at"] == created["scheduled_at"]
    done = wait_status(created["id"], "published")
    assert done.attempts == 2
    shown = client.get(f"/api/schedules/{created['id']}").json
    assert shown["scheduled_at"] == created["scheduled_at"]  # the backoff did not rewrite it
    assert shown["next_attempt_at"] is None
    sent = {"text": "Sometimes [stub:flaky] fails", "attachments": [{"id": file_id, "alt_text": "page words"}]}
    assert [entry["sent"] for entry in client.get(f"/api/pages/{page['id']}/logs").json["items"]] == [sent, sent]
    # The provider got the page's description, not the file's.
    assert {tuple(r["alt_texts"]) for r in outbox()} == {("page words",)}
    # Editing later does not rewrite what the log says was sent.
    client.patch(f"/api/pages/{page['id']}", json={"text": "rewritten"})
    assert client.get(f"/api/pages/{page['id']}/logs").json["items"][0]["sent"] == sent


def test_queued_schedules_publish_the_edited_content(client, processes, outbox):
    from pagesite.timeutil import utcnow

    start(processes)
    a, b = upload(client, "A"), upload(client, "B")
    page = client.post("/api/pages", json={"text": "old", "attachment_ids": [a]}).json
    schedule = schedule_page(client, page["id"], utcnow() + timedelta(seconds=2))
    client.patch(f"/api/pages/{page['id']}", json={"text": "new", "attachments": [{"id": b, "alt_text": "b here"}]})
    wait_status(schedule["id"], "published")
    [record] = [r for r in outbox() if r["schedule_id"] == schedule["id"]]
    assert (record["text"], record["attachment_ids"], record["alt_texts"]) == ("new", [b], ["b here"])


def test_an_edit_racing_a_due_publish_never_sends_a_mix(client, processes, outbox):
    """Edits land just before, at and just after each schedule's time: each
    publish sends the old or the new page whole, the log says which, and a
    provider called after an edit was accepted gets the edited page."""
    from pagesite.timeutil import utcnow

    start(processes, workers=2)
    old_file, new_file = upload(client, "old words"), upload(client, "new words")
    base = utcnow() + timedelta(seconds=1.5)
    offsets = [-0.1, -0.03, -0.01, 0.0, 0.005, 0.01, 0.02, 0.05, 0.1]
    planned = []
    for n, offset in enumerate(offsets):
        page = client.post("/api/pages", json={"text": f"old {n}", "attachments": [
            {"id": old_file, "alt_text": f"old alt {n}"}]}).json
        when = base + timedelta(seconds=0.4 * n)
        planned.append((page["id"], schedule_page(client, page["id"], when)["id"], when, offset))

    answers = {}
    for page_id, schedule_id, when, offset in planned:
        time.sleep(max(0.0, seconds(when - utcnow()) + offset))
        n = [p for p, *_ in planned].index(page_id)
        sent_at = time.time()
        response = client.patch(f"/api/pages/{page_id}", json={"text": f"new {n}", "attachments": [
            {"id": new_file, "alt_text": f"new alt {n}"}, {"id": old_file, "alt_text": f"kept {n}"}]})
        assert response.status_code in (200, 409), response.json
        answers[schedule_id] = (n, response.status_code, sent_at, time.time())

    for schedule_id, (n, status, edit_sent, edit_answered) in answers.items():
        wait_status(schedule_id, "published")
        [record] = [r for r in outbox() if r["schedule_id"] == schedule_id]
        got = (record["text"], record["attachment_ids"], record["alt_texts"])
        old = (f"old {n}", [old_file], [f"old alt {n}"])
        new = (f"new {n}", [new_file, old_file], [f"new alt {n}", f"kept {n}"])
        assert got in (old, new), got
        if status == 200 and record["call_started"] > edit_answered:
            assert got == new, f"schedule {schedule_id}: called after the edit was accepted, with the old page"
        if record["call_ends"] < edit_sent:
            assert got == old, f"schedule {schedule_id}: the page was sent before it was edited"
        [entry] = logs_for(schedule_id)
        assert (entry.sent["text"], [a["id"] for a in entry.sent["attachments"]],
                [a["alt_text"] for a in entry.sent["attachments"]]) == got
    assert any(status == 200 for _, status, *_ in answers.values())


def test_an_edit_must_fit_every_channel_the_page_is_queued_for(client):
    from pagesite.extensions import db
    from pagesite.models import Channel

    created = client.post("/api/channels", json={"provider": "stub", "name": "Short"})
    assert created.status_code == 201, created.json
    with in_app():
        channel = db.session.get(Channel, created.json["id"])
        channel.limits = {**channel.limits, "max_characters": 20, "max_description": 10}
        db.session.commit()
    file_id = upload(client, "short")
    page_id = make_page(client, "fits")
    response = client.post("/api/schedules", json={"page_id": page_id, "channel_id": created.json["id"],
                                                   "scheduled_at": later().isoformat()})
    assert response.status_code == 201, response.json
    too_long = client.patch(f"/api/pages/{page_id}", json={"text": "x" * 21})
    assert too_long.status_code == 422 and "Short" in str(too_long.json["errors"]), too_long.json
    long_alt = client.patch(f"/api/pages/{page_id}", json={"attachments": [{"id": file_id, "alt_text": "y" * 11}]})
    assert long_alt.status_code == 422, long_alt.json
    assert client.get(f"/api/pages/{page_id}").json["text"] == "fits"
    assert client.patch(f"/api/pages/{page_id}", json={"text": "x" * 20}).status_code == 200
