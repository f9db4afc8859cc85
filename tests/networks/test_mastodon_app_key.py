"""A Mastodon app secret no configured key can read (an old PAGESITE_ENCRYPTION_KEY dropped before
`rotate-key` ran) is replaced by registering with the instance again: signing in goes on, no 500."""

from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet

from scheduling_helpers import in_app

pytestmark = pytest.mark.usefixtures("bind_app")


@contextmanager
def base_url(app, value="http://pagesite.example"):
    saved = app.config["BASE_URL"], app.config["BASE_URL_GIVEN"]
    app.config["BASE_URL"], app.config["BASE_URL_GIVEN"] = value, True
    try:
        yield
    finally:
        app.config["BASE_URL"], app.config["BASE_URL_GIVEN"] = saved


def client_id_of(address):
    return parse_qs(urlsplit(address).query)["client_id"][0]


def test_an_unreadable_app_secret_is_registered_again(app, mastodon_mock):
    from pagesite import encryption
    from pagesite.extensions import db
    from pagesite.models import MastodonApp
    from pagesite.services import mastodon_signin

    with base_url(app), in_app():
        first, _ = mastodon_signin.start("Signed in", {"instance_url": mastodon_mock.url})
        row = db.session.query(MastodonApp).one()
        row.client_secret_encrypted = Fernet(Fernet.generate_key()).encrypt(b'{"client_secret": "x"}').decode()
        db.session.commit()
    with base_url(app), in_app():
        second, _ = mastodon_signin.start("Signed in", {"instance_url": mastodon_mock.url})
        row = db.session.query(MastodonApp).one()
        assert encryption.readable(row.client_secret_encrypted)  # its new secret, under the configured key
        assert row.client_id == client_id_of(second)
    assert client_id_of(second) != client_id_of(first)
