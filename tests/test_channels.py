"""Channels below the HTTP edge: connecting (with a real webhook receiver that
verifies signatures with the standardwebhooks library), encryption and key
rotation, default channel, limits, and publishing through real workers."""

import hashlib
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select, text

from conftest import wait_until
from helpers import png_bytes
from scheduling_helpers import get, in_app, logs_for, wait_ready
from webhook_receiver import Receiver, new_secret

pytestmark = pytest.mark.usefixtures("bind_app")


def connect_webhook(receiver, name="My site", secret=None):
    from pagesite.services import channels

    with in_app():
        channel, revealed = channels.create_channel(
            "webhook", name, {"url": receiver.url}, {"secret": secret or receiver.secret})
        return channel.id, revealed


def make_page(text_="Hello channels", attachment_ids=None):
    from pagesite.services import pages

    with in_app():
        return pages.create_page(text_, attachment_ids).id


def schedule_on(page_id, channel_ids, when=None):
    from pagesite.services import schedules

    with in_app():
        return [s.id for s in schedules.create_schedules(page_id, channel_ids, when)]


def channel_row(channel_id):
    from pagesite.extensions import db
    from pagesite.models import Channel

    with in_app():
        channel = db.session.get(Channel, channel_id)
        db.session.expunge_all()
        return channel


def stub_id():
    from pagesite.services import channels

    with in_app():
        return next(c.id for c in channels.live_channels() if c.provider == "stub")


# Connecting

def test_a_fresh_install_has_the_stub_channel_and_it_is_the_default(app):
    from pagesite.services import channels

    with in_app():
        [stub] = channels.live_channels()
        assert (stub.provider, stub.status) == ("stub", "connected")
        assert channels.default_channel().id == stub.id
        assert channels.resolve(provider="stub").id == stub.id


def test_connecting_a_webhook_sends_a_signed_ping_and_stores_the_secret_encrypted(app, receiver):
    channel_id, revealed = connect_webhook(receiver)
    assert revealed == {}, "a secret the user typed is not shown back"
    [ping] = receiver.requests
    assert ping["verified"] and ping["payload"]["type"] == "ping"
    assert ping["headers"]["user-agent"].startswith("pagesite/")
    channel = channel_row(channel_id)
    assert channel.status == "connected" and channel.settings == {"url": receiver.url}
    assert channel.account["handle"] == receiver.url.split("/")[2]
    assert receiver.secret not in channel.credentials_encrypted
    from pagesite import encryption

    with in_app():
        assert encryption.decrypt(channel.credentials_encrypted) == {"secret": receiver.secret}


def test_a_generated_secret_is_revealed_once_and_verifies(app):
    receiver = Receiver(secret=None)  # not configured yet: accepts the ping unverified
    try:
        from pagesite.services import channels

        with in_app():
            channel, revealed = channels.create_channel("webhook", "Generated", {"url": receiver.url}, {})
            channel_id = channel.id
        assert revealed["secret"].startswith("whsec_")
        receiver.secret = revealed["secret"]  # what the user pastes into the receiver
        with in_app():
            channels.send_test(channel_id)
        assert receiver.requests[-1]["verified"]
    finally:
        receiver.close()


@pytest.mark.parametrize("settings,credentials,field", [
    ({"url": "ftp://example.com/x"}, {}, "settings.url"),
    ({"url": "http://user:pw@127.0.0.1:1/x"}, {}, "settings.url"),
    ({}, {}, "settings.url"),
    ({"url": "http://127.0.0.1:9/x", "extra": "1"}, {}, "settings.extra"),
    ({"url": "http://127.0.0.1:9/x"}, {"secret": "not-a-secret"}, "credentials.secret"),
])
def test_connect_refusals_name_the_field_and_save_nothing(app, settings, credentials, field):
    from pagesite.errors import ValidationFailed
    from pagesite.services import channels

    with in_app():
        with pytest.raises(ValidationFailed) as refused:
            channels.create_channel("webhook", "Bad", settings, credentials)
        assert field in refused.value.errors
        assert len(channels.live_channels()) == 1  # only the stub


def test_a_receiver_that_refuses_the_ping_is_a_422_with_its_reason(app, receiver):
    from pagesite.errors import ValidationFailed
    from pagesite.services import channels

    receiver.script.append((500, {"error": "database is down"}, None))
    with in_app():
        with pytest.raises(ValidationFailed) as refused:
            channels.create_channel("webhook", "Down", {"url": receiver.url}, {"secret": receiver.secret})
        [message] = refused.value.errors["settings.url"]
        assert "500" in message and "database is down" in message
    # A secret the receiver does not know: the refusal lands on the secret.
    with in_app():
        with pytest.raises(ValidationFailed) as refused:
            channels.create_channel("webhook", "Wrong", {"url": receiver.url}, {"secret": new_secret()})
        assert "credentials.secret" in refused.value.errors
        assert len(channels.live_channels()) == 1


def test_an_unreachable_url_is_a_422_on_the_url(app):
    from conftest import free_port
    from pagesite.errors import ValidationFailed
    from pagesite.services import channels

    with in_app():
        with pytest.raises(ValidationFailed) as refused:
            channels.create_channel("webhook", "Nobody", {"url": f"http://127.0.0.1:{free_port()}/"}, {})
        assert "Could not reach" in refused.value.errors["settings.url"][0]


def test_reconnecting_with_a_new_url_verifies_it_and_keeps_the_secret(app, receiver):
    from pagesite.errors import ValidationFailed
    from pagesite.services import channels

    channel_id, _ = connect_webhook(receiver)
    other = Receiver(secret=receiver.secret)
    try:
        with in_app():
            channel, revealed = channels.update_channel(channel_id, name="Renamed", settings={"url": other.url})
            assert (channel.name, channel.settings["url"], revealed) == ("Renamed", other.url, {})
        assert other.requests[-1]["verified"]
        receiver.script.append((503, {}, None))
        with in_app():
            with pytest.raises(ValidationFailed):
                channels.update_channel(channel_id, settings={"url": receiver.url + "?again"})
        assert channel_row(channel_id).settings["url"] == other.url  # unchanged
    finally:
        other.close()


def test_key_rotation_re_encrypts_every_channel(app, receiver):
    from cryptography.fernet import Fernet

    from pagesite import create_app, encryption
    from pagesite.encryption import CredentialsUnreadable

    channel_id, _ = connect_webhook(receiver)
    old_key = app.config["ENCRYPTION_KEY"]
    new_key = Fernet.generate_key().decode()
    before = channel_row(channel_id).credentials_encrypted

    rotating = create_app({"TESTING": True, "ENCRYPTION_KEY": f"{new_key},{old_key}"})
    result = rotating.test_cli_runner().invoke(args=["pagesite", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 value(s) under the first key (channels.credentials_encrypted: 1" in result.output
    after = channel_row(channel_id).credentials_encrypted
    assert after != before

    with create_app({"TESTING": True, "ENCRYPTION_KEY": new_key}).app_context():
        assert encryption.decrypt(after) == {"secret": receiver.secret}
    with create_app({"TESTING": True, "ENCRYPTION_KEY": old_key}).app_context():
        with pytest.raises(CredentialsUnreadable):
            encryption.decrypt(after)


def test_production_refuses_to_start_without_an_encryption_key(app, monkeypatch, tmp_path):
    from pagesite import create_app

    monkeypatch.setenv("PAGESITE_ENV", "production")
    monkeypatch.delenv("PAGESITE_ENCRYPTION_KEY", raising=False)
    with pytest.raises(RuntimeError, match="PAGESITE_ENCRYPTION_KEY"):
        create_app({"TESTING": True})
    with pytest.raises(ValueError, match="not a Fernet key"):
        create_app({"TESTING": True, "ENCRYPTION_KEY": "too-short"})


# Default channel and limits

def test_default_channel_rules(app, receiver):
    from pagesite.services import channels

    webhook_id, _ = connect_webhook(receiver)
    with in_app():
        # Two connected channels: the built-in stub stays the default...
        assert channels.default_channel().provider == "stub"
        assert channels.resolve(provider="webhook").id == webhook_id
        channels.delete_channel(stub_id())
        # ...the only connected channel is the default once it is alone...
        assert channels.default_channel().id == webhook_id
    app.config["DEFAULT_CHANNEL"] = "My site"
    try:
        with in_app():
            assert channels.default_channel().id == webhook_id  # ...or named by PAGESITE_DEFAULT_CHANNEL
    finally:
        app.config["DEFAULT_CHANNEL"] = None


def test_a_page_over_a_channels_limit_is_refused_naming_the_channel_and_nothing_is_created(app, receiver):
    from pagesite.errors import ValidationFailed
    from pagesite.extensions import db
    from pagesite.models import Channel, Schedule
    from pagesite.services import schedules

    channel_id, _ = connect_webhook(receiver, name="Bluesky")
    with in_app():
        channel = db.session.get(Channel, channel_id)
        channel.account = {"handle": "@ana.example"}
        channel.limits = {**channel.limits, "max_characters": 300, "max_attachments": 1,
                          "content_types": ["image/jpeg"]}
        db.session.commit()
        from pagesite.services import attachments
        import io

        asset = attachments.upload(io.BytesIO(png_bytes()), "cat.png")
        asset_id = asset.id
    page_id = make_page("x" * 412, [asset_id])
    with in_app():
        with pytest.raises(ValidationFailed) as refused:
            schedules.create_schedules(page_id, [stub_id(), channel_id])
        assert refused.value.errors["channel_ids"] == [
            "Bluesky (@ana.example): text is 412 characters; at most 300.",
            "Bluesky (@ana.example): cat.png: image/png is not accepted.",
        ]
        assert db.session.scalar(select(Schedule.id)) is None, "all or nothing"
        with pytest.raises(ValidationFailed) as refused:
            schedules.create_schedule(page_id, channel_id=channel_id)
        assert "channel_id" in refused.value.errors
        # The stub alone takes it.
        assert schedules.create_schedule(page_id, channel_id=stub_id()).channel_id == stub_id()


def test_one_live_schedule_per_page_and_channel(app, receiver):
    from pagesite.errors import Conflict

    channel_id, _ = connect_webhook(receiver)
    page_id = make_page()
    later = "2099-01-01T09:00:00Z"
    first = schedule_on(page_id, [stub_id(), channel_id], later)
    assert len(first) == 2
    with pytest.raises(Conflict):
        schedule_on(page_id, [channel_id], later)


def test_removing_a_channel_cancels_its_queued_schedules_and_keeps_history(app, receiver):
    from pagesite.errors import Conflict, NotFound
    from pagesite.extensions import db
    from pagesite.models import Schedule
    from pagesite.services import channels

    channel_id, _ = connect_webhook(receiver)
    [queued] = schedule_on(make_page("later"), [channel_id], "2099-01-01T09:00:00Z")
    [busy] = schedule_on(make_page("busy"), [channel_id], "2099-01-01T09:00:00Z")
    with in_app():
        db.session.execute(
            Schedule.__table__.update().where(Schedule.id == busy).values(status="publishing"))
        db.session.commit()
        with pytest.raises(Conflict):
            channels.delete_channel(channel_id)
        assert db.session.get(Schedule, queued).status == "queued", "a refused removal changes nothing"
        db.session.execute(Schedule.__table__.update().where(Schedule.id == busy).values(status="failed"))
        db.session.commit()
        channels.delete_channel(channel_id)
        with pytest.raises(NotFound):
            channels.get_channel(channel_id)
    assert get(queued).status == "canceled" and get(busy).channel_id == channel_id
    row = channel_row(channel_id)
    assert row.deleted_at is not None and row.credentials_encrypted is None


def test_the_concurrency_cap_is_per_channel(app):
    """Channel 1's only slot is taken; a publish on another stub channel does not wait for it."""
    from pagesite.extensions import get_redis
    from pagesite.limits import ChannelSlots
    from pagesite.services import channels, publishing

    with in_app():
        other, _ = channels.create_channel("stub", "Second stub", {}, {})
        other_id = other.id
    app.config["CHANNEL_CONCURRENCY"] = 1
    try:
        with in_app():
            held = ChannelSlots(get_redis(), stub_id(), 1, 60).acquire(0)
            [schedule_id] = schedule_on(make_page(), [other_id])
            started = time.monotonic()
            attempt = publishing.publish_schedule(schedule_id)
            assert attempt.outcome == "published" and time.monotonic() - started < 2
            [blocked] = schedule_on(make_page("waits"), [stub_id()])
            app.config["PUBLISH_TIMEOUT"] = 0.3
            assert publishing.publish_schedule(blocked).outcome == "busy"
            ChannelSlots(get_redis(), stub_id(), 1, 60).release(held)
    finally:
        app.config["CHANNEL_CONCURRENCY"] = 4
        app.config["PUBLISH_TIMEOUT"] = 5


# Publishing through real workers to a real receiver

def test_retried_delivery_keeps_its_webhook_id_and_publishes_once(app, processes, receiver):
    channel_id, _ = connect_webhook(receiver)
    receiver.script.append((500, {"error": "try later"}, None))
    processes.scheduler()
    processes.worker()
    wait_ready(1)
    [schedule_id] = schedule_on(make_page("Twice tried, once posted"), [channel_id])
    wait_until(lambda: get(schedule_id).status == "published", timeout=20, message="published")
    deliveries = receiver.deliveries()
    assert len(deliveries) == 2 and all(d["verified"] for d in deliveries)
    ids = {d["headers"]["webhook-id"] for d in deliveries}
    schedule = get(schedule_id)
    assert ids == {schedule.idempotency_key}
    payload = deliveries[-1]["payload"]
    assert payload["data"]["schedule"]["id"] == schedule_id
    assert payload["data"]["page"]["text"] == "Twice tried, once posted"
    assert schedule.external_id.startswith("post-") and schedule.url.startswith("https://receiver.example/")
    logs = logs_for(schedule_id)
    assert [entry.status for entry in logs] == ["failed", "published"]
    assert "500" in logs[0].error and "try later" in logs[0].error
    assert {entry.channel_id for entry in logs} == {channel_id}


def test_retry_after_is_honoured(app, processes, receiver):
    channel_id, _ = connect_webhook(receiver)
    receiver.script.append((429, {"error": "slow down"}, {"Retry-After": "2"}))
    processes.scheduler()
    processes.worker()
    wait_ready(1)
    [schedule_id] = schedule_on(make_page("Patience"), [channel_id])
    wait_until(lambda: get(schedule_id).status == "published", timeout=20, message="published")
    first, second = receiver.deliveries()
    gap = int(second["headers"]["webhook-timestamp"]) - int(first["headers"]["webhook-timestamp"])
    assert gap >= 1, "retried before the receiver's Retry-After (backoff alone is 0.2 s here)"
    [failed, published] = logs_for(schedule_id)
    assert (published.created_at - failed.created_at).total_seconds() >= 1.9


def test_410_marks_the_channel_for_reconnection_and_other_channels_carry_on(app, processes, receiver, outbox):
    from pagesite.services import health

    channel_id, _ = connect_webhook(receiver, name="Gone site")
    receiver.script.append((410, {"error": "endpoint removed"}, None))
    processes.scheduler()
    processes.worker()
    wait_ready(1)
    gone, on_stub = schedule_on(make_page("Both"), [channel_id, stub_id()])
    wait_until(lambda: get(gone).status == "failed" and get(on_stub).status == "published", timeout=20,
               message="webhook failed, stub published")
    assert "Reconnect" in get(gone).last_error and "410" in get(gone).last_error
    channel = channel_row(channel_id)
    assert channel.status == "needs_attention" and "410" in channel.last_error
    with in_app():
        _, details = health.report()
        assert [c["id"] for c in details["channels_needing_attention"]] == [channel_id]
    # Until reconnected, the channel's next schedule fails without a delivery.
    delivered = len(receiver.deliveries())
    [next_one] = schedule_on(make_page("Next"), [channel_id])
    wait_until(lambda: get(next_one).status == "failed", timeout=20, message="failed at once")
    assert "needs reconnecting" in get(next_one).last_error
    assert len(receiver.deliveries()) == delivered
    # Reconnecting clears it.
    from pagesite.services import channels

    with in_app():
        assert channels.send_test(channel_id).status == "connected"


def test_a_wrong_secret_at_the_receiver_fails_the_schedule_with_its_message(app, processes, receiver):
    channel_id, _ = connect_webhook(receiver)
    receiver.secret = new_secret()  # the receiver was reconfigured with another secret
    processes.scheduler()
    processes.worker()
    wait_ready(1)
    [schedule_id] = schedule_on(make_page("Refused"), [channel_id])
    wait_until(lambda: get(schedule_id).status == "failed", timeout=20, message="failed")
    publishes = [r for r in receiver.requests if b"page.publish" in r["body"]]
    assert len(publishes) == 1 and not publishes[0]["verified"], "a 401 is not retried"
    error = get(schedule_id).last_error
    assert "401" in error and "invalid signature" in error


def test_attachment_links_work_for_their_lifetime_then_are_refused(app, processes, receiver):
    import io

    from pagesite.services import attachments

    lifetime = 4
    web = processes.web(env={"PAGESITE_ATTACHMENT_LINK_SECONDS": str(lifetime)})
    env = {"PAGESITE_BASE_URL": web.url, "PAGESITE_ATTACHMENT_LINK_SECONDS": str(lifetime)}
    processes.scheduler(env=env)
    processes.worker(env=env)
    channel_id, _ = connect_webhook(receiver)
    data = png_bytes(16, 9)
    with in_app():
        asset_id = attachments.upload(io.BytesIO(data), "wide.png", "A wide red picture").id
    wait_ready(1)
    [schedule_id] = schedule_on(make_page("With a picture", [asset_id]), [channel_id])
    wait_until(lambda: receiver.deliveries(), timeout=20, message="the delivery")
    [attachment] = receiver.deliveries()[0]["payload"]["data"]["page"]["attachments"]
    signed_at = int(receiver.deliveries()[0]["headers"]["webhook-timestamp"])
    assert attachment["alt_text"] == "A wide red picture" and (attachment["width"], attachment["height"]) == (16, 9)
    assert attachment["sha256"] == hashlib.sha256(data).hexdigest() and attachment["size"] == len(data)
    assert attachment["url"].startswith(web.url + "/")
    with urllib.request.urlopen(attachment["url"], timeout=5) as response:  # no token, no session
        assert response.read() == data
        assert response.headers["Content-Type"] == "image/png"

    def refused():
        try:
            urllib.request.urlopen(attachment["url"], timeout=5).close()
        except urllib.error.HTTPError as e:
            return e.code
        return None

    assert wait_until(refused, timeout=lifetime + 10, interval=0.2, message="the link to expire") == 410
    assert time.time() >= signed_at + lifetime - 1, "refused before its lifetime was over"
    tampered = attachment["url"][:-3] + ("AAA" if not attachment["url"].endswith("AAA") else "BBB")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=5)
    assert e.value.code == 404


def _http(method, url, token, body=None):
    import json

    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_channels_secret_is_nowhere_but_its_encrypted_column(app, processes, receiver, api_token):
    """Connected, refused, reconnected and published through the real web and worker processes:
    the secret is in no other column, no answer, and no line the processes wrote."""
    import json

    from pagesite.extensions import db

    web = processes.web()
    processes.scheduler()
    worker = processes.worker()
    secret = receiver.secret
    answers = []
    # A connect the receiver refuses (the secret travels in the request, must not come back)...
    receiver.script.append((500, {"error": "not yet"}, None))
    connect = {"provider": "webhook", "name": "Secret keeper", "settings": {"url": receiver.url},
               "credentials": {"secret": secret}}
    status, body = _http("POST", web.url + "/api/channels", api_token, connect)
    assert status == 422
    answers.append(body)
    # ...then one it accepts, a reconnect, a failed and a successful delivery.
    status, body = _http("POST", web.url + "/api/channels", api_token, connect)
    assert status == 201, body
    answers.append(body)
    channel_id = json.loads(body)["id"]
    status, body = _http("PATCH", f"{web.url}/api/channels/{channel_id}", api_token,
                         {"settings": {"url": receiver.url}, "credentials": {"secret": secret}})
    assert status == 200, body
    answers.append(body)
    receiver.script.append((500, {"error": "once"}, None))
    wait_ready(1)
    [ok] = schedule_on(make_page("Delivered"), [channel_id])
    wait_until(lambda: get(ok).status == "published", timeout=20, message="published")
    receiver.script.append((410, {"error": "gone"}, None))
    [gone] = schedule_on(make_page("Gone"), [channel_id])
    wait_until(lambda: get(gone).status == "failed", timeout=20, message="failed")
    for path in ("/api/channels", f"/api/channels/{channel_id}", f"/api/schedules/{gone}", "/api/health",
                 f"/api/pages/{get(gone).page_id}/logs"):
        answers.append(_http("GET", web.url + path, api_token)[1])

    needles = [secret, secret.removeprefix("whsec_")]
    for answer in answers:
        assert not any(n in answer for n in needles), answer
    with in_app():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).mappings():
                for column, value in row.items():
                    if (table.name, column) == ("channels", "credentials_encrypted"):
                        continue
                    assert not any(n in str(value) for n in needles), f"secret in {table.name}.{column}"
        # And the raw rows, as the database returns them (JSON columns as text).
        dump = db.session.execute(text("SELECT settings, account, limits, last_error FROM channels")).all()
        assert not any(n in str(dump) for n in needles)
    for proc in processes.procs:
        with open(proc.log_path) as f:
            output = f.read()
        assert not any(n in output for n in needles), f"secret in the output of {proc.log_path}"
    assert worker.poll() is None


def test_refreshed_credentials_are_stored_encrypted_and_a_refused_login_needs_reconnecting(app):
    """Through the provider contract itself: a provider class defined here (a real subclass, registered
    like any other) that refreshes its session on one publish and is refused on the next."""
    from pagesite import encryption
    from pagesite.providers import (
        REGISTRY, Account, AuthenticationError, Connection, Limits, Provider, PublishResult, register,
    )
    from pagesite.services import channels, publishing

    @register
    class SessionProvider(Provider):
        name = "test-session"
        label = "Session test"
        credentials_schema = {"type": "object", "properties": {"token": {"type": "string", "secret": True}},
                              "required": ["token"]}

        @classmethod
        def default_limits(cls):
            return Limits(max_characters=100, counting="code points", max_attachments=0, content_types=())

        def connect(self):
            if self.channel.credentials["token"] == "wrong":
                raise AuthenticationError("The network refused this token.")
            return Connection(Account(handle="@tester"), self.default_limits(), dict(self.channel.credentials), {})

        def publish(self, page, idempotency_key, *, schedule_id, attempt, last_attempt_at=None):
            if "refuse" in page.text:
                raise AuthenticationError("The session was revoked.")
            self.channel.credentials["token"] = f"refreshed-{schedule_id}"
            return PublishResult(external_id=f"s-{schedule_id}")

    try:
        with in_app():
            from pagesite.errors import ValidationFailed

            with pytest.raises(ValidationFailed) as refused:
                channels.create_channel("test-session", "Bad", {}, {"token": "wrong"})
            assert refused.value.errors == {"credentials": ["The network refused this token."]}
            channel, _ = channels.create_channel("test-session", "Session", {}, {"token": "first-token"})
            channel_id = channel.id
        [first] = schedule_on(make_page("fine"), [channel_id])
        with in_app():
            assert publishing.publish_schedule(first).outcome == "published"
        row = channel_row(channel_id)
        with in_app():
            assert encryption.decrypt(row.credentials_encrypted) == {"token": f"refreshed-{first}"}
        assert f"refreshed-{first}" not in row.credentials_encrypted

        [refused_id, other] = schedule_on(make_page("please refuse"), [channel_id, stub_id()])
        with in_app():
            assert publishing.publish_schedule(refused_id).outcome == "failed"
            assert publishing.publish_schedule(other).outcome == "published"  # other channels carry on
        assert "Reconnect Session (@tester)" in get(refused_id).last_error
        assert channel_row(channel_id).status == "needs_attention"
        assert channel_row(channel_id).last_error == "The session was revoked."
        with in_app():
            channel, _ = channels.update_channel(channel_id, credentials={"token": "new-token"})
            assert channel.status == "connected" and channel.last_error is None
    finally:
        REGISTRY.pop("test-session", None)


def test_status_command_lists_channels_needing_attention(app, receiver):
    from pagesite.extensions import db
    from pagesite.services import channels

    channel_id, _ = connect_webhook(receiver, name="Gone site")
    with in_app():
        channels.mark_needs_attention(channel_id, "The receiver answered 410 Gone: the endpoint is gone.")
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["pagesite", "status"])
    assert f"channel    {channel_id} Gone site (webhook) needs reconnecting: The receiver answered 410 Gone" \
        in result.output
