"""Sessions and API tokens: a session lives on the server, signing out ends it, changing the
password ends the others (and the tokens, unless kept), tokens expire and are stored hashed."""

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy

from conftest import OWNER_EMAIL, OWNER_PASSWORD

NEW_PASSWORD = "an even longer new secret"


def csrf(client, path="/signin"):
    return re.search(rb'name="csrf_token" value="([^"]+)"', client.get(path).data).group(1).decode()


def sign_in(client, password=OWNER_PASSWORD):
    response = client.post("/signin", data={"email": OWNER_EMAIL, "password": password, "csrf_token": csrf(client)})
    return response


def session_key(client):
    with client.session_transaction() as session:
        return session.get("sid")


def copy_cookies(source, target, app):
    """What someone who copied the browser's cookies holds."""
    name = app.config["SESSION_COOKIE_NAME"]
    target.set_cookie(name, source.get_cookie(name).value)


def test_sign_in_makes_a_new_server_side_session_in_a_secure_cookie(app, user):
    from pagesite import create_app
    from pagesite.services import auth

    https = create_app({"TESTING": True, "HTTPS": True})
    browser = https.test_client()
    with https.app_context():
        planted = auth.start_session(user)  # a session key someone fixed in this browser before sign-in
    with browser.session_transaction(base_url="https://localhost") as session:
        session["sid"], session["user_id"] = planted, user.id
    form = browser.get("/signin", base_url="https://localhost")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', form.data).group(1).decode()
    answer = browser.post("/signin", base_url="https://localhost", headers={"Referer": "https://localhost/signin"},
                          data={"email": OWNER_EMAIL, "password": OWNER_PASSWORD, "csrf_token": token})
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    with browser.session_transaction(base_url="https://localhost") as session:
        key = session["sid"]
    assert key and key != planted  # the session signed in is a new one
    with https.app_context():
        assert auth.session_for(key).user_id == user.id
    # Without PAGESITE_HTTPS the cookie is not Secure (it would never be sent over http).
    plain = app.test_client()
    assert sign_in(plain).status_code == 302
    assert not plain.get_cookie(app.config["SESSION_COOKIE_NAME"]).secure


def test_signing_out_ends_the_session_even_for_a_copied_cookie(app, user):
    browser, copy, other = app.test_client(), app.test_client(), app.test_client()
    assert sign_in(browser).status_code == 302
    assert sign_in(other).status_code == 302
    copy_cookies(browser, copy, app)
    assert copy.get("/settings").status_code == 200  # the copy works while the session lives
    token = csrf(browser, "/settings")
    assert browser.post("/signout", data={"csrf_token": token}).status_code == 302
    for client in (browser, copy):
        answer = client.get("/settings")
        assert answer.status_code == 302 and "/signin" in answer.headers["Location"]
    assert other.get("/settings").status_code == 200  # another browser's session is its own


def test_a_cookie_without_a_live_session_is_not_signed_in(app, user):
    """A cookie made by hand (or before sessions were kept server-side) names a user and nothing more."""
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["user_id"] = user.id
    assert browser.get("/settings").status_code == 302
    with browser.session_transaction() as session:
        session["sid"], session["user_id"] = "guessed-key", user.id
    assert browser.get("/settings").status_code == 302


def change_password(client, current, new, confirm=None, keep=False):
    data = {"current_password": current, "new_password": new, "confirm_password": confirm or new,
            "csrf_token": csrf(client, "/settings")}
    if keep:
        data["keep_tokens"] = "on"
    return client.post("/settings/password", data=data)


@pytest.mark.parametrize("keep", [False, True])
def test_changing_the_password_ends_every_other_session_and_the_tokens_unless_kept(app, user, api_token, keep):
    from pagesite.services import auth

    here, elsewhere = app.test_client(), app.test_client()
    assert sign_in(here).status_code == 302 and sign_in(elsewhere).status_code == 302
    before = session_key(here)
    bearer = {"Authorization": f"Bearer {api_token}"}

    wrong = change_password(here, "not my password", NEW_PASSWORD, keep=keep)
    assert wrong.status_code == 422 and b"That is not your current password." in wrong.data
    differ = change_password(here, OWNER_PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD + "!")
    assert differ.status_code == 422 and b"The two passwords differ." in differ.data
    assert elsewhere.get("/settings").status_code == 200  # nothing changed yet

    done = change_password(here, OWNER_PASSWORD, NEW_PASSWORD, keep=keep)
    assert done.status_code == 302
    page = here.get("/settings")
    assert page.status_code == 200 and b"Your password is changed" in page.data  # this browser goes on...
    assert session_key(here) != before  # ...in a new session
    assert elsewhere.get("/settings").status_code == 302  # every other one has ended
    assert app.test_client().get("/api/pages", headers=bearer).status_code == (200 if keep else 401)
    with app.app_context():
        assert auth.authenticate(OWNER_EMAIL, OWNER_PASSWORD) is None
        assert auth.authenticate(OWNER_EMAIL, NEW_PASSWORD) is not None


def test_api_tokens_can_expire_and_an_expired_one_says_so(app, client, user):
    from pagesite.extensions import db
    from pagesite.models import ApiToken

    made = client.post("/api/tokens", json={"name": "nightly", "expires_in_days": 7})
    assert made.status_code == 201, made.json
    body = made.json
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(days=7))) < timedelta(minutes=5)
    assert body["token"].startswith(body["prefix"]) and body["revoked_at"] is None
    later = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    assert client.post("/api/tokens", json={"name": "dated", "expires_at": later}).status_code == 201
    never = client.post("/api/tokens", json={"name": "forever"}).json
    assert never["expires_at"] is None

    past = client.post("/api/tokens", json={"name": "x", "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422 and "in the past" in past.json["errors"]["expires_at"][0]
    both = client.post("/api/tokens", json={"name": "x", "expires_at": later, "expires_in_days": 3})
    assert both.status_code == 422 and "expires_in_days" in both.json["errors"]
    assert client.post("/api/tokens", json={"name": "x", "expires_in_days": 0}).status_code == 422

    nightly = {"Authorization": f"Bearer {body['token']}"}
    anyone = app.test_client()
    assert anyone.get("/api/pages", headers=nightly).status_code == 200
    with app.app_context():  # a week goes by
        db.session.query(ApiToken).filter_by(id=body["id"]).update(
            {"expires_at": datetime.now(timezone.utc) - timedelta(seconds=1)})
        db.session.commit()
    expired = anyone.get("/api/pages", headers=nightly)
    assert expired.status_code == 401 and expired.mimetype == "application/problem+json"
    assert "expired" in expired.json["detail"]
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    listed = {t["name"]: t for t in client.get("/api/tokens").json["items"]}
    assert set(listed) == {"tests", "nightly", "dated", "forever"} and "token" not in listed["nightly"]


def test_settings_create_tokens_with_an_expiry(app, user):
    browser = app.test_client()
    assert sign_in(browser).status_code == 302
    token = csrf(browser, "/settings")
    refused = browser.post("/settings/tokens", data={"name": "ci", "expires_in_days": "0", "csrf_token": token})
    assert refused.status_code == 422 and b"from 1 to 3650" in refused.data
    assert browser.post("/settings/tokens", data={"name": "ci", "expires_in_days": "30",
                                                  "csrf_token": token}).status_code == 302
    page = browser.get("/settings").get_data(as_text=True)
    new = re.search(r'id="new-token" class="token" type="text" readonly value="([^"]+)"', page).group(1)
    row = re.search(r'<tr id="token-\d+">.*?</tr>', page, re.S).group(0)
    expected = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert "ci" in row and expected in row and "Active" in row
    assert app.test_client().get("/api/pages", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def _every_value(app):
    """Every value of every row of every table, as text."""
    from pagesite.extensions import db

    with app.app_context():
        with db.engine.connect() as connection:
            for table in db.metadata.sorted_tables:
                for row in connection.execute(sqlalchemy.select(table)):
                    for value in row:
                        if value is not None:
                            yield str(value)


def test_tokens_and_session_keys_are_nowhere_in_the_database(app, client, user):
    import hashlib

    secrets = [client.post("/api/tokens", json={"name": "api", "expires_in_days": 1}).json["token"]]
    browser = app.test_client()
    assert sign_in(browser).status_code == 302
    browser.post("/settings/tokens", data={"name": "web", "expires_in_days": "5",
                                           "csrf_token": csrf(browser, "/settings")})
    page = browser.get("/settings").get_data(as_text=True)
    secrets.append(re.search(r'id="new-token" class="token" type="text" readonly value="([^"]+)"', page).group(1))
    result = app.test_cli_runner().invoke(args=["token", "create", "cli"])
    secrets.append(result.output.strip().splitlines()[-1])
    secrets.append(session_key(browser))
    assert all(secrets) and len(set(secrets)) == 4
    values = list(_every_value(app))
    for secret in secrets:
        body = secret.removeprefix("ps_")
        assert not [v for v in values if body in v], "a token or session key is stored as it is"
        assert hashlib.sha256(secret.encode()).hexdigest() in values  # only its digest
