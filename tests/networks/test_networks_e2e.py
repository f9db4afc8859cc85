"""Bluesky and Mastodon channels end to end: connected through the channels
service, published by real worker processes to the real peers (the reference
PDS, mastodon-mock), including a worker killed between the network's answer
and our commit."""

import io
import time

import pytest

from conftest import wait_until
from helpers import sign_in
from networks.conftest import image_bytes, unsigned_jwt
from networks.slow_answers import SlowAnswers
from scheduling_helpers import FAST, get, in_app, logs_for, wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("bind_app")]
SLOW_CALLS = {"PAGESITE_PUBLISH_TIMEOUT": "30"}  # requests may take 10 s: the kill comes first


def connect(provider, settings, credentials, name=None):
    from pagesite.services import channels

    with in_app():
        channel, _ = channels.create_channel(provider, name or f"My {provider}", settings, credentials)
        return channel.id


def page_with_two_images(text):
    from pagesite.services import attachments, pages

    with in_app():
        first = attachments.upload(io.BytesIO(image_bytes(900, 600)), "red.png", "A red rectangle, wide")
        second = attachments.upload(io.BytesIO(image_bytes(400, 800, fmt="JPEG", color=(10, 10, 200))), "blue.jpg",
                                    "A blue rectangle, tall")
        return pages.create_page(text, [first.id, second.id]).id


def schedule_on(page_id, channel_ids):
    from pagesite.services import schedules

    with in_app():
        return [s.id for s in schedules.create_schedules(page_id, channel_ids, None)]


def channel_status(channel_id):
    from pagesite.extensions import db
    from pagesite.models import Channel

    with in_app():
        channel = db.session.get(Channel, channel_id)
        return channel.status, channel.last_error


def test_one_page_with_two_described_images_goes_to_bluesky_and_mastodon(app, processes, pds, mastodon_mock):
    author = pds.create_account()
    _, token = mastodon_mock.new_account()
    bluesky = connect("bluesky", {"service_url": pds.url},
                      {"identifier": author.handle, "app_password": author.app_password})
    mastodon = connect("mastodon", {"instance_url": mastodon_mock.url, "visibility": "public"},
                       {"access_token": token})
    processes.scheduler()
    processes.worker()
    wait_ready(1)
    text = "Crème brûlée 🍮 at https://example.com/menu #dessert"
    on_bluesky, on_mastodon = schedule_on(page_with_two_images(text), [bluesky, mastodon])
    wait_until(lambda: get(on_bluesky).status == "published" and get(on_mastodon).status == "published",
               timeout=30, message="published on both")

    rkey = get(on_bluesky).url.rsplit("/", 1)[1]
    assert get(on_bluesky).url == f"https://bsky.app/profile/{author.handle}/post/{rkey}"
    record = pds.get_record(author.did, rkey)["value"]
    assert record["text"] == text
    assert [i["alt"] for i in record["embed"]["images"]] == ["A red rectangle, wide", "A blue rectangle, tall"]
    assert [i["aspectRatio"] for i in record["embed"]["images"]] == [{"width": 900, "height": 600},
                                                                     {"width": 400, "height": 800}]
    status = mastodon_mock.api("GET", f"/api/v1/statuses/{get(on_mastodon).external_id}", token=token).json()
    assert get(on_mastodon).url == status["url"]
    assert [m["description"] for m in status["media_attachments"]] == ["A red rectangle, wide",
                                                                       "A blue rectangle, tall"]


def test_a_worker_killed_after_the_pds_posted_leaves_one_record(app, processes, pds):
    author = pds.create_account()
    proxy = SlowAnswers(pds.url)
    try:
        channel_id = connect("bluesky", {"service_url": proxy.url},
                             {"identifier": author.handle, "app_password": author.app_password})
        processes.scheduler(env=FAST)
        victim = processes.worker(env={**FAST, **SLOW_CALLS})
        wait_ready(1)
        proxy.hold_next("POST", "/xrpc/com.atproto.repo.createRecord", 20)
        [schedule_id] = schedule_on(page_with_two_images("Posted once, whatever happens"), [channel_id])
        wait_until(lambda: pds.list_records(author.did), timeout=20, interval=0.02, message="the record on the PDS")
        processes.kill(victim)  # the PDS has the post; its answer never reached the worker
        assert get(schedule_id).status == "publishing"

        processes.worker(env={**FAST, **SLOW_CALLS})
        wait_until(lambda: get(schedule_id).status == "published", timeout=30, message="published by the new worker")
        records = pds.list_records(author.did)
        assert len(records) == 1
        assert get(schedule_id).external_id == records[0]["uri"]
        assert [e.status for e in logs_for(schedule_id)] == ["failed", "published"]
    finally:
        proxy.close()


def test_a_worker_killed_after_mastodon_posted_leaves_one_status(app, processes, mastodon_mock):
    _, token = mastodon_mock.new_account()
    proxy = SlowAnswers(mastodon_mock.url)
    try:
        channel_id = connect("mastodon", {"instance_url": proxy.url}, {"access_token": token})
        processes.scheduler(env=FAST)
        victim = processes.worker(env={**FAST, **SLOW_CALLS})
        wait_ready(1)
        proxy.hold_next("POST", "/api/v1/statuses", 20)
        [schedule_id] = schedule_on(page_with_two_images("One status, whatever happens"), [channel_id])

        def statuses():
            account_id = mastodon_mock.api("GET", "/api/v1/accounts/verify_credentials", token=token).json()["id"]
            return mastodon_mock.api("GET", f"/api/v1/accounts/{account_id}/statuses", token=token).json()

        wait_until(statuses, timeout=20, interval=0.02, message="the status on the instance")
        processes.kill(victim)
        processes.worker(env={**FAST, **SLOW_CALLS})
        wait_until(lambda: get(schedule_id).status == "published", timeout=30, message="published by the new worker")
        posted = statuses()
        assert [s["id"] for s in posted] == [get(schedule_id).external_id]  # the Idempotency-Key's replay
    finally:
        proxy.close()


def test_a_revoked_mastodon_token_marks_the_channel_and_fails_the_schedule(app, processes, mastodon_mock):
    _, token = mastodon_mock.new_account()
    channel_id = connect("mastodon", {"instance_url": mastodon_mock.url}, {"access_token": token})
    mastodon_mock.api("POST", "/oauth/revoke", data={"token": token}).raise_for_status()
    processes.scheduler()
    processes.worker()
    wait_ready(1)
    [schedule_id] = schedule_on(page_with_two_images("Never posted"), [channel_id])
    wait_until(lambda: get(schedule_id).status == "failed", timeout=30, message="failed")
    assert "Reconnect" in get(schedule_id).last_error
    status, error = channel_status(channel_id)
    assert status == "needs_attention" and "access token" in error


def test_a_mastodon_rate_limit_is_waited_out(app, processes, mastodon_mock):
    _, token = mastodon_mock.new_account()
    channel_id = connect("mastodon", {"instance_url": mastodon_mock.url}, {"access_token": token})
    processes.scheduler()
    processes.worker()
    wait_ready(1)
    reset = int(time.time()) + 3
    mastodon_mock.add_fault({"match": {"methods": ["POST"], "path": "/api/v1/statuses"}, "count": 1,
                             "effect": {"type": "ratelimit", "headers": {"X-RateLimit-Reset": str(reset)}}})
    [schedule_id] = schedule_on(page_with_two_images("After the limit"), [channel_id])
    wait_until(lambda: get(schedule_id).status == "published", timeout=30, message="published after the wait")
    failed, published = logs_for(schedule_id)
    assert "rate limit" in failed.error
    assert published.created_at.timestamp() >= reset - 1  # not before the instance said (backoff alone is 0.2 s)


def test_a_bluesky_session_refreshed_by_the_worker_is_stored_again(app, processes, pds):
    from pagesite.services import channels

    def stored_credentials():
        with in_app():
            return channels.channel_data(channels.get_channel(channel_id)).credentials

    author = pds.create_account()
    channel_id = connect("bluesky", {"service_url": pds.url},
                         {"identifier": author.handle, "app_password": author.app_password})
    credentials = stored_credentials()
    expired = unsigned_jwt({"scope": "com.atproto.appPass", "sub": author.did, "exp": int(time.time()) - 60})
    with in_app():
        from pagesite.extensions import db

        channels.store_credentials(channel_id, {**credentials, "access_jwt": expired})
        db.session.commit()
    assert stored_credentials()["access_jwt"] == expired
    processes.scheduler()
    processes.worker()
    wait_ready(1)
    [schedule_id] = schedule_on(page_with_two_images("A fresh session"), [channel_id])
    wait_until(lambda: get(schedule_id).status in ("published", "failed"), timeout=30, message="an outcome")
    assert get(schedule_id).status == "published", get(schedule_id).last_error
    refreshed = stored_credentials()
    assert refreshed["access_jwt"] != expired and refreshed["refresh_jwt"] != credentials["refresh_jwt"]
    assert channel_status(channel_id)[0] == "connected"


def test_a_mastodon_channel_reconnects_with_new_settings(app, mastodon_mock):
    from pagesite.services import channels

    _, token = mastodon_mock.new_account()
    channel_id = connect("mastodon", {"instance_url": mastodon_mock.url}, {"access_token": token})
    with in_app():
        channel, _ = channels.update_channel(channel_id, settings={"visibility": "unlisted", "language": "de"})
        assert {k: v for k, v in channel.settings.items() if k != "software"} == {
            "instance_url": mastodon_mock.url, "visibility": "unlisted", "language": "de"}
        assert channel.settings["software"].startswith("mastodon ")
        assert channel.limits["characters_reserved_per_url"] == 23
        assert channels.count_characters(channel, "https://example.com/" + "x" * 50) == 23


def test_a_scaled_down_image_is_noted_in_the_publish_log_api_and_page(app, processes, pds, client, user):
    from pagesite.services import attachments, pages

    author = pds.create_account()
    channel_id = connect("bluesky", {"service_url": pds.url},
                         {"identifier": author.handle, "app_password": author.app_password})
    processes.scheduler()
    processes.worker()
    wait_ready(1)
    with in_app():
        large = attachments.upload(io.BytesIO(image_bytes(1400, 1000, noise=True)), "noise.png", "Grey static")
        page_id = pages.create_page("Static, scaled", [large.id]).id
    [schedule_id] = schedule_on(page_id, [channel_id])
    wait_until(lambda: get(schedule_id).status in ("published", "failed"), timeout=60, message="an outcome")
    assert get(schedule_id).status == "published", get(schedule_id).last_error

    [entry] = client.get(f"/api/pages/{page_id}/logs").get_json()["items"]
    [note] = entry["notes"]
    assert "noise.png" in note and "at most 1,000,000" in note
    [record] = pds.list_records(author.did)
    [image] = record["value"]["embed"]["images"]
    assert image["image"]["size"] <= 1_000_000  # the note tells the truth

    web = sign_in(app.test_client(), app, user)
    detail = web.get(f"/pages/{page_id}").get_data(as_text=True)
    assert "data-log-notes" in detail and "noise.png" in detail and "at most 1,000,000" in detail
