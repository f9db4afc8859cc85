"""Matrix, Nostr and Telegram end to end: channels connected through the
channels service, published by real worker processes, each worker SIGKILLed
after the network acted and before pagesite heard back (a proxy holds the
answer). Matrix and Nostr deduplicate, so the next worker's retry leaves one
post (read back from Synapse and from the relay); Telegram does not, so
nothing is sent again and the schedule waits for the person."""

import pytest

from conftest import wait_until
from networks.slow_answers import SlowAnswers, SlowRelay
from networks.telegram_shaped import TOKEN, TelegramShaped
from scheduling_helpers import FAST, connect_channel, get, in_app, logs_for, page_on_channel, wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("bind_app")]
SLOW_CALLS = {"PAGESITE_PUBLISH_TIMEOUT": "30"}  # answers are held for 20 s: the kill comes first


def connect(provider, settings, credentials):
    """(channel id, its settings as connecting left them)."""
    from pagesite.extensions import db
    from pagesite.models import Channel

    channel_id = connect_channel(provider, settings, credentials)
    with in_app():
        return channel_id, db.session.get(Channel, channel_id).settings


def schedule_text(text, channel_id):
    return page_on_channel(text, channel_id)[1]


def scheduler_and_victim(processes):
    """A scheduler, and the worker the test will kill once the network has acted."""
    processes.scheduler(env=FAST)
    victim = processes.worker(env={**FAST, **SLOW_CALLS})
    wait_ready(1)
    return victim


def test_a_worker_killed_after_synapse_made_the_event_leaves_one(app, processes, synapse):
    owner, poster = synapse.register(), synapse.register()
    room_id = synapse.create_room(owner, alias=f"e2e{poster.name}")
    proxy = SlowAnswers(synapse.url)
    try:
        channel_id, settings = connect("matrix", {"homeserver_url": proxy.url, "room": room_id},
                                       {"access_token": poster.token})
        victim = scheduler_and_victim(processes)
        proxy.hold_next("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/*", 20)
        schedule_id = schedule_text("One event, whatever happens", channel_id)
        wait_until(lambda: synapse.messages(room_id, owner), timeout=20, interval=0.05, message="the event")
        processes.kill(victim)
        assert get(schedule_id).status == "publishing"
        processes.worker(env={**FAST, **SLOW_CALLS})
        wait_until(lambda: get(schedule_id).status == "published", timeout=30, message="published by the new worker")
        [event] = synapse.messages(room_id, owner)
        assert event["content"]["body"] == "One event, whatever happens"
        assert get(schedule_id).external_id == event["event_id"]
        assert [e.status for e in logs_for(schedule_id)] == ["failed", "published"]
    finally:
        proxy.close()


def test_a_worker_killed_after_the_relay_took_the_note_leaves_one(app, processes, nostr_relay):
    proxy = SlowRelay(nostr_relay.url)
    try:
        channel_id, settings = connect("nostr", {"relays": proxy.url}, {})
        victim = scheduler_and_victim(processes)
        proxy.hold_next_ok(20)
        schedule_id = schedule_text("One note, whatever happens", channel_id)
        wait_until(lambda: nostr_relay.events(authors=[settings["pubkey"]]), timeout=20, interval=0.05,
                   message="the note on the relay")
        processes.kill(victim)
        processes.worker(env={**FAST, **SLOW_CALLS})
        wait_until(lambda: get(schedule_id).status == "published", timeout=30, message="published by the new worker")
        [event] = nostr_relay.events(authors=[settings["pubkey"]])
        assert event["content"] == "One note, whatever happens" and get(schedule_id).external_id == event["id"]
    finally:
        proxy.close()


def test_a_worker_killed_after_telegram_posted_is_never_sent_again(app, processes, client):
    with TelegramShaped() as telegram:
        proxy = SlowAnswers(telegram.url)
        try:
            channel_id, _ = connect("telegram", {"chat": "@pagesite_news", "api_url": proxy.url}, {"bot_token": TOKEN})
            victim = scheduler_and_victim(processes)
            proxy.hold_next("POST", f"/bot{TOKEN}/sendMessage", 20)
            schedule_id = schedule_text("Posted once; the rest is yours", channel_id)
            wait_until(lambda: telegram.messages, timeout=20, interval=0.05, message="the message on Telegram")
            processes.kill(victim)
            processes.worker(env={**FAST, **SLOW_CALLS})
            wait_until(lambda: get(schedule_id).status == "failed", timeout=30, message="rescued as failed")
            rescued = get(schedule_id)
            assert rescued.outcome_unknown and rescued.last_error.startswith("May have been published")
            assert len(telegram.messages) == 1
            marked = client.post(f"/api/schedules/{schedule_id}/mark-published",
                                 json={"url": f"https://t.me/pagesite_news/{telegram.messages[0]['message_id']}"})
            assert marked.status_code == 200 and marked.get_json()["status"] == "published"
            assert len(telegram.messages) == 1
        finally:
            proxy.close()
