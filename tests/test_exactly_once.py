"""Exactly once where it used to break: keys reused after a database reset, a
call that outlives its timeout overlapping its own retry, an edit between an
unanswered attempt and its retry, a late success racing a rescue.

Each publishes through the real publish path (``publishing.publish_schedule``,
as a worker's job runs it) to a real peer: the webhook receiver (which keeps
one post per ``webhook-id``, as Standard Webhooks advises) or the reference
Bluesky PDS.
"""

import re
import threading

import pytest
import sqlalchemy

from conftest import empty_tables, wait_until
from peers import pds  # noqa: F401 (fixture)
from scheduling_helpers import connect_channel as connect, get, in_app, logs_for
from scheduling_helpers import page_on_channel as schedule_page

pytestmark = pytest.mark.usefixtures("bind_app")

KEY = re.compile(r"^ps-[0-9a-f]{32}$")  # 128 random bits


def publish(schedule_id):
    """One attempt, as a worker's publish job makes it (without a worker's threads)."""
    from pagesite.services import publishing

    with in_app():
        return publishing.publish_schedule(schedule_id).outcome


def reset_database(app):
    """A database dropped and made again, same secret: every table empty, ids from 1 again."""
    empty_tables(app)


def test_every_schedule_has_a_random_key_of_its_own_in_its_json(client):
    page = client.post("/api/pages", json={"text": "Keys"}).get_json()
    other = client.post("/api/pages", json={"text": "Other keys"}).get_json()
    first = client.post("/api/schedules", json={"page_id": page["id"], "scheduled_at": "2031-01-01T09:00:00Z"})
    second = client.post("/api/schedules", json={"page_id": other["id"], "scheduled_at": "2031-01-01T09:00:00Z"})
    keys = [first.get_json()["idempotency_key"], second.get_json()["idempotency_key"]]
    assert all(KEY.match(k) for k in keys) and keys[0] != keys[1]
    assert client.get(f"/api/schedules/{first.get_json()['id']}").get_json()["idempotency_key"] == keys[0]
    assert get(first.get_json()["id"]).idempotency_key == keys[0]


def test_after_a_database_reset_new_schedules_reach_a_deduplicating_receiver(app, receiver):
    channel_id = connect("webhook", {"url": receiver.url}, {"secret": receiver.secret})
    _, before = schedule_page("Before the reset", channel_id)
    assert publish(before) == "published"

    reset_database(app)
    channel_id = connect("webhook", {"url": receiver.url}, {"secret": receiver.secret})
    _, after = schedule_page("After the reset", channel_id)
    assert after == before  # the ids start again: only the key tells the two apart
    assert publish(after) == "published"

    texts = sorted(p["data"]["page"]["text"] for p in receiver.posts.values())
    assert texts == ["After the reset", "Before the reset"]
    assert len({d["headers"]["webhook-id"] for d in receiver.deliveries()}) == 2


def test_after_a_database_reset_new_schedules_are_posted_to_bluesky(app, pds):  # noqa: F811
    account = pds.create_account()
    credentials = {"identifier": account.handle, "app_password": account.app_password}
    channel_id = connect("bluesky", {"service_url": pds.url}, credentials)
    _, before = schedule_page("Before the reset", channel_id)
    assert publish(before) == "published"

    reset_database(app)
    channel_id = connect("bluesky", {"service_url": pds.url}, credentials)
    _, after = schedule_page("After the reset", channel_id)
    assert after == before
    assert publish(after) == "published", get(after).last_error
    texts = sorted(r["value"]["text"] for r in pds.list_records(account.did))
    assert texts == ["After the reset", "Before the reset"]


def test_rotating_the_secret_keeps_a_retrys_key(app, pds):  # noqa: F811
    """The key is the schedule's own: a retry after SECRET_KEY changed finds the first attempt's post."""
    from pagesite.extensions import db
    from pagesite.models import Schedule

    account = pds.create_account()
    channel_id = connect("bluesky", {"service_url": pds.url},
                         {"identifier": account.handle, "app_password": account.app_password})
    _, schedule_id = schedule_page("Posted before the rotation", channel_id)
    assert publish(schedule_id) == "published"
    with app.app_context():  # as if its answer had been lost: queued again, one attempt made
        db.session.execute(sqlalchemy.update(Schedule).where(Schedule.id == schedule_id).values(
            status="queued", next_attempt_at=Schedule.scheduled_at, external_id=None, url=None))
        db.session.commit()
    old_secret = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a-brand-new-secret"
    try:
        assert publish(schedule_id) == "published"
    finally:
        app.config["SECRET_KEY"] = old_secret
    assert len(pds.list_records(account.did)) == 1
    assert "earlier attempt" in " ".join(logs_for(schedule_id)[-1].notes)


def due_at(schedule_id):
    return get(schedule_id).next_attempt_at


def due_now(schedule_id):
    return wait_until(lambda: due_at(schedule_id) <= _now(), timeout=5, message="the retry due")


def _now():
    from pagesite.timeutil import utcnow

    return utcnow()


def test_a_receiver_that_hangs_three_times_the_timeout_gets_one_call_at_a_time_and_one_post(
        app, receiver, short_timeout):
    channel_id = connect("webhook", {"url": receiver.url}, {"secret": receiver.secret})
    _, schedule_id = schedule_page("Slow to answer", channel_id)
    receiver.hold(3 * short_timeout)  # every delivery

    assert publish(schedule_id) == "retrying"  # timed out; the call itself goes on
    assert "outcome is unknown" in logs_for(schedule_id)[0].error
    # The retry is due at once, but the first call still runs: it waits, in any process.
    due_now(schedule_id)
    assert publish(schedule_id) == "deferred"
    assert len(receiver.deliveries()) == 1

    outcomes = []

    def tried_to_the_end():
        if get(schedule_id).status == "queued" and due_at(schedule_id) <= _now():
            outcomes.append(publish(schedule_id))
        return get(schedule_id).status == "failed"

    wait_until(tried_to_the_end, timeout=30, message="every attempt made")
    assert set(outcomes) == {"deferred", "retrying", "failed"}, outcomes
    schedule = get(schedule_id)
    deliveries = sorted(receiver.deliveries(), key=lambda d: d["arrived"])
    assert len(deliveries) == schedule.attempts == app.config["PUBLISH_MAX_ATTEMPTS"]
    assert {d["headers"]["webhook-id"] for d in deliveries} == {schedule.idempotency_key}
    assert len(receiver.posts) == 1
    wait_until(lambda: all("answered" in d for d in deliveries), timeout=5, message="the last call to end")
    for earlier, later in zip(deliveries, deliveries[1:]):
        assert later["arrived"] >= earlier["answered"]  # never two calls at once


def test_an_edit_waits_until_an_unanswered_attempt_has_an_answer(app, client, receiver, short_timeout):
    channel_id = connect("webhook", {"url": receiver.url}, {"secret": receiver.secret})
    page_id, schedule_id = schedule_page("What the first attempt sent", channel_id)
    receiver.hold(0.8)
    assert publish(schedule_id) == "retrying"
    assert get(schedule_id).outcome_unknown

    refused = client.patch(f"/api/pages/{page_id}", json={"text": "An edit in between"})
    assert refused.status_code == 409
    problem = refused.get_json()
    assert "got no answer" in problem["detail"] and problem["schedule_id"] == schedule_id
    assert client.get(f"/api/pages/{page_id}").get_json()["text"] == "What the first attempt sent"

    receiver.release()
    wait_until(lambda: publish(schedule_id) == "published", timeout=10, message="the retry")
    first, second = logs_for(schedule_id)
    assert first.sent == second.sent and second.sent["text"] == "What the first attempt sent"
    assert len(receiver.posts) == 1 and not get(schedule_id).outcome_unknown
    # Once an attempt knows, the page is the user's again.
    assert client.patch(f"/api/pages/{page_id}", json={"text": "Edited afterwards"}).status_code == 200


def test_a_late_success_after_a_rescue_leaves_nothing_planned(app, receiver):
    """The worker was thought dead and its schedule queued again; then its call answered."""
    from pagesite.services import publishing

    channel_id = connect("webhook", {"url": receiver.url}, {"secret": receiver.secret})
    _, schedule_id = schedule_page("Late but true", channel_id)
    receiver.hold(30)
    outcome = {}

    def silent_worker():  # a claimer with no heartbeat: the reconciler takes it for dead
        with in_app():
            outcome["value"] = publishing.publish_schedule(schedule_id, claimed_by="worker:gone:1:abc").outcome

    thread = threading.Thread(target=silent_worker)
    saved_ttl = app.config["HEARTBEAT_TTL"]
    app.config["HEARTBEAT_TTL"] = 0.2
    try:
        thread.start()
        wait_until(lambda: receiver.deliveries(), timeout=5, message="the call")
        # Its claim older than the (shortened) heartbeat TTL, as the reconciler requires.
        wait_until(lambda: (_now() - get(schedule_id).claimed_at).total_seconds() > 0.25, timeout=5,
                   message="the claim to age")
        with app.app_context():
            assert publishing.reconcile()["rescued"] == 1
    finally:
        app.config["HEARTBEAT_TTL"] = saved_ttl
    rescued = get(schedule_id)
    assert rescued.status == "queued" and rescued.next_attempt_at is not None and rescued.outcome_unknown
    receiver.release()
    thread.join(10)
    assert outcome["value"] == "published"
    done = get(schedule_id)
    assert done.status == "published" and done.next_attempt_at is None and not done.outcome_unknown


def test_finished_schedules_have_nothing_planned(app, client):
    from pagesite.extensions import db
    from pagesite.models import Schedule

    stub = client.get("/api/channels").get_json()["items"][0]["id"]
    _, published = schedule_page("Fine", stub)
    _, failed = schedule_page("Refused [stub:fail]", stub)
    _, canceled = schedule_page("Never mind", stub)
    publish(published), publish(failed)
    assert client.post(f"/api/schedules/{canceled}/cancel").status_code == 200
    with app.app_context():
        rows = db.session.execute(sqlalchemy.select(Schedule.status, Schedule.next_attempt_at)).all()
    assert sorted(r.status for r in rows) == ["canceled", "failed", "published"]
    assert all(r.next_attempt_at is None for r in rows)


def test_a_refused_compose_leaves_no_page_and_no_description_behind(app):
    """Refused after the page was written (every posting time is taken, which only
    the claim of a time can tell): the page, its descriptions and schedules go together."""
    import io

    from helpers import png_bytes
    from pagesite.errors import Conflict
    from pagesite.extensions import db
    from pagesite.models import Page
    from pagesite.services import attachments, posting_queue, schedules

    with in_app():
        posting_queue.set_queue("UTC", [{"weekday": "mon", "time": "09:00"}])
        filled = 0
        while True:  # every Monday of the coming year
            try:
                schedules.compose(f"Filler {filled}", queue=True)
            except Conflict:
                break
            filled += 1
        assert 52 <= filled <= 53
        asset = attachments.upload(io.BytesIO(png_bytes()), "red.png", "The upload's own description")
        pages_before = db.session.scalar(sqlalchemy.select(sqlalchemy.func.count()).select_from(Page))
        with pytest.raises(Conflict, match="is taken"):
            schedules.compose("One too many", [asset.id], queue=True,
                              descriptions={asset.id: "A description typed while composing"})
        db.session.expire_all()
        assert db.session.scalar(sqlalchemy.select(sqlalchemy.func.count()).select_from(Page)) == pages_before
        assert attachments.get_attachment(asset.id).alt_text == "The upload's own description"
