"""Schedules through real scheduler and worker processes: on time, once, with
retries, and the claim and backoff rules underneath."""

import signal
import threading
import time
from datetime import datetime, timedelta

import pytest

from pagesite import jobs, queueing
from pagesite.tickets import Ticket

from conftest import wait_until
from scheduling_helpers import (
    make_page, schedule_page, start, wait_status,
    add_schedules, attempt_lines, get, in_app, logs_for, max_overlap, seconds, wait_all, wait_jobs_done, wait_ready,
    wait_settled,
)

pytestmark = pytest.mark.usefixtures("bind_app")


# --- The claim and the backoff, without processes -------------------------------------------


def test_two_claims_one_wins(app):
    from pagesite.extensions import db
    from pagesite.services import publishing

    [schedule_id] = add_schedules(1, dispatch=False)
    barrier = threading.Barrier(2)
    results = {}

    def claim(name):
        with app.app_context():
            barrier.wait()
            results[name] = publishing.claim(schedule_id, name)
            db.session.commit()  # in case the claim leaves the commit to its caller

    threads = [threading.Thread(target=claim, args=(f"worker:test:{n}",)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [False, True]
    winner = next(name for name, won in results.items() if won)
    schedule = get(schedule_id)
    assert (schedule.status, schedule.attempts, schedule.claimed_by) == ("publishing", 1, winner)
    # And a third claim, later, finds nothing to take.
    with in_app():
        assert publishing.claim(schedule_id, "worker:test:3") is False


def test_claim_refuses_what_is_not_queued_and_due(client):
    from pagesite.services import publishing
    from pagesite.timeutil import utcnow

    [future] = add_schedules(1, when=utcnow() + timedelta(minutes=5), dispatch=False)
    [due] = add_schedules(1, dispatch=False)
    response = client.post(f"/api/schedules/{due}/cancel")
    assert response.status_code == 200, response.get_json()
    with in_app():
        assert publishing.claim(future, "worker:test") is False
        assert publishing.claim(due, "worker:test") is False
    assert get(due).status == "canceled" and get(future).status == "queued"


def test_a_job_that_cannot_claim_does_nothing(client, outbox):
    """Duplicates, late jobs of canceled schedules, jobs fired early: no provider call, no log row."""
    from pagesite.extensions import db
    from pagesite.services import publishing
    from pagesite.timeutil import utcnow

    taken, canceled = add_schedules(2, dispatch=False)
    assert client.post(f"/api/schedules/{canceled}/cancel").status_code == 200
    [early] = add_schedules(1, when=utcnow() + timedelta(minutes=5), dispatch=False)
    with in_app():
        assert publishing.claim(taken, "worker:elsewhere")
        db.session.commit()
        for schedule_id in (taken, canceled, early):
            assert jobs.publish(schedule_id) == "skipped"
        assert jobs.publish(10**9) == "skipped"  # a schedule deleted since
    for schedule_id in (taken, canceled, early):
        assert logs_for(schedule_id) == []
    assert outbox() == []
    assert get(taken).attempts == 1 and get(early).attempts == 0


def test_backoff_is_exponential_capped_and_jittered():
    from pagesite.services.publishing import backoff_seconds

    config = {"RETRY_BASE_SECONDS": 10, "RETRY_MAX_SECONDS": 3600}
    for attempt in range(1, 15):
        ceiling = min(3600, 10 * 2 ** (attempt - 1))
        samples = [backoff_seconds(attempt, config) for _ in range(300)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples), attempt
        assert len(set(samples)) > 250, "no jitter"  # workers retrying together spread out
        # Both halves of the range are used: the jitter is not a token few per cent.
        assert min(samples) < ceiling * 0.6 and max(samples) > ceiling * 0.9
    assert backoff_seconds(1, config) <= 10 and backoff_seconds(30, config) <= 3600


# --- Real processes ---------------------------------------------------------------------


def test_immediate_schedule_is_published_and_logged(client, processes, outbox):
    [worker] = start(processes)
    page_id = make_page(client, "Right now")
    created = schedule_page(client, page_id)
    assert created["status"] == "queued"

    done = wait_status(created["id"], "published", timeout=10)
    assert done.attempts == 1 and done.external_id.startswith("stub-") and done.last_error is None
    page = client.get(f"/api/pages/{page_id}").get_json()
    assert page["status"] == "published"
    [entry] = logs_for(done.id)
    assert (entry.status, entry.attempt, entry.external_id) == ("published", 1, done.external_id)
    assert [(r["idempotency_key"], r["outcome"]) for r in outbox()] == [(done.idempotency_key, "published")]

    # One structured line per attempt, in the worker process's own output.
    lines = wait_until(lambda: attempt_lines(worker), timeout=5, message="the publish_attempt log line")
    [line] = [entry for entry in lines if entry["schedule_id"] == done.id]
    assert line["attempt"] == 1 and line["outcome"] == "published"
    assert isinstance(line["duration_ms"], int) and line["duration_ms"] >= 0


def test_future_schedule_waits_for_its_time(client, processes, outbox):
    from pagesite.timeutil import utcnow

    start(processes)
    page_id = make_page(client)
    when = utcnow() + timedelta(seconds=1.7)
    created = schedule_page(client, page_id, when)
    with in_app():
        # Waiting in rq-scheduler, not on the queue.
        assert queueing.publish_job_id(Ticket.of(get(created["id"]))) in queueing.get_scheduler()

    time.sleep(max(0.0, seconds(when - utcnow()) - 0.3))
    assert get(created["id"]).status == "queued" and outbox() == [], "published before its time"

    done = wait_status(created["id"], "published", timeout=10)
    [record] = outbox()
    assert record["call_started"] >= when.timestamp(), "the provider was called before the scheduled time"
    assert done.published_at >= when
    lateness = seconds(done.published_at - when)
    assert lateness < 1.5, f"published {lateness:.2f} s late"


def test_queued_pages_are_all_processed(client, processes, outbox):
    start(processes, workers=2)
    ids = add_schedules(25, text="Batch")
    wait_all("published", 25, timeout=20)
    for schedule_id in ids:
        schedule = get(schedule_id)
        assert schedule.attempts == 1 and schedule.published_at and schedule.external_id
        assert [log.status for log in logs_for(schedule_id)] == ["published"]
        assert client.get(f"/api/pages/{schedule.page_id}").get_json()["status"] == "published"
    records = outbox()
    assert sorted(r["schedule_id"] for r in records) == sorted(ids)
    assert {r["outcome"] for r in records} == {"published"}


def test_flaky_provider_is_retried_with_backoff(client, processes, outbox):
    start(processes)
    created = schedule_page(client, make_page(client, "Sometimes [stub:flaky] fails"))
    done = wait_status(created["id"], "published", timeout=10)
    assert done.attempts == 2 and done.last_error is None
    first, second = logs_for(done.id)
    assert (first.attempt, first.status, second.attempt, second.status) == (1, "failed", 2, "published")
    assert "[stub:flaky]" in first.error
    failed, published = outbox()
    assert failed["idempotency_key"] == published["idempotency_key"] == done.idempotency_key
    assert (failed["outcome"], published["outcome"]) == ("failed", "published")
    # RETRY_BASE_SECONDS=0.2 in the tests: the first backoff is 0.1-0.2 s.
    gap = published["call_started"] - failed["call_ends"]
    assert gap >= 0.1, f"retried after {gap:.3f} s, sooner than the backoff allows"
    # The retry's job carried when the first attempt started (its claim, just before its call).
    assert failed["last_attempt_at"] is None
    previous = datetime.fromisoformat(published["last_attempt_at"].replace("Z", "+00:00")).timestamp()
    assert 0 <= failed["call_started"] - previous < 1, (previous, failed["call_started"])


def test_permanent_failure_fails_after_one_attempt(client, processes, outbox):
    start(processes)
    created = schedule_page(client, make_page(client, "Never [stub:fail]"))
    done = wait_status(created["id"], "failed", timeout=10)
    wait_settled(done.id)  # and nothing else will happen: no retry waits
    shown = client.get(f"/api/schedules/{done.id}").get_json()
    assert shown["status"] == "failed" and shown["attempts"] == 1
    assert "rejected by [stub:fail]" in shown["last_error"]
    [entry] = logs_for(done.id)
    assert entry.status == "failed" and "rejected" in entry.error
    assert [r["outcome"] for r in outbox()] == ["failed"]


def test_retries_stop_at_the_maximum(client, processes, outbox, app):
    start(processes)
    maximum = app.config["PUBLISH_MAX_ATTEMPTS"]
    assert maximum == 5  # the default
    created = schedule_page(client, make_page(client, "The provider is [stub:down]"))
    done = wait_status(created["id"], "failed", timeout=20)
    wait_settled(done.id)  # no attempt beyond the maximum waits
    done = get(done.id)
    assert done.attempts == maximum and "[stub:down]" in done.last_error
    entries = logs_for(done.id)
    assert [(e.attempt, e.status) for e in entries] == [(n, "failed") for n in range(1, maximum + 1)]
    records = outbox()
    assert len(records) == maximum and {r["idempotency_key"] for r in records} == {done.idempotency_key}
    # Each wait at least the lower bound of its backoff step: base * 2^(n-1) / 2.
    for n, (before, after) in enumerate(zip(records, records[1:]), start=1):
        assert after["call_started"] - before["call_ends"] >= 0.2 * 2 ** (n - 1) / 2 - 0.01, n


def test_timeout_of_unknown_outcome_is_retried_with_the_same_key(client, processes, outbox):
    """The provider published but answered too late: the retry gets ``duplicate``, not a second post."""
    start(processes, env={"PAGESITE_PUBLISH_TIMEOUT": "1", "PAGESITE_CHANNEL_CONCURRENCY": "1"})
    created = schedule_page(client, make_page(client, "Takes its time [stub:slow]"))
    done = wait_status(created["id"], "published", timeout=15)
    first, second = logs_for(done.id)
    assert first.status == "failed" and "outcome is unknown" in first.error
    assert second.status == "published" and done.attempts == 2
    records = outbox()
    assert [r["outcome"] for r in records] == ["published", "duplicate"]
    assert {r["idempotency_key"] for r in records} == {done.idempotency_key}
    assert done.external_id == records[0]["external_id"] == records[1]["external_id"]
    # The late call kept its provider slot until it really ended: with a limit
    # of 1, the retry waited for it.
    assert max_overlap(records) == 1


def test_cancel_racing_the_due_time_never_reaches_the_provider(client, processes, outbox):
    from pagesite.timeutil import utcnow

    start(processes)
    with in_app():
        queue = queueing.get_job_queue()
    # The early cancels are sent well ahead (a loaded machine answers slowly); the
    # later ones reach the due time itself, where either outcome may happen.
    offsets = [-0.5, -0.3, -0.15, 0.0, 0.01, 0.03, 0.08]
    page_ids = [make_page(client, f"Race {n}") for n in range(len(offsets))]
    base = utcnow() + timedelta(seconds=1.5)
    planned = []
    for n, (page_id, offset) in enumerate(zip(page_ids, offsets)):
        when = base + timedelta(seconds=0.5 * n)
        planned.append((schedule_page(client, page_id, when)["id"], when, offset))

    outcomes, late_jobs = {}, []
    for schedule_id, when, offset in planned:
        time.sleep(max(0.0, seconds(when - utcnow()) + offset))
        old_job = queueing.publish_job_id(Ticket.of(get(schedule_id)))
        response = client.post(f"/api/schedules/{schedule_id}/cancel")
        outcomes[schedule_id] = response.status_code
        if response.status_code == 200:
            # Its old job fires anyway (a scheduler moved it just before): still nothing.
            queue.push_job_id(old_job)
            queue.enqueue(queueing.PUBLISH, schedule_id, job_id=old_job + "-late")
            late_jobs.append(old_job + "-late")
        else:
            assert response.status_code == 409, response.get_json()

    wait_jobs_done(late_jobs)  # the jobs that fired anyway have run (and must have done nothing)
    canceled = [s for s, code in outcomes.items() if code == 200]
    assert set(canceled) >= {planned[n][0] for n in range(3)}, outcomes  # the early cancels always win
    called = {r["schedule_id"] for r in outbox()}
    for schedule_id in canceled:
        assert get(schedule_id).status == "canceled"
        assert schedule_id not in called and logs_for(schedule_id) == []
    for schedule_id in set(outcomes) - set(canceled):
        assert wait_status(schedule_id, "published").attempts == 1


def test_reschedule_moves_the_job_and_the_old_one_does_nothing(client, processes, outbox):
    from pagesite.timeutil import utcnow

    start(processes)
    with in_app():
        scheduler, queue = queueing.get_scheduler(), queueing.get_job_queue()
    earlier = schedule_page(client, make_page(client, "Moved earlier"), utcnow() + timedelta(hours=1))
    old_later = utcnow() + timedelta(seconds=2)
    later = schedule_page(client, make_page(client, "Moved later"), old_later)
    old_jobs = {s["id"]: queueing.publish_job_id(Ticket.of(get(s["id"]))) for s in (earlier, later)}
    old_args = {s["id"]: queueing.publish_job_args(Ticket.of(get(s["id"]))) for s in (earlier, later)}

    # Seconds of room: the new jobs must still be waiting in the scheduler when
    # checked, after two PATCHes on a machine that may be busy.
    new_times = {earlier["id"]: utcnow() + timedelta(seconds=5), later["id"]: utcnow() + timedelta(seconds=7)}
    for schedule_id, when in new_times.items():
        response = client.patch(f"/api/schedules/{schedule_id}", json={"scheduled_at": when.isoformat()})
        assert response.status_code == 200, response.get_json()
        new_job = queueing.publish_job_id(Ticket.of(get(schedule_id)))
        assert old_jobs[schedule_id] not in scheduler and new_job in scheduler
        score = scheduler.connection.zscore(scheduler.scheduled_jobs_key, new_job)
        assert abs(score - when.timestamp()) < 0.01
        # The old job fires anyway, with what it carried for the old time.
        queue.enqueue(queueing.PUBLISH, *old_args[schedule_id], job_id=old_jobs[schedule_id])

    # The old time of "later" has passed: it must still wait. (Its old job held
    # until the old time, then found nothing to claim; the new job publishes.)
    wait_until(lambda: utcnow() > old_later + timedelta(seconds=0.5), message="the old time to pass")
    assert get(later["id"]).status == "queued"
    for schedule_id, when in new_times.items():
        done = wait_status(schedule_id, "published", timeout=10)
        assert done.published_at >= when and done.attempts == 1
    wait_jobs_done(list(old_jobs.values()))
    assert sorted(r["schedule_id"] for r in outbox()) == sorted(new_times)


@pytest.mark.parametrize("action", ["cancel", "reschedule"])
def test_only_queued_schedules_can_be_changed(client, action):
    from pagesite.extensions import db
    from pagesite.services import publishing
    from pagesite.timeutil import utcnow

    [schedule_id] = add_schedules(1, dispatch=False)
    with in_app():
        assert publishing.claim(schedule_id, "worker:test")
        db.session.commit()
    if action == "cancel":
        response = client.post(f"/api/schedules/{schedule_id}/cancel")
    else:
        response = client.patch(f"/api/schedules/{schedule_id}",
                                json={"scheduled_at": (utcnow() + timedelta(hours=1)).isoformat()})
    assert response.status_code == 409
    assert get(schedule_id).status == "publishing"


def test_one_worker_has_several_slow_publishes_in_flight_up_to_the_channel_cap(processes, outbox):
    """A worker hands a slow provider call to a thread of its own and takes its
    next job meanwhile: one process alone fills the channel's cap, and no more."""
    env = {"PAGESITE_STUB_DELAY_MS": "800", "PAGESITE_CHANNEL_CONCURRENCY": "3"}
    start(processes, env=env)
    ids = add_schedules(7, text="Overlapping")
    wait_all("published", 7, timeout=30)
    records = outbox()
    assert sorted(r["schedule_id"] for r in records) == sorted(ids)
    assert max_overlap(records) == 3
    for schedule_id in ids:
        assert [e.status for e in logs_for(schedule_id)] == ["published"]


def test_a_worker_told_to_stop_records_its_publishes_in_flight_first(processes, outbox):
    env = {"PAGESITE_STUB_DELAY_MS": "2000", "PAGESITE_CHANNEL_CONCURRENCY": "4"}
    processes.scheduler(env=env)
    worker = processes.worker(env=env)
    wait_ready(1)
    ids = add_schedules(3, text="Stopping")
    # The stub writes its outbox line halfway through a call: all three are under way.
    wait_until(lambda: len(outbox()) == 3, timeout=15, message="three calls under way")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    for schedule_id in ids:
        assert get(schedule_id).status == "published"
        assert [e.status for e in logs_for(schedule_id)] == ["published"]
    assert max_overlap(outbox()) == 3


def test_only_slow_providers_calls_are_handed_to_threads(app):
    """A call that ends in a few milliseconds is cheaper to wait for than to hand over."""
    from pagesite.services.publishing import InFlight

    in_flight = InFlight(app, 4)
    assert in_flight.worth_handing_over("stub")  # nothing known yet: as if slow
    for _ in range(3):
        in_flight.observe("stub", 1)
    assert not in_flight.worth_handing_over("stub")
    in_flight.observe("stub", 400)  # one slow call tips the average
    assert in_flight.worth_handing_over("stub")
    for _ in range(30):
        in_flight.observe("stub", 1)
    assert not in_flight.worth_handing_over("stub")
    assert in_flight.worth_handing_over("mastodon")  # each provider on its own
