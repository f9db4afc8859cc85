"""Never a blind repeat: on a network without idempotency (Telegram, Discord),
an attempt whose outcome is unknown is not sent again by itself, whether the
answer was lost or the worker vanished. The schedule fails as "may have been
published", and the person chooses Mark as published or Send again.

Through the real publish path (``publishing.publish_schedule``, as a worker's
job runs it) to the servers written from each network's documentation
(tests/networks/telegram_shaped.py, discord_shaped.py).
"""

import threading

import pytest

from conftest import wait_until
from helpers import sign_in
from networks.discord_shaped import DiscordShaped
from networks.slow_answers import SlowAnswers
from networks.telegram_shaped import TOKEN, TelegramShaped
from scheduling_helpers import connect_channel, get, in_app, logs_for, page_on_channel

pytestmark = pytest.mark.usefixtures("bind_app")


@pytest.fixture
def telegram():
    with TelegramShaped() as server:
        proxy = SlowAnswers(server.url)  # holds an answer back when told to
        server.proxy = proxy
        try:
            yield server
        finally:
            proxy.close()


def connect_telegram(server):
    return connect_channel("telegram", {"chat": "@pagesite_news", "api_url": server.proxy.url}, {"bot_token": TOKEN},
                           name="News on Telegram")


def publish(schedule_id, **kwargs):
    from pagesite.services import publishing

    with in_app():
        return publishing.publish_schedule(schedule_id, **kwargs).outcome


def unanswered(server, schedule_text, short_timeout):
    """A schedule whose message reached Telegram while its answer did not come back."""
    channel_id = connect_telegram(server)
    page_id, schedule_id = page_on_channel(schedule_text, channel_id)
    server.proxy.hold_next("POST", f"/bot{TOKEN}/sendMessage", short_timeout * 4)
    assert publish(schedule_id) == "failed"
    return page_id, schedule_id


def test_a_lost_answer_is_not_sent_again_and_says_what_to_do(app, client, telegram, short_timeout):
    page_id, schedule_id = unanswered(telegram, "Sent once, answer lost", short_timeout)
    schedule = get(schedule_id)
    assert schedule.status == "failed" and schedule.outcome_unknown and schedule.next_attempt_at is None
    assert schedule.last_error.startswith("May have been published:")
    assert "Telegram offers no way to send a post only once" in schedule.last_error
    assert publish(schedule_id) == "skipped"  # nothing planned, nothing repeated
    wait_until(lambda: len(telegram.messages) == 1, timeout=5, message="the one message")
    assert [m["text"] for m in telegram.messages] == ["Sent once, answer lost"]
    shown = client.get(f"/api/schedules/{schedule_id}").get_json()
    assert shown["status"] == "failed" and shown["outcome_unknown"] is True
    [log] = logs_for(schedule_id)
    assert log.status == "failed" and log.sent["text"] == "Sent once, answer lost"


def test_mark_as_published_keeps_the_link_and_says_so_in_the_log(app, client, telegram, short_timeout):
    _, schedule_id = unanswered(telegram, "Marked by hand", short_timeout)
    refused = client.post(f"/api/schedules/{schedule_id}/mark-published", json={"url": "ftp://t.me/x"})
    assert refused.status_code == 422 and refused.content_type == "application/problem+json"
    assert "url" in refused.get_json()["errors"]
    link = "https://t.me/pagesite_news/101"
    marked = client.post(f"/api/schedules/{schedule_id}/mark-published", json={"url": link})
    assert marked.status_code == 200, marked.get_json()
    body = marked.get_json()
    assert body["status"] == "published" and body["url"] == link and body["outcome_unknown"] is False
    assert body["last_error"] is None and body["published_at"].endswith("Z")
    failed, published = logs_for(schedule_id)
    assert published.status == "published" and "by hand" in published.notes[0] and published.sent is None
    again = client.post(f"/api/schedules/{schedule_id}/mark-published", json={})
    assert again.status_code == 409 and again.get_json()["schedule_status"] == "published"
    assert len(telegram.messages) == 1


def test_send_again_is_the_persons_choice_and_posts_once_more(app, client, telegram, short_timeout):
    _, schedule_id = unanswered(telegram, "Sent again on purpose", short_timeout)
    assert client.post(f"/api/schedules/{schedule_id}/retry").status_code == 200
    assert publish(schedule_id) == "published"
    assert [m["text"] for m in telegram.messages] == ["Sent again on purpose"] * 2
    assert get(schedule_id).url == f"https://t.me/pagesite_news/{telegram.messages[1]['message_id']}"


def test_a_vanished_worker_on_telegram_is_not_rescued_into_a_repeat(app, telegram):
    from pagesite.services import publishing

    channel_id = connect_telegram(telegram)
    _, schedule_id = page_on_channel("The worker went quiet", channel_id)
    telegram.proxy.hold_next("POST", f"/bot{TOKEN}/sendMessage", 3)
    outcome = {}

    def silent_worker():  # a claimer with no heartbeat: the reconciler takes it for dead
        outcome["value"] = publish(schedule_id, claimed_by="worker:gone:1:abc")

    thread = threading.Thread(target=silent_worker)
    saved_ttl = app.config["HEARTBEAT_TTL"]
    app.config["HEARTBEAT_TTL"] = 0.2
    try:
        thread.start()
        wait_until(lambda: telegram.messages, timeout=5, message="the message on Telegram")
        wait_until(lambda: get(schedule_id).claimed_at is not None, timeout=5, message="the claim")
        with app.app_context():
            wait_until(lambda: publishing.reconcile()["rescued"] == 1, timeout=5, message="the rescue")
    finally:
        app.config["HEARTBEAT_TTL"] = saved_ttl
    rescued = get(schedule_id)
    assert rescued.status == "failed" and rescued.outcome_unknown and rescued.next_attempt_at is None
    assert "interrupted" in rescued.last_error and "Mark as published" in rescued.last_error
    assert publish(schedule_id) == "skipped"
    thread.join(10)
    assert outcome["value"] == "published"  # the late answer is the truth, recorded
    assert get(schedule_id).status == "published" and len(telegram.messages) == 1


def test_a_rate_limit_is_a_known_refusal_and_is_retried_after_discords_wait(app):
    from pagesite.services import channels

    with DiscordShaped() as discord:
        with in_app():
            channel, _ = channels.create_channel("discord", "Our Discord", {}, {"webhook_url": discord.webhook_url})
        _, schedule_id = page_on_channel("After the wait", channel.id)
        discord.rate_limited = 1
        assert publish(schedule_id) == "retrying"
        waiting = get(schedule_id)
        assert waiting.status == "queued" and not waiting.outcome_unknown
        assert 2.0 <= (waiting.next_attempt_at - waiting.claimed_at).total_seconds() <= 4
        assert discord.messages == []


def test_the_list_says_it_may_have_been_published_and_offers_both_choices(app, telegram, short_timeout, user):
    _, schedule_id = unanswered(telegram, "Which one?", short_timeout)
    web = app.test_client()
    sign_in(web, app, user)
    html = web.get("/schedules").get_data(as_text=True)
    assert "May have been published" in html
    assert f'id="retry-{schedule_id}"' in html and "Send again" in html
    assert f'id="mark-url-{schedule_id}"' in html
