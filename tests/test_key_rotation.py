"""Keys rotate everything: `flask pagesite rotate-key` re-encrypts every encrypted column (found by
its type), in batches, safe to run again; a credential no configured key can read is a problem on
its channel (API, web pages, publishing, the worker), never a 500 or a traceback."""

from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet

from conftest import wait_until
from helpers import sign_in
from scheduling_helpers import get, in_app, logs_for, start

pytestmark = pytest.mark.usefixtures("bind_app")

UNREADABLE = "its credentials were encrypted with a key that is no longer configured"


def connect_webhook(receiver, name):
    from pagesite.services import channels

    with in_app():
        channel, _ = channels.create_channel("webhook", name, {"url": receiver.url}, {"secret": receiver.secret})
        return channel.id


def add_mastodon_app(host, secret):
    from pagesite import encryption
    from pagesite.extensions import db
    from pagesite.models import MastodonApp

    with in_app():
        row = MastodonApp(instance_url=f"https://{host}", redirect_uri="https://pagesite.example/callback",
                          client_id=f"id-{host}", client_secret_encrypted=encryption.encrypt({"client_secret": secret}))
        db.session.add(row)
        db.session.commit()


def encrypted_values():
    """{(table, column, id): token} of every encrypted column, as stored."""
    import sqlalchemy

    from pagesite.encryption import encrypted_columns
    from pagesite.extensions import db

    values = {}
    with in_app():
        for table, column in encrypted_columns(db.metadata):
            [key] = table.primary_key.columns
            for row_key, value in db.session.execute(sqlalchemy.select(key, column).where(column.is_not(None))):
                values[(table.name, column.name, row_key)] = value
    return values


def decrypted_with(key, values):
    from pagesite import create_app, encryption

    with create_app({"TESTING": True, "ENCRYPTION_KEY": key}).app_context():
        return {where: encryption.decrypt(token) for where, token in values.items()}


def rotate(key, *args):
    from pagesite import create_app

    app = create_app({"TESTING": True, "ENCRYPTION_KEY": key})
    return app.test_cli_runner().invoke(args=["pagesite", "rotate-key", *args])


def test_rotate_key_re_encrypts_every_encrypted_column_in_batches_and_the_old_key_can_go(app, receiver):
    from pagesite.encryption import encrypted_columns
    from pagesite.extensions import db

    with in_app():  # found by their type, not listed by hand
        assert {(t.name, c.name) for t, c in encrypted_columns(db.metadata)} >= {
            ("channels", "credentials_encrypted"), ("mastodon_apps", "client_secret_encrypted")}
    channel_ids = [connect_webhook(receiver, f"Site {n}") for n in range(3)]
    add_mastodon_app("one.example", "secret-one")
    add_mastodon_app("two.example", "secret-two")
    old_key, new_key = app.config["ENCRYPTION_KEY"], Fernet.generate_key().decode()
    before = encrypted_values()
    plain = decrypted_with(old_key, before)
    assert len(before) == 5 and {v["client_secret"] for (table, _, _), v in plain.items()
                                 if table == "mastodon_apps"} == {"secret-one", "secret-two"}
    with in_app():
        from pagesite.models import Channel

        updated = {c.id: c.updated_at for c in db.session.query(Channel).filter(Channel.id.in_(channel_ids))}

    result = rotate(f"{new_key},{old_key}", "--batch-size", "2")  # several batches per table
    assert result.exit_code == 0, result.output
    assert ("Re-encrypted 5 value(s) under the first key (channels.credentials_encrypted: 3, "
            "mastodon_apps.client_secret_encrypted: 2); 0 already were.") in result.output
    after = encrypted_values()
    assert set(after) == set(before) and not set(after.values()) & set(before.values())
    assert decrypted_with(new_key, after) == plain  # the old key can go: everything reads without it
    with pytest.raises(Exception, match="no longer configured"):
        decrypted_with(old_key, after)
    with in_app():  # rotating changed nothing a user sees
        assert {c.id: c.updated_at for c in db.session.query(Channel).filter(Channel.id.in_(channel_ids))} == updated

    again = rotate(f"{new_key},{old_key}")  # twice: nothing left to do, nothing changed
    assert again.exit_code == 0 and "Re-encrypted 0 value(s)" in again.output and "5 already were" in again.output
    assert encrypted_values() == after

    # As after a crash part way: some values under the new key, one still under the old.
    connect_webhook(receiver, "Added under the old key")
    resumed = rotate(f"{new_key},{old_key}", "--batch-size", "1")
    assert resumed.exit_code == 0 and "Re-encrypted 1 value(s)" in resumed.output
    assert "5 already were" in resumed.output
    final = encrypted_values()
    assert len(final) == 6 and decrypted_with(new_key, final)


def break_credentials(channel_id):
    """Its credentials as a key nobody configured left them."""
    from pagesite.extensions import db
    from pagesite.models import Channel

    with in_app():
        row = db.session.get(Channel, channel_id)
        row.credentials_encrypted = Fernet(Fernet.generate_key()).encrypt(b'{"secret": "x"}').decode()
        db.session.commit()


def test_a_credential_no_key_can_read_is_a_problem_on_its_channel_never_a_500(app, client, user, receiver):
    from pagesite.services import channels

    lost = connect_webhook(receiver, "Lost key")
    fine = connect_webhook(receiver, "Fine")
    break_credentials(lost)

    listed = {c["id"]: c for c in client.get("/api/channels").json["items"]}
    assert listed[fine]["status"] == "connected"
    assert listed[lost]["status"] == "needs_attention"
    assert UNREADABLE in listed[lost]["last_error"] and "reconnect it" in listed[lost]["last_error"]
    one = client.get(f"/api/channels/{lost}")
    assert one.status_code == 200 and UNREADABLE in one.json["last_error"]

    browser = sign_in(app.test_client(), app, user)
    page = browser.get("/settings/channels")
    assert page.status_code == 200 and UNREADABLE in page.get_data(as_text=True)
    assert browser.get("/compose").status_code == 200
    token = browser.get("/settings/channels").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    tested = browser.post(f"/settings/channels/{lost}/test", data={"csrf_token": token})
    assert tested.status_code == 422 and UNREADABLE in tested.get_data(as_text=True)

    renamed = client.patch(f"/api/channels/{lost}", json={"settings": {"url": receiver.url}})
    assert renamed.status_code == 422 and UNREADABLE in renamed.json["errors"]["credentials"][0]

    with in_app():  # the daily refresh in the worker: that channel needs attention, the others go on
        counts = channels.refresh_due(now=datetime.now(timezone.utc) + timedelta(days=2))
        assert counts["needs_attention"] == 1 and counts["failed"] == 0, counts
    assert client.get(f"/api/channels/{fine}").json["status"] == "connected"

    page_id = client.post("/api/pages", json={"text": "To a channel whose key is gone"}).json["id"]
    sent = len(receiver.requests)
    published = client.post(f"/api/channels/{lost}/publish", json={"page_id": page_id})
    assert published.status_code == 502, published.json
    assert UNREADABLE in published.json["publish_log"]["error"]
    assert len(receiver.requests) == sent  # nothing was sent

    result = rotate(app.config["ENCRYPTION_KEY"])
    assert result.exit_code == 1
    assert f"channels {lost} (credentials_encrypted): no configured key can read it" in result.output


def test_a_schedule_on_such_a_channel_fails_in_the_worker_with_that_message(processes, app, client, receiver):
    procs = start(processes)
    lost = connect_webhook(receiver, "Lost key")
    break_credentials(lost)
    page_id = client.post("/api/pages", json={"text": "Scheduled to a channel whose key is gone"}).json["id"]
    schedule = client.post("/api/schedules", json={"page_id": page_id, "channel_id": lost}).json
    done = wait_until(lambda: (s := get(schedule["id"])).status in ("failed", "published") and s, timeout=30,
                      message="the schedule to fail")
    assert done.status == "failed" and UNREADABLE in done.last_error
    [entry] = logs_for(schedule["id"])
    assert UNREADABLE in entry.error and entry.sent is None
    channel = client.get(f"/api/channels/{lost}").json
    assert channel["status"] == "needs_attention" and UNREADABLE in channel["last_error"]
    for proc in procs:
        with open(proc.log_path) as f:
            assert "Traceback" not in f.read()
