"""Feeds that post themselves, read over HTTP from a feed server in the tests
(tests/feed_server.py): each new item becomes a page exactly once, whatever
the feed does with its order, dates or republishing, and whoever reads it."""

import threading
from datetime import datetime, timedelta, timezone

import pytest

from feed_server import FeedServer
from scheduling_helpers import in_app

pytestmark = pytest.mark.usefixtures("bind_app")
DAY = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def server():
    with FeedServer() as feeds:
        feeds.add(1, DAY)
        feeds.add(2, DAY + timedelta(days=1))
        yield feeds


def stub_id(client):
    return client.get("/api/channels").get_json()["items"][0]["id"]


def add(client, server, path="/rss.xml", **fields):
    body = {"url": server.url + path, "channel_ids": [stub_id(client)], "mode": "draft", **fields}
    return client.post("/api/feeds", json=body)


def page_texts(client):
    return sorted(p["text"] for p in client.get("/api/pages").get_json()["items"])


def check(client, feed_id):
    response = client.post(f"/api/feeds/{feed_id}/check")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_an_address_that_is_not_a_feed_is_refused_saying_what_it_is(client, server):
    refused = add(client, server, path="/blog")
    assert refused.status_code == 422
    message = refused.get_json()["errors"]["url"][0]
    assert "not an RSS, Atom or JSON feed" in message and "Our blog" in message
    assert client.get("/api/feeds").get_json()["items"] == []


def test_items_already_there_are_seen_and_only_later_ones_become_pages(client, server):
    feed = add(client, server, template="{title}: {link}").get_json()
    assert feed["title"] == "Our blog" and feed["status"] == "ok" and page_texts(client) == []
    server.add(3, DAY + timedelta(days=2))
    assert check(client, feed["id"]) == {"new": 1, "unchanged": False, "error": None}
    assert page_texts(client) == ["Post 3: https://blog.example/3"]
    assert check(client, feed["id"])["new"] == 0


def test_the_newest_item_is_posted_when_asked_whatever_its_place(client, server):
    server.items.reverse()  # newest last in the document: the date decides
    add(client, server, post_newest=True, template="{title}")
    assert page_texts(client) == ["Post 2"]


@pytest.mark.parametrize("path", ["/rss.xml", "/atom.xml", "/feed.json"])
def test_reordered_redated_and_republished_items_never_make_a_second_page(client, server, path):
    feed = add(client, server, path=path, template="{title} {summary}").get_json()
    server.add(3, DAY + timedelta(days=2))
    assert check(client, feed["id"])["new"] == 1
    server.items.reverse()
    for item in server.items:
        item["published"] += timedelta(days=10)  # re-dated, as republishing does
    server.items[0]["title"] = "Post 3, corrected"
    assert check(client, feed["id"])["new"] == 0
    assert page_texts(client) == ["Post 3 All about post 3."]


def test_an_unchanged_feed_answers_304_and_nothing_is_read_again(client, server):
    feed = add(client, server).get_json()
    assert check(client, feed["id"])["unchanged"] is True
    asked = [r for r in server.requests if r[1] == "/rss.xml"]
    assert asked[-1][2] == 304


def test_a_failing_feed_waits_longer_each_time_and_says_why(app, client, server):
    feed = add(client, server).get_json()
    server.failing = 503
    before = datetime.now(timezone.utc)
    for failures in (1, 2, 3):
        result = check(client, feed["id"])
        assert result["new"] == 0 and "503" in result["error"]
        shown = client.get(f"/api/feeds/{feed['id']}").get_json()
        assert shown["failures"] == failures and "503" in shown["last_error"]
        wait = datetime.fromisoformat(shown["next_check_at"].replace("Z", "+00:00")) - before
        assert wait >= timedelta(seconds=app.config["FEED_INTERVAL"] * 2 ** (failures - 1))
    assert shown["status"] == "failing"
    server.failing = None
    server.add(3, DAY + timedelta(days=2))
    assert check(client, feed["id"])["new"] == 1
    assert client.get(f"/api/feeds/{feed['id']}").get_json()["status"] == "ok"


def test_the_summary_is_shortened_to_fit_each_channel(app, client, server):
    from pagesite.extensions import db
    from pagesite.models import Channel

    with app.app_context():
        stub = db.session.get(Channel, stub_id(client))
        stub.limits = {**stub.limits, "max_characters": 60}
        db.session.commit()
    feed = add(client, server, template="{title} {summary} {link}").get_json()
    server.add(3, DAY + timedelta(days=2), summary="<p>" + "word " * 40 + "</p>")
    check(client, feed["id"])
    [text] = page_texts(client)
    assert len(text) <= 60 and text.startswith("Post 3 word word") and text.endswith("… https://blog.example/3")


def test_two_reads_at_once_make_each_item_once(app, client, server):
    from pagesite.services import feeds

    feed = add(client, server).get_json()
    for n in range(3, 9):
        server.add(n, DAY + timedelta(days=n))
    results = []

    def read():
        with in_app():
            results.append(feeds.check_feed(feed["id"])["new"])

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(30)
    assert sum(results) == 6
    assert len(page_texts(client)) == 6


def test_items_published_now_or_queued_get_schedules(client, server):
    feed = add(client, server, mode="now", template="{title}").get_json()
    server.add(3, DAY + timedelta(days=2))
    check(client, feed["id"])
    [page] = client.get("/api/pages").get_json()["items"]
    assert [s["status"] for s in page["schedules"]] == ["queued"]


@pytest.mark.parametrize("body, field, words", [
    ({"template": "{title} {nope}"}, "template", "Unknown placeholder {nope}"),
    ({"template": "{title"}, "template", "without its pair"),
    ({"url": "ftp://blog.example/feed"}, "url", "starting with https://"),
    ({"channel_ids": [999]}, "channel_ids", "No channel with id 999"),
])
def test_what_is_wrong_is_said_on_its_field(client, server, body, field, words):
    response = add(client, server, **body)
    assert response.status_code == 422 and words in response.get_json()["errors"][field][0]


def test_the_job_reads_only_feeds_whose_time_has_come(app, client, server):
    from pagesite.extensions import db
    from pagesite.models import Feed
    from pagesite.services import feeds

    due = add(client, server).get_json()
    later = add(client, server, path="/atom.xml").get_json()
    with app.app_context():
        db.session.get(Feed, due["id"]).next_check_at = datetime.now(timezone.utc) - timedelta(seconds=1)
        db.session.commit()
        server.add(3, DAY + timedelta(days=2))
        assert feeds.poll_due() == {"checked": 1, "new": 1}
    assert client.get(f"/api/feeds/{later['id']}").get_json()["checked_at"] == later["checked_at"]


def test_a_feed_can_be_changed_and_removed_and_its_pages_stay(client, server):
    feed = add(client, server).get_json()
    server.add(3, DAY + timedelta(days=2))
    check(client, feed["id"])
    changed = client.patch(f"/api/feeds/{feed['id']}", json={"mode": "queue", "template": "New: {title}"})
    assert changed.status_code == 200 and changed.get_json()["mode"] == "queue"
    assert client.delete(f"/api/feeds/{feed['id']}").status_code == 204
    assert client.get(f"/api/feeds/{feed['id']}").status_code == 404
    assert len(page_texts(client)) == 1
