"""How it did, read back from mastodon-mock: a second account favourites,
reblogs and replies to a post pagesite published, and pagesite's counts say
so; readings follow the post's age (a clock moved by the test, no waiting);
a deleted post is marked and not read again; a rate limit is waited out."""

from datetime import timedelta

import pytest

from scheduling_helpers import get, in_app

pytestmark = pytest.mark.usefixtures("bind_app")


def published_on_mastodon(mastodon_mock, text="How did it do?"):
    from pagesite.services import channels, pages, publishing, schedules

    _, token = mastodon_mock.new_account()
    with in_app():
        channel, _ = channels.create_channel("mastodon", "Ours", {"instance_url": mastodon_mock.url},
                                             {"access_token": token})
        page = pages.create_page(text)
        [schedule] = schedules.create_schedules(page.id, [channel.id], None)
        assert publishing.publish_schedule(schedule.id).outcome == "published"
        return page.id, schedule.id, token


def someone_else(mastodon_mock):
    _, token = mastodon_mock.new_account()
    return token


def test_likes_reposts_and_replies_made_by_others_are_counted(client, mastodon_mock):
    page_id, schedule_id, _ = published_on_mastodon(mastodon_mock)
    status_id = get(schedule_id).external_id
    fan = someone_else(mastodon_mock)
    assert mastodon_mock.api("POST", f"/api/v1/statuses/{status_id}/favourite", token=fan).status_code == 200
    assert mastodon_mock.api("POST", f"/api/v1/statuses/{status_id}/reblog", token=fan).status_code == 200
    reply = mastodon_mock.api("POST", "/api/v1/statuses", token=fan,
                              json={"status": "Nice one", "in_reply_to_id": status_id})
    assert reply.status_code == 200

    refreshed = client.post(f"/api/pages/{page_id}/metrics/refresh")
    assert refreshed.status_code == 200, refreshed.get_json()
    [post] = refreshed.get_json()["items"]
    assert post["schedule_id"] == schedule_id and post["channel"]["provider"] == "mastodon"
    latest = post["latest"]
    assert (latest["likes"], latest["reposts"], latest["replies"], latest["deleted"]) == (1, 1, 1, False)
    assert latest["read_at"].endswith("Z") and len(post["history"]) == 1

    mastodon_mock.api("POST", f"/api/v1/statuses/{status_id}/unfavourite", token=fan)
    client.post(f"/api/pages/{page_id}/metrics/refresh")
    history = client.get(f"/api/pages/{page_id}/metrics").get_json()["items"][0]["history"]
    assert [h["likes"] for h in history] == [1, 0]  # kept, never overwritten


def test_readings_follow_the_posts_age(app, mastodon_mock):
    from pagesite.services import engagement

    _, schedule_id, _ = published_on_mastodon(mastodon_mock)
    published = get(schedule_id).published_at
    with in_app():
        assert engagement.due(published + timedelta(minutes=59)) == []
        assert engagement.due(published + timedelta(minutes=61)) == [schedule_id]
        assert engagement.read_due(published + timedelta(minutes=61))["read"] == 1
        assert engagement.due(published + timedelta(hours=5)) == []  # the next one is at 6 h
        assert engagement.due(published + timedelta(hours=6, minutes=1)) == [schedule_id]
        assert engagement.due(published + timedelta(days=40)) == []  # five weeks on, no more readings


def test_a_post_deleted_on_the_network_is_marked_and_left_alone(client, mastodon_mock):
    from pagesite.services import engagement

    page_id, schedule_id, token = published_on_mastodon(mastodon_mock)
    status_id = get(schedule_id).external_id
    assert mastodon_mock.api("DELETE", f"/api/v1/statuses/{status_id}", token=token).status_code == 200
    latest = client.post(f"/api/pages/{page_id}/metrics/refresh").get_json()["items"][0]["latest"]
    assert latest["deleted"] is True and latest["likes"] is None
    with in_app():
        engagement.read([schedule_id])  # a planned reading finds it gone too
        assert engagement.due(get(schedule_id).published_at + timedelta(days=3)) == []


def test_a_rate_limit_leaves_the_reading_for_later(client, mastodon_mock):
    page_id, schedule_id, _ = published_on_mastodon(mastodon_mock)
    mastodon_mock.add_fault({"match": {"methods": ["GET"], "path": "/api/v1/statuses"}, "count": 1,
                             "effect": {"type": "ratelimit", "headers": {"Retry-After": "30"}}})
    post = client.post(f"/api/pages/{page_id}/metrics/refresh").get_json()["items"][0]
    assert post["latest"] is None and post["history"] == []
    post = client.post(f"/api/pages/{page_id}/metrics/refresh").get_json()["items"][0]
    assert post["latest"]["likes"] == 0
