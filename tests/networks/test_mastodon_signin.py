"""Connecting a Mastodon channel by signing in through the instance
(services/mastodon_signin.py) against mastodon-mock: the app registered once
per instance with its secret encrypted, the state checked, the code exchanged,
and each way it can go wrong said on a field of the connect form."""

from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy

from conftest import free_port
from scheduling_helpers import in_app

pytestmark = pytest.mark.usefixtures("bind_app")
BASE_URL = "http://pagesite.example"


@contextmanager
def base_url(app, value=BASE_URL):
    saved = app.config["BASE_URL"], app.config["BASE_URL_GIVEN"]
    app.config["BASE_URL"], app.config["BASE_URL_GIVEN"] = value, True
    try:
        yield
    finally:
        app.config["BASE_URL"], app.config["BASE_URL_GIVEN"] = saved


def authorise(mock, address, username):
    """What the person does on the instance: pick their account; the answer the instance sends back."""
    query = parse_qs(urlsplit(address).query)
    chosen = httpx.post(f"{mock.url}/oauth/authorize", data={
        "username": username, "redirect_uri": query["redirect_uri"][0], "client_id": query["client_id"][0],
        "state": query["state"][0]})
    assert chosen.status_code == 302
    location = chosen.headers["location"]
    assert location.startswith(BASE_URL + "/settings/channels/mastodon/callback?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def start(name="Signed in", settings=None):
    from pagesite.services import mastodon_signin

    with in_app():
        return mastodon_signin.start(name, settings)


def finish(pending, answer):
    from pagesite.services import mastodon_signin

    with in_app():
        channel, _ = mastodon_signin.finish(pending, answer)
        return channel.id, channel.account["handle"], channel.settings


def errors_of(call):
    from pagesite.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        call()
    return refused.value.errors


def test_signing_in_registers_once_per_instance_and_connects_the_account(app, mastodon_mock):
    from pagesite.extensions import db
    from pagesite.services import channels

    username, _ = mastodon_mock.new_account()
    with base_url(app):
        address, pending = start(settings={"instance_url": mastodon_mock.url + "/", "visibility": "unlisted"})
        query = parse_qs(urlsplit(address).query)
        assert address.startswith(mastodon_mock.url + "/oauth/authorize?")
        assert query["redirect_uri"] == [BASE_URL + "/settings/channels/mastodon/callback"]
        assert query["code_challenge_method"] == ["S256"] and query["state"] == [pending["state"]]
        assert pending["verifier"] not in address  # only its challenge leaves pagesite
        again, _ = start(settings={"instance_url": mastodon_mock.url})
        assert parse_qs(urlsplit(again).query)["client_id"] == query["client_id"]  # remembered, not re-registered
        with in_app():
            [(client_id, secret)] = db.session.execute(sqlalchemy.text(
                "SELECT client_id, client_secret_encrypted FROM mastodon_apps")).all()
        assert client_id == query["client_id"][0] and secret.startswith("gAAAA")  # Fernet, not the secret

        channel_id, handle, settings = finish(pending, authorise(mastodon_mock, address, username))
    assert handle == f"@{username}@{urlsplit(mastodon_mock.url).netloc}"
    assert settings["visibility"] == "unlisted" and settings["instance_url"] == mastodon_mock.url
    with in_app():
        channel = channels.get_channel(channel_id)
        assert channel.status == "connected" and channel.limits["max_characters"] == 500
        token = channels.channel_data(channel).credentials["access_token"]
    assert mastodon_mock.api("GET", "/api/v1/accounts/verify_credentials", token=token).json()["username"] == username


def test_a_changed_base_url_registers_again_with_the_new_redirect(app, mastodon_mock):
    with base_url(app):
        first, _ = start(settings={"instance_url": mastodon_mock.url})
    with base_url(app, "https://moved.example"):
        second, _ = start(settings={"instance_url": mastodon_mock.url})
    assert parse_qs(urlsplit(second).query)["redirect_uri"] == ["https://moved.example/settings/channels/mastodon/callback"]
    assert parse_qs(urlsplit(second).query)["client_id"] != parse_qs(urlsplit(first).query)["client_id"]


def test_a_wrong_state_a_refusal_and_a_lost_sign_in_are_said_on_the_sign_in(app, mastodon_mock):
    username, _ = mastodon_mock.new_account()
    with base_url(app):
        address, pending = start(settings={"instance_url": mastodon_mock.url})
        answer = authorise(mastodon_mock, address, username)
        assert "does not match" in errors_of(lambda: finish(pending, {**answer, "state": "forged"}))["signin"][0]
        assert "does not match" in errors_of(lambda: finish(None, answer))["signin"][0]
        denied = errors_of(lambda: finish(pending, {"state": pending["state"], "error": "access_denied"}))
        assert "did not authorise pagesite" in denied["signin"][0]
        expired = errors_of(lambda: finish({**pending, "started": pending["started"] - 3600}, answer))
        assert "expired" in expired["signin"][0]
        refused = errors_of(lambda: finish(pending, {"state": pending["state"], "code": "not-a-code"}))
        assert "did not accept the sign-in" in refused["signin"][0]
    with in_app():
        from pagesite.services import channels

        assert [c.provider for c in channels.live_channels()] == ["stub"]  # nothing connected


def test_an_unreachable_instance_and_a_missing_base_url_are_said_before_leaving(app, mastodon_mock):
    with base_url(app):
        nowhere = errors_of(lambda: start(settings={"instance_url": f"http://127.0.0.1:{free_port()}"}))
        assert "Nothing answered" in nowhere["settings.instance_url"][0]
        bad = errors_of(lambda: start(name="", settings={"instance_url": "not a url"}))
        assert set(bad) == {"name"}  # the form's own checks come first, all at once
    unset = errors_of(lambda: start(settings={"instance_url": mastodon_mock.url}))
    assert "PAGESITE_BASE_URL" in unset["signin"][0]


def test_signing_in_again_reconnects_the_channel_whose_token_was_revoked(app, mastodon_mock):
    from pagesite.extensions import db
    from pagesite.models import Channel
    from pagesite.services import channels, mastodon_signin

    username, _ = mastodon_mock.new_account()
    with base_url(app):
        address, pending = start(settings={"instance_url": mastodon_mock.url, "visibility": "unlisted"})
        channel_id, handle, _ = finish(pending, authorise(mastodon_mock, address, username))
        with in_app():
            old = channels.channel_data(channels.get_channel(channel_id)).credentials["access_token"]
        mastodon_mock.api("POST", "/oauth/revoke", data={"token": old}).raise_for_status()
        with in_app():
            channels.mark_needs_attention(channel_id, "The instance refused pagesite's access token.")
            db.session.commit()
            address, pending = mastodon_signin.start_reconnect(channel_id)
        assert pending["channel_id"] == channel_id and pending["verifier"] not in address
        again_id, again_handle, settings = finish(pending, authorise(mastodon_mock, address, username))
    assert (again_id, again_handle) == (channel_id, handle)  # the same channel, not a second one
    assert settings["visibility"] == "unlisted"  # what it had is kept
    with in_app():
        channel = channels.get_channel(channel_id)
        assert channel.status == "connected"
        token = channels.channel_data(channel).credentials["access_token"]
        assert db.session.query(Channel).filter(Channel.provider == "mastodon").count() == 1
    assert token != old
    assert mastodon_mock.api("GET", "/api/v1/accounts/verify_credentials", token=token).json()["username"] == username
    # Reconnecting by signing in is for Mastodon channels only.
    with base_url(app), in_app():
        stub = channels.live_channels()[0]
        assert stub.provider == "stub"
        assert "not a Mastodon channel" in errors_of(lambda: mastodon_signin.start_reconnect(stub.id))["signin"][0]
