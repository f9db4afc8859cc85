"""Link cards through the publish path: the page's ``link_card`` in the API, what a webhook
receiver is given, and what the publish log keeps (its notes, and ``sent`` when cards are off).
The cards themselves, and Bluesky's, are in tests/networks/test_link_cards.py."""

import pytest

from card_server import CardServer
from scheduling_helpers import get, in_app, logs_for
from test_channels import connect_webhook, schedule_on

pytestmark = pytest.mark.usefixtures("bind_app")

@pytest.fixture
def cards():
    with CardServer() as server:
        yield server


def _page(text, **fields):
    from pagesite.services import pages

    with in_app():
        return pages.create_page(text, **fields).id


def _publish(schedule_id):
    from pagesite.services import publishing

    with in_app():
        return publishing.publish_schedule(schedule_id).outcome


def test_the_api_keeps_a_pages_link_card_choice(client):
    created = client.post("/api/pages", json={"text": "See https://a.example/x"})
    assert created.status_code == 201 and created.json["link_card"] is True
    off = client.post("/api/pages", json={"text": "See https://a.example/x", "link_card": False}).json
    assert off["link_card"] is False
    page_id = off["id"]
    assert client.patch(f"/api/pages/{page_id}", json={"text": "Now https://a.example/y"}).json["link_card"] is False
    assert client.patch(f"/api/pages/{page_id}", json={"link_card": True}).json["link_card"] is True
    assert client.post(f"/api/pages/{page_id}/duplicate").json["link_card"] is True

    bad = client.post("/api/pages", json={"text": "x", "link_card": "sometimes"})
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"
    assert "link_card" in bad.json["errors"]


def test_a_webhook_receiver_is_given_the_card_and_the_log_says_so(app, receiver, cards):
    channel_id, _ = connect_webhook(receiver)
    [schedule_id] = schedule_on(_page(f"Tonight: {cards.url}/article"), [channel_id])
    assert _publish(schedule_id) == "published"
    page = receiver.deliveries()[0]["payload"]["data"]["page"]
    assert page["link_card"] == {"url": f"{cards.url}/article", "title": "Crème brûlée, the long way & the short",
                                 "description": "Three hours, one torch.", "image_url": f"{cards.url}/picture.png"}
    assert cards.served("/picture.png") == []  # the receiver fetches the picture if it wants it
    [entry] = logs_for(schedule_id)
    assert entry.notes == [] and entry.sent == {"text": f"Tonight: {cards.url}/article", "attachments": []}


def test_a_card_that_cannot_be_had_is_a_note_and_off_is_off(app, receiver, cards):
    channel_id, _ = connect_webhook(receiver)
    [unreadable] = schedule_on(_page(f"Gone: {cards.url}/gone"), [channel_id])
    assert _publish(unreadable) == "published"
    assert receiver.deliveries()[0]["payload"]["data"]["page"]["link_card"] is None
    assert logs_for(unreadable)[0].notes == [f"No link card for {cards.url}/gone: 127.0.0.1 answered 404 NOT FOUND."]

    [off] = schedule_on(_page(f"Quiet: {cards.url}/article", link_card=False), [channel_id])
    assert _publish(off) == "published"
    assert receiver.deliveries()[1]["payload"]["data"]["page"]["link_card"] is None
    assert cards.served("/article") == []
    [entry] = logs_for(off)
    assert entry.sent == {"text": f"Quiet: {cards.url}/article", "attachments": [], "link_card": False}
    assert get(off).status == "published"
