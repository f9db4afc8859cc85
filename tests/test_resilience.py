"""Breaking things on purpose: killed workers, a wiped Redis, two schedulers,
many processes against one provider limit, and the supervisor."""

import os
import signal
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pagesite import queueing
from pagesite.tickets import Ticket

from conftest import wait_until
from scheduling_helpers import (
    FAST, add_schedules, get, in_app, logs_for, max_overlap, published_once, wait_all, wait_ready,
)

pytestmark = pytest.mark.usefixtures("bind_app")


def claims_of(proc):
    """(schedule id, idempotency key) of the schedules ``proc`` has claimed and not finished."""
    from pagesite.extensions import db
    from pagesite.models import Schedule

    with in_app():
        rows = db.session.scalars(
            select(Schedule).where(Schedule.status == "publishing", Schedule.claimed_by.like(f"%:{proc.pid}:%"))
        ).all()
        return [(s.id, s.idempotency_key) for s in rows]


def assert_each_published_once(ids, records):
    keys = {get(i).idempotency_key for i in ids}
    counts = published_once(records)
    assert set(counts) == keys and set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}


def test_workers_killed_mid_publish_lose_nothing_and_post_nothing_twice(processes, outbox):
    env = {**FAST, "PAGESITE_STUB_DELAY_MS": "300", "PAGESITE_CHANNEL_CONCURRENCY": "8"}
    processes.scheduler(env=env)
    first, second, survivor = (processes.worker(env=env) for _ in range(3))
    wait_ready(3)
    ids = add_schedules(40, text="Crash")

    # Kill one worker while it holds a claim (the provider may not have been called yet)...
    wait_until(lambda: claims_of(first), timeout=10, interval=0.01, message="a claim by the first worker")
    processes.kill(first)

    # ...and one after the provider published but before the worker recorded it.
    def provider_acted():
        published = published_once(outbox())
        return [claim for claim in claims_of(second) if claim[1] in published]

    wait_until(provider_acted, timeout=10, interval=0.01, message="a published, unrecorded claim")
    processes.kill(second)
    interrupted = claims_of(first) + claims_of(second)  # frozen: their workers are dead
    acted_before_death = [key for _, key in interrupted if key in published_once(outbox())]
    assert interrupted and acted_before_death

    processes.worker(env=env)
    processes.worker(env=env)
    took = wait_all("published", len(ids), timeout=30)
    print(f"crash: the rest of the batch published {took:.1f} s after the kills")

    records = outbox()
    assert_each_published_once(ids, records)
    for schedule_id, key in interrupted:
        schedule = get(schedule_id)
        entries = logs_for(schedule_id)
        assert entries[0].status == "failed" and "interrupted" in entries[0].error
        assert entries[-1].status == "published" and schedule.attempts == len(entries)
        if key in acted_before_death:
            # The retry got the provider's original answer, not a second post.
            outcomes = [r["outcome"] for r in records if r["idempotency_key"] == key]
            assert outcomes == ["published", "duplicate"]
            original = next(r["external_id"] for r in records if r["idempotency_key"] == key)
            assert schedule.external_id == original
    for schedule_id in set(ids) - {i for i, _ in interrupted}:
        assert [e.status for e in logs_for(schedule_id)][-1] == "published"


def test_redis_wiped_the_reconciler_brings_every_schedule_back(processes, outbox, app):
    from pagesite.extensions import get_redis
    from pagesite.timeutil import utcnow

    processes.scheduler(env=FAST)
    wait_ready(0)
    due = add_schedules(10, text="Due")  # on the queue: no worker yet
    when = utcnow() + timedelta(seconds=2.5)
    future = add_schedules(15, text="Later", when=when)  # in rq-scheduler
    with in_app():
        redis, queue, scheduler = get_redis(), queueing.get_job_queue(), queueing.get_scheduler()
    assert queue.count >= 10 and redis.zcard(scheduler.scheduled_jobs_key) >= 15

    # What losing Redis's data (a restart without persistence, FLUSHALL) looks
    # like to pagesite. FLUSHDB of this test run's own database only: other
    # databases on the server are not ours.
    assert redis.connection_pool.connection_kwargs["db"] == int(app.config["REDIS_URL"].rsplit("/", 1)[1])
    redis.flushdb()
    assert queue.count == 0 and redis.zcard(scheduler.scheduled_jobs_key) == 0

    # The running scheduler notices the reconciler is gone and registers it again.
    wait_until(lambda: queueing.RECONCILE_JOB_ID in scheduler, timeout=5, message="the reconciler to come back")
    processes.worker(env=FAST)
    processes.worker(env=FAST)
    wait_all("published", 25, timeout=20)
    assert_each_published_once(due + future, outbox())
    for schedule_id in future:
        assert get(schedule_id).published_at >= when, "published before its time"


def test_two_schedulers_and_duplicate_jobs_publish_a_thousand_schedules_once_each(processes, outbox):
    from pagesite.extensions import db, get_redis
    from pagesite.models import PublishLog, Schedule
    from pagesite.timeutil import utcnow

    processes.scheduler(env=FAST)
    processes.scheduler(env=FAST)
    for _ in range(3):
        processes.worker(env=FAST)
    wait_ready(3)

    started = time.monotonic()
    # Setup takes seconds on a loaded machine (a parallel test run); jobs leave the
    # scheduler its lead ahead of their time.
    when = utcnow() + timedelta(seconds=25)
    ids = add_schedules(1000, text="Thousand", when=when)
    with in_app():
        redis, queue = get_redis(), queueing.get_job_queue()
        still_scheduled = {j.decode() for j in redis.zrange("rq:scheduler:scheduled_jobs", 0, -1)}
        in_time = utcnow() < when - timedelta(seconds=queueing.lead_seconds())
        job_ids = [queueing.publish_job_id(Ticket.of(s)) for s in db.session.scalars(select(Schedule).where(Schedule.id.in_(ids)))]
    print(f"1,000 schedules inserted and dispatched in {time.monotonic() - started:.2f} s")
    assert in_time, "setup too slow: the schedules came due before they were all dispatched"
    assert set(job_ids) <= still_scheduled

    # rq-scheduler's lock has no owner token: once a pass outlives it, a second
    # scheduler runs too. Delete it all the time so both move jobs at once.
    stop = threading.Event()

    def steal_lock():
        while not stop.is_set():
            redis.delete("rq:scheduler_lock")
            time.sleep(0.005)

    thief = threading.Thread(target=steal_lock, daemon=True)
    thief.start()
    try:
        time.sleep(max(0.0, (when - utcnow()).total_seconds()))
        # And every job moved to the queue twice, as two schedulers racing would.
        redis.rpush(queue.key, *job_ids)
        took = wait_all("published", 1000, timeout=120)
    finally:
        stop.set()
        thief.join()
    print(f"1,000 schedules published {took:.1f} s after they came due")

    records = outbox()
    assert len(records) == 1000, "the provider was called more than once for some schedule"
    assert_each_published_once(ids, records)
    with in_app():
        attempts = db.session.execute(select(func.max(Schedule.attempts), func.count(PublishLog.id))
                                      .select_from(Schedule).join(PublishLog, isouter=True)).one()
    assert tuple(attempts) == (1, 1000)


@pytest.mark.parametrize("limit", [1, 3])
def test_provider_limit_holds_across_worker_processes(processes, outbox, limit):
    env = {**FAST, "PAGESITE_STUB_DELAY_MS": "250", "PAGESITE_CHANNEL_CONCURRENCY": str(limit)}
    processes.scheduler(env=env)
    for _ in range(4):
        processes.worker(env=env)
    wait_ready(4)
    ids = add_schedules(12, text="Limited")
    wait_all("published", 12, timeout=20)
    records = outbox()
    assert len(records) == 12 and {r["schedule_id"] for r in records} == set(ids)
    # Four processes wanted to publish at once; the limit let exactly this many.
    assert max_overlap(records) == limit


def test_provider_limit_after_a_redis_wipe_is_at_most_twice_the_cap_until_calls_in_flight_end(
        processes, outbox, app):
    """The README's bound: the slots live in Redis, so a wipe forgets the calls
    in flight (at most the cap); new calls take fresh slots, so up to twice the
    cap overlap until those calls end, and then the cap holds again."""
    from pagesite.extensions import get_redis
    from pagesite.models import Channel

    limit = 2
    env = {**FAST, "PAGESITE_STUB_DELAY_MS": "3000", "PAGESITE_CHANNEL_CONCURRENCY": str(limit)}
    processes.scheduler(env=env)
    for _ in range(2 * limit):
        processes.worker(env=env)
    wait_ready(2 * limit)
    ids = add_schedules(4 * limit, text="Capped")
    with in_app():
        from pagesite.extensions import db
        redis = get_redis()
        stub = db.session.scalar(select(Channel.id).where(Channel.provider == "stub").order_by(Channel.id))
    slots = f"pagesite:slots:channel-{stub}"
    # The cap is full, the calls are under way (the stub writes its outbox line
    # halfway through a call), and the other workers wait for a slot.
    wait_until(lambda: len(outbox()) == limit, timeout=15, message=f"{limit} calls under way")
    assert redis.zcard(slots) == limit
    assert redis.connection_pool.connection_kwargs["db"] == int(app.config["REDIS_URL"].rsplit("/", 1)[1])
    wiped_at = time.time()
    redis.flushdb()  # this run's own Redis database only
    wait_all("published", 4 * limit, timeout=60)

    records = outbox()
    assert_each_published_once(ids, records)
    in_flight = [r for r in records if r["call_started"] < wiped_at]
    assert len(in_flight) == limit
    # The waiting workers took the forgotten slots at once: exactly twice the cap...
    assert max_overlap(records) == 2 * limit
    # ...and once the calls in flight at the wipe had ended, never more than the cap.
    settled = max(r["call_ends"] for r in in_flight)
    later = [r["call_started"] for r in records if r["call_started"] >= settled]
    assert later, "no call started after the calls in flight at the wipe ended"
    assert max(sum(r["call_started"] <= t < r["call_ends"] for r in records) for t in later) <= limit


def test_supervisor_runs_the_configured_workers_and_restarts_a_dead_one(processes, outbox):
    from pagesite import heartbeats
    from pagesite.extensions import get_redis

    with in_app():
        redis = get_redis()
    supervisor = processes.start(sys.executable, "worker.py",
                                 env={**FAST, "PAGESITE_WORKER_PROCESSES": "3"}, name="supervisor")
    wait_ready(3)
    workers = wait_until(lambda: (ages := heartbeats.worker_ages(redis)) and len(ages) == 3 and ages,
                         message="three worker heartbeats")
    ids = add_schedules(10, text="Supervised")
    wait_all("published", 10, timeout=15)

    victim = next(iter(workers))
    os.kill(int(victim.split(":")[2]), signal.SIGKILL)
    wait_until(lambda: len(set(heartbeats.worker_ages(redis)) - set(workers)) == 1, timeout=15,
               message="a replacement worker")
    wait_until(lambda: victim not in heartbeats.worker_ages(redis), timeout=5, message="the dead mark to expire")
    assert len(heartbeats.worker_ages(redis)) == 3

    more = add_schedules(5, text="After restart")
    wait_all("published", 15, timeout=15)
    assert_each_published_once(ids + more, outbox())

    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=15) == 0
    children = [int(w.split(":")[2]) for w in heartbeats.worker_ages(redis)]
    for pid in children:
        wait_until(lambda: not _alive(pid), timeout=10, message=f"worker {pid} to stop")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_worker_killed_while_waiting_for_a_provider_slot(processes, outbox):
    """Its job stays "started" in RQ while the schedule is still queued: the
    reconciler sees that the job's worker is dead and enqueues it again."""
    from pagesite.extensions import get_redis
    from pagesite.limits import ChannelSlots

    env = {**FAST, "PAGESITE_CHANNEL_CONCURRENCY": "1"}
    with in_app():
        redis = get_redis()
    slots = ChannelSlots(redis, 1, 1, lease_seconds=60)  # the stub channel
    held = slots.acquire(wait_seconds=0)  # the only slot, taken elsewhere
    processes.scheduler(env=env)
    waiting = processes.worker(env=env)
    wait_ready(1)
    [schedule_id] = add_schedules(1, text="Patient")
    job_id = queueing.publish_job_id(Ticket.of(get(schedule_id)))
    wait_until(lambda: redis.hget(f"rq:job:{job_id}", "status") == b"started", timeout=5, message="job started")
    assert get(schedule_id).status == "queued"  # not claimed: it waits for the slot
    processes.kill(waiting)
    slots.release(held)

    processes.worker(env=env)
    wait_all("published", 1, timeout=15)
    assert [r["outcome"] for r in outbox()] == ["published"] and get(schedule_id).attempts == 1


def test_a_killed_worker_gives_its_provider_slot_back_before_the_lease_ends(processes, outbox):
    """With a limit of 1, the slot of a worker killed mid-call would stay taken
    for the whole lease (PUBLISH_TIMEOUT + 10 s); the reconciler frees it once
    the worker's heartbeat is gone."""
    from pagesite.extensions import get_redis

    env = {**FAST, "PAGESITE_CHANNEL_CONCURRENCY": "1"}
    processes.scheduler(env=env)
    slow = processes.worker(env={**env, "PAGESITE_STUB_DELAY_MS": "4000"})
    wait_ready(1)
    [schedule_id] = add_schedules(1, text="Cut short")
    with in_app():
        redis = get_redis()
    wait_until(lambda: claims_of(slow), timeout=5, interval=0.01, message="the claim")
    assert redis.zcard("pagesite:slots:channel-1") == 1
    processes.kill(slow)  # mid-call: the stub has not answered yet
    killed_at = time.monotonic()

    processes.worker(env=env)
    wait_all("published", 1, timeout=15)
    took = time.monotonic() - killed_at
    assert took < 10, f"published {took:.1f} s after the kill: the dead worker's slot was not freed early"
    assert [e.status for e in logs_for(schedule_id)] == ["failed", "published"]
    assert_each_published_once([schedule_id], outbox())
