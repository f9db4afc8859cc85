"""/api/channels, POST /api/pages/{id}/schedules and channel_id on schedules, with a real webhook receiver."""

import pytest

from webhook_receiver import Receiver


def connect(client, receiver, name="My site"):
    response = client.post("/api/channels", json={
        "provider": "webhook", "name": name, "settings": {"url": receiver.url},
        "credentials": {"secret": receiver.secret}})
    assert response.status_code == 201, response.json
    return response.json


def page_id(client, text="Hello channels"):
    return client.post("/api/pages", json={"text": text}).json["id"]


def test_connect_read_list_never_show_credentials(client, receiver):
    channel = connect(client, receiver)
    assert channel["provider"] == "webhook" and channel["status"] == "connected"
    assert channel["settings"] == {"url": receiver.url}
    assert channel["account"]["handle"].startswith("127.0.0.1:")
    assert channel["limits"]["max_characters"] == 5000
    assert channel["refreshed_at"].endswith("Z") or channel["refreshed_at"].endswith("+00:00")
    assert "generated_credentials" not in channel and "credentials" not in channel
    assert receiver.requests[0]["verified"] and receiver.requests[0]["payload"]["type"] == "ping"
    listed = client.get("/api/channels").json["items"]
    assert [c["provider"] for c in listed] == ["stub", "webhook"]
    one = client.get(f"/api/channels/{channel['id']}")
    assert one.status_code == 200
    for body in (channel, listed, one.json):
        assert receiver.secret not in str(body)
        assert receiver.secret.removeprefix("whsec_") not in str(body)


def test_a_generated_secret_is_in_the_create_answer_only(client):
    receiver = Receiver(secret=None)
    try:
        response = client.post("/api/channels", json={"provider": "webhook", "name": "Gen",
                                                       "settings": {"url": receiver.url}})
        assert response.status_code == 201
        secret = response.json["generated_credentials"]["secret"]
        assert secret.startswith("whsec_")
        assert response.headers["Location"].endswith(f"/api/channels/{response.json['id']}")
        assert secret not in client.get(f"/api/channels/{response.json['id']}").get_data(as_text=True)
        # New credentials on request: {} lets the provider generate a fresh secret.
        again = client.patch(f"/api/channels/{response.json['id']}", json={"credentials": {}})
        assert again.status_code == 200
        assert again.json["generated_credentials"]["secret"] not in (None, secret)
    finally:
        receiver.close()


@pytest.mark.parametrize("body, field", [
    ({"provider": "myspace", "name": "x"}, "provider"),
    ({"provider": "webhook", "name": ""}, "name"),
    ({"provider": "webhook", "name": "x", "settings": {"url": "nope"}}, "settings.url"),
    ({"provider": "webhook", "name": "x", "settings": {"url": "http://127.0.0.1:9/"},
      "credentials": {"secret": "whsec_short"}}, "credentials.secret"),
    ({"provider": "webhook", "name": "x", "settings": {"url": 5}}, "settings"),
])
def test_connect_refusals_are_422_on_the_field(client, body, field):
    response = client.post("/api/channels", json=body)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json
    assert len(client.get("/api/channels").json["items"]) == 1


def test_a_ping_the_receiver_refuses_is_a_422_with_its_reason(client, receiver):
    receiver.script.append((404, {"error": "no such hook"}, None))
    response = client.post("/api/channels", json={"provider": "webhook", "name": "x",
                                                   "settings": {"url": receiver.url},
                                                   "credentials": {"secret": receiver.secret}})
    assert response.status_code == 422
    assert "404" in response.json["errors"]["settings.url"][0]
    assert "no such hook" in response.json["errors"]["settings.url"][0]


def test_rename_and_remove(client, receiver):
    channel = connect(client, receiver)
    renamed = client.patch(f"/api/channels/{channel['id']}", json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.json["name"] == "Renamed"
    assert len(receiver.requests) == 1, "a rename does not reconnect"
    later = "2099-01-01T09:00:00Z"
    pid = page_id(client)
    queued = client.post("/api/schedules", json={"page_id": pid, "channel_id": channel["id"], "scheduled_at": later})
    assert queued.status_code == 201
    assert queued.json["channel"] == {"id": channel["id"], "name": "Renamed", "provider": "webhook"}
    assert client.delete(f"/api/channels/{channel['id']}").status_code == 204
    assert client.get(f"/api/channels/{channel['id']}").status_code == 404
    kept = client.get(f"/api/schedules/{queued.json['id']}").json
    assert kept["status"] == "canceled" and kept["channel"]["name"] == "Renamed"
    assert client.delete(f"/api/channels/{channel['id']}").status_code == 404


def test_schedules_on_several_channels_all_or_nothing(client, receiver):
    channel = connect(client, receiver)
    stub = client.get("/api/channels").json["items"][0]
    pid = page_id(client)
    later = "2099-01-01T09:00:00Z"
    response = client.post(f"/api/pages/{pid}/schedules", json={"channel_ids": [stub["id"], channel["id"]],
                                                                 "scheduled_at": later})
    assert response.status_code == 201, response.json
    assert [s["channel"]["id"] for s in response.json["items"]] == [stub["id"], channel["id"]]
    assert {s["status"] for s in response.json["items"]} == {"queued"}
    # The same page again on one of them: 409, and nothing new on the other.
    other = client.post(f"/api/pages/{pid}/schedules", json={"channel_ids": [channel["id"]]})
    assert other.status_code == 409 and other.json["schedule_id"] == response.json["items"][1]["id"]
    assert client.get(f"/api/schedules?page_id={pid}").json["total"] == 2
    assert client.post(f"/api/pages/{pid}/schedules", json={"channel_ids": []}).status_code == 422
    assert client.post(f"/api/pages/{pid}/schedules", json={"channel_ids": [999]}).status_code == 422
    assert client.post("/api/pages/999999/schedules", json={"channel_ids": [channel["id"]]}).status_code == 404


def test_limits_are_checked_per_channel_naming_it(app, client, receiver):
    from pagesite.extensions import db
    from pagesite.models import Channel

    channel = connect(client, receiver, name="Bluesky")
    with app.app_context():
        row = db.session.get(Channel, channel["id"])
        row.account, row.limits = {"handle": "@ana.example"}, {**row.limits, "max_characters": 300}
        db.session.commit()
    stub = client.get("/api/channels").json["items"][0]
    pid = page_id(client, "y" * 412)
    response = client.post(f"/api/pages/{pid}/schedules", json={"channel_ids": [stub["id"], channel["id"]]})
    assert response.status_code == 422
    assert response.json["errors"]["channel_ids"] == ["Bluesky (@ana.example): text is 412 characters; at most 300."]
    assert client.get(f"/api/schedules?page_id={pid}").json["total"] == 0
    single = client.post("/api/schedules", json={"page_id": pid, "channel_id": channel["id"]})
    assert single.status_code == 422 and "at most 300" in single.json["errors"]["channel_id"][0]


def test_publish_to_a_channel_now(client, receiver):
    channel = connect(client, receiver)
    pid = page_id(client, "Right now")
    response = client.post(f"/api/channels/{channel['id']}/publish", json={"page_id": pid})
    assert response.status_code == 201, response.json
    assert response.json["channel_id"] == channel["id"]
    assert response.json["url"].startswith("https://receiver.example/posts/")
    assert response.json["schedule"]["channel"]["id"] == channel["id"]
    [delivery] = receiver.deliveries()
    assert delivery["verified"] and delivery["headers"]["webhook-id"] == response.json["schedule"]["idempotency_key"]
    # A refusal is a 502 with the receiver's words.
    receiver.script.append((422, {"error": "we do not take this"}, None))
    refused = client.post(f"/api/channels/{channel['id']}/publish", json={"page_id": page_id(client, "No")})
    assert refused.status_code == 502
    assert "422" in refused.json["detail"] and "we do not take this" in refused.json["detail"]
    assert client.post("/api/channels/999/publish", json={"page_id": pid}).status_code == 404


def test_the_provider_name_still_works_through_the_default_channel(client, receiver):
    connect(client, receiver)
    pid = page_id(client)
    response = client.post("/api/providers/webhook/publish", json={"page_id": pid})
    assert response.status_code == 201 and response.json["provider"] == "webhook"
    assert client.post("/api/providers/default/publish", json={"page_id": pid}).json["provider"] == "stub"
    providers = client.get("/api/providers").json["items"]
    assert {p["name"]: p["default"] for p in providers} == {
        "bluesky": False, "discord": False, "mastodon": False, "matrix": False, "nostr": False, "stub": True,
        "telegram": False, "webhook": False}


def test_health_lists_channels_needing_attention(app, client, receiver):
    from pagesite.services import channels

    channel = connect(client, receiver, name="Gone")
    with app.app_context():
        channels.mark_needs_attention(channel["id"], "The receiver answered 410 Gone.")
        from pagesite.extensions import db

        db.session.commit()
    health = client.get("/api/health").json
    assert health["channels_needing_attention"] == [{"id": channel["id"], "name": "Gone", "provider": "webhook"}]
    assert client.get(f"/api/channels/{channel['id']}").json["last_error"] == "The receiver answered 410 Gone."


def test_the_queue_takes_a_time_free_on_every_chosen_channel(client, receiver):
    webhook = connect(client, receiver)
    stub = next(c for c in client.get("/api/channels").json["items"] if c["provider"] == "stub")
    assert client.put("/api/queue", json={"time_zone": "UTC", "slots": [
        {"weekday": day, "time": "09:00"} for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]}
    ).status_code == 200
    first = client.post("/api/schedules", json={"page_id": page_id(client, "a"), "queue": True,
                                                "channel_id": stub["id"]}).json
    # The webhook channel has that time free; a page for both channels needs the next one.
    other = client.post("/api/schedules", json={"page_id": page_id(client, "b"), "queue": True,
                                                "channel_id": webhook["id"]}).json
    assert other["scheduled_at"] == first["scheduled_at"]
    both = client.post(f"/api/pages/{page_id(client, 'c')}/schedules",
                       json={"channel_ids": [stub["id"], webhook["id"]], "queue": True})
    assert both.status_code == 201, both.json
    times = {s["scheduled_at"] for s in both.json["items"]}
    assert len(times) == 1 and times != {first["scheduled_at"]} and min(times) > first["scheduled_at"]
