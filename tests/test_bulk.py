"""Many schedules at once (POST /api/schedules/bulk): cancel, move and retry by ids or
by the list's filters, in one transaction, with Redis following the database."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from scheduling_helpers import get, in_app, make_page, pending_jobs, schedule_page

pytestmark = pytest.mark.usefixtures("bind_app")


def later(minutes):
    from pagesite.timeutil import utcnow

    return (utcnow() + timedelta(minutes=minutes)).replace(microsecond=0)


def set_status(schedule_id, status):
    """What a worker leaves behind (published, failed), written as the worker writes it."""
    from pagesite.extensions import db
    from pagesite.models import Schedule

    with in_app():
        db.session.execute(update(Schedule).where(Schedule.id == schedule_id)
                           .values(status=status, attempts=1, next_attempt_at=None))
        db.session.commit()


def queued(client, text, minutes):
    return schedule_page(client, make_page(client, text), later(minutes))["id"]


def bulk(client, **body):
    response = client.post("/api/schedules/bulk", json=body)
    return response.status_code, response.get_json(), response


def test_cancel_by_ids_changes_the_queued_ones_names_the_rest_and_withdraws_their_jobs(client):
    ids = [queued(client, f"Post {n}", 30 + n) for n in range(3)]
    done = queued(client, "Already out", 40)
    set_status(done, "published")
    assert all(pending_jobs(i) for i in ids)

    status, answer, _ = bulk(client, action="cancel", ids=ids + [done])

    assert status == 200, answer
    assert answer["changed"] == ids
    assert answer["skipped"] == [{"id": done, "status": "published",
                                  "reason": "only a queued schedule can be canceled"}]
    assert [get(i).status for i in ids] == ["canceled"] * 3
    assert get(done).status == "published"
    assert not any(pending_jobs(i) for i in ids)


def test_move_by_filter_moves_only_what_the_filter_matches_and_its_jobs_follow(client):
    launch = [queued(client, f"Launch day {n}", 60 + n) for n in range(2)]
    other = queued(client, "Something else", 61)
    before = {i: get(i).scheduled_at for i in launch + [other]}
    old_jobs = {i: pending_jobs(i) for i in launch}

    status, answer, _ = bulk(client, action="move", by_seconds=3600, filter={"q": "launch", "status": "queued"})

    assert status == 200, answer
    assert sorted(answer["changed"]) == launch and answer["skipped"] == []
    for i in launch:
        assert get(i).scheduled_at == before[i] + timedelta(hours=1)
        assert pending_jobs(i) and pending_jobs(i).isdisjoint(old_jobs[i])
    assert get(other).scheduled_at == before[other]
    from pagesite.timeutil import isoformat

    shown = client.get(f"/api/schedules/{launch[0]}").get_json()["scheduled_at"]
    assert shown == isoformat(before[launch[0]] + timedelta(hours=1)) and shown.endswith("Z")


def test_a_move_into_the_past_moves_nothing_and_says_which(client):
    soon, far = queued(client, "Soon", 10), queued(client, "Far", 600)
    before = {i: get(i).scheduled_at for i in (soon, far)}

    status, answer, response = bulk(client, action="move", by_seconds=-3600, ids=[soon, far])

    assert status == 422 and response.mimetype == "application/problem+json"
    assert str(soon) in answer["errors"]["by_seconds"][0] and str(far) not in answer["errors"]["by_seconds"][0]
    assert {i: get(i).scheduled_at for i in (soon, far)} == before


def test_retry_requeues_failed_schedules_once_per_page_and_channel(client):
    from pagesite.extensions import db
    from pagesite.models import Schedule

    page = make_page(client, "Failed twice")
    first = schedule_page(client, page, later(5))["id"]
    set_status(first, "failed")
    second = schedule_page(client, page, later(6))["id"]
    set_status(second, "failed")
    busy_page = make_page(client, "Failed, then queued again")
    failed_busy = schedule_page(client, busy_page, later(5))["id"]
    set_status(failed_busy, "failed")
    live = schedule_page(client, busy_page, later(9))["id"]

    status, answer, _ = bulk(client, action="retry", ids=[first, second, failed_busy, live])

    assert status == 200, answer
    assert answer["changed"] == [first]
    reasons = {s["id"]: s["reason"] for s in answer["skipped"]}
    assert reasons == {
        second: f"schedule {first} of the same page and channel is retried instead",
        failed_busy: "the page already has a live schedule for this channel",
        live: "only a failed schedule can be retried",
    }
    assert get(first).status == "queued" and pending_jobs(first)
    with in_app():
        statuses = dict(db.session.query(Schedule.id, Schedule.status))
    assert statuses[second] == statuses[failed_busy] == "failed"


@pytest.mark.parametrize("body, field, words", [
    ({"action": "cancel"}, "ids", "either ids or filter"),
    ({"action": "cancel", "ids": [1], "filter": {}}, "ids", "either ids or filter"),
    ({"action": "move", "ids": [1]}, "by_seconds", "other than 0"),
    ({"action": "cancel", "ids": [1, 999]}, "ids", "No schedule 999."),
    ({"action": "cancel", "filter": {"status": "nonsense"}}, "filter", ""),
    ({"action": "delete-everything", "ids": [1]}, "action", ""),
])
def test_a_bad_request_is_a_problem_naming_its_field_and_changes_nothing(client, body, field, words):
    schedule_id = queued(client, "Stays", 30)
    assert schedule_id == 1

    status, answer, response = bulk(client, **body)

    assert status == 422, answer
    assert response.mimetype == "application/problem+json"
    messages = " ".join(m for name, ms in answer["errors"].items() if name.startswith(field) for m in ms)
    assert messages and words in messages, answer
    assert get(schedule_id).status == "queued"


def test_a_deleted_pages_schedule_is_not_reachable_by_id(client):
    kept, gone = queued(client, "Kept", 30), queued(client, "Deleted page", 31)
    page_of_gone = get(gone).page_id
    assert client.delete(f"/api/pages/{page_of_gone}").status_code in (200, 204)

    status, answer, _ = bulk(client, action="cancel", ids=[kept, gone])

    assert status == 422 and answer["errors"]["ids"] == [f"No schedule {gone}."]
    assert get(kept).status == "queued"
