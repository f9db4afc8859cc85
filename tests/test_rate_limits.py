"""Rate limits: the N+1th request of each limit is a 429 (a problem+json from the API with
Retry-After, a page saying what was limited and when to try again from a form), with the
default limits (pagesite/rate_limits.py)."""

import re

from conftest import OWNER_EMAIL, OWNER_PASSWORD


def csrf(client, path):
    return re.search(rb'name="csrf_token" value="([^"]+)"', client.get(path).data).group(1).decode()


def signed_in(app):
    browser = app.test_client()
    answer = browser.post("/signin", data={"email": OWNER_EMAIL, "password": OWNER_PASSWORD,
                                           "csrf_token": csrf(browser, "/signin")})
    assert answer.status_code == 302
    return browser


def assert_form_message(answer, what, limit):
    """A page a person can read: what was limited, the limit, when to try again."""
    assert answer.status_code == 429 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert f"Too many {what}" in page and f"at most {limit}" in page, page
    assert re.search(r"Try again in \d+ seconds?\.", page), page
    assert int(answer.headers["Retry-After"]) >= 1


def assert_problem(answer, what, limit):
    assert answer.status_code == 429 and answer.mimetype == "application/problem+json"
    body = answer.json
    assert body["status"] == 429 and body["title"] == "Too many requests"
    assert f"Too many {what} for your account: at most {limit}" in body["detail"]
    assert int(answer.headers["Retry-After"]) >= 1


def test_the_eleventh_failed_sign_in_from_an_address_is_told_to_wait(anon, user):
    token = csrf(anon, "/signin")
    for n in range(10):
        assert anon.post("/signin", data={"email": OWNER_EMAIL, "password": f"wrong {n}",
                                          "csrf_token": token}).status_code == 401
    answer = anon.post("/signin", data={"email": OWNER_EMAIL, "password": "wrong again", "csrf_token": token})
    assert_form_message(answer, "failed sign-ins from your address", "10 per 1 minute")
    assert "Sign in" in answer.get_data(as_text=True)  # and the way back


def test_the_twenty_first_failed_sign_in_for_an_account_is_told_to_wait(app, user, monkeypatch):
    # Each address may fail 10 times a minute: the account's own limit shows from many addresses,
    # so the address limit is lifted here to reach it from one.
    monkeypatch.setitem(app.config, "SIGNIN_RATE_LIMIT", "1000 per minute")
    browser = app.test_client()
    token = csrf(browser, "/signin")
    for n in range(20):
        assert browser.post("/signin", data={"email": OWNER_EMAIL.upper(), "password": f"wrong {n}",
                                             "csrf_token": token}).status_code == 401
    answer = browser.post("/signin", data={"email": OWNER_EMAIL, "password": OWNER_PASSWORD, "csrf_token": token})
    assert_form_message(answer, "failed sign-ins for this account", "20 per 1 hour")
    other = browser.post("/signin", data={"email": "someone@example.com", "password": "x", "csrf_token": token})
    assert other.status_code == 401  # another account is not held up


def test_the_eleventh_failed_set_up_is_told_to_wait(anon, app):
    from pagesite.services import auth

    with app.app_context():
        auth.issue_setup_code()
    token = csrf(anon, "/setup")
    account = {"email": "me@example.com", "password": "a long enough secret", "confirm": "a long enough secret",
               "csrf_token": token}
    for n in range(10):
        assert anon.post("/setup", data={**account, "setup_code": f"WRONG-{n}"}).status_code == 422
    answer = anon.post("/setup", data={**account, "setup_code": "WRONG"})
    assert_form_message(answer, "failed set-up attempts from your address", "10 per 1 minute")


def test_the_eleventh_token_in_an_hour_is_refused_in_the_api_and_in_settings(app, client, user):
    browser = signed_in(app)
    token = csrf(browser, "/settings")
    for n in range(5):  # the API and Settings share one count
        # A refused token creates nothing and is not counted.
        assert client.post("/api/tokens", json={"name": "x", "expires_in_days": 0}).status_code == 422
        assert client.post("/api/tokens", json={"name": f"api {n}"}).status_code == 201
        assert browser.post("/settings/tokens", data={"name": f"web {n}", "csrf_token": token}).status_code == 302
    assert_problem(client.post("/api/tokens", json={"name": "one more"}), "new API tokens", "10 per 1 hour")
    answer = browser.post("/settings/tokens", data={"name": "one more", "csrf_token": token})
    assert_form_message(answer, "new API tokens for your account", "10 per 1 hour")
    assert len(client.get("/api/tokens").json["items"]) == 1 + 10  # the test's own, and ten


def test_the_twenty_first_channel_connection_is_refused_in_the_api_and_the_web_form(app, client, user):
    browser = signed_in(app)
    token = csrf(browser, "/settings/channels")
    for n in range(10):  # both kinds of connect share one count
        assert client.post("/api/channels", json={"provider": "stub", "name": f"api {n}"}).status_code == 201
        form = browser.post("/settings/channels", data={"provider": "stub", "name": f"web {n}", "csrf_token": token})
        assert form.status_code == 201
    assert_problem(client.post("/api/channels", json={"provider": "stub", "name": "one more"}),
                   "channel connections", "20 per 1 hour")
    answer = browser.post("/settings/channels", data={"provider": "stub", "name": "one more", "csrf_token": token})
    assert_form_message(answer, "channel connections for your account", "20 per 1 hour")
    htmx = browser.post("/settings/channels", headers={"HX-Request": "true"},
                        data={"provider": "stub", "name": "one more", "csrf_token": token})
    assert htmx.status_code == 429 and "Too many channel connections" in htmx.get_data(as_text=True)
    assert len(client.get("/api/channels").json["items"]) == 1 + 20  # the built-in stub, and twenty


def test_the_eleventh_wrong_current_password_is_told_to_wait(app, user):
    browser = signed_in(app)
    token = csrf(browser, "/settings")
    change = {"new_password": "an even longer new secret", "confirm_password": "an even longer new secret",
              "csrf_token": token}
    for n in range(10):
        assert browser.post("/settings/password", data={**change, "current_password": f"guess {n}"}).status_code == 422
    answer = browser.post("/settings/password", data={**change, "current_password": OWNER_PASSWORD})
    assert_form_message(answer, "wrong current passwords for your account", "10 per 1 minute")
