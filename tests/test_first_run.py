"""First run: concurrent set-ups with the right code create exactly one account.

Real concurrent requests (the test client from several threads, each its own
browser), on whichever database the run uses (PAGESITE_TEST_DATABASE_URL).
"""

import re
import threading

SETUPS = 6
PASSWORD = "a long enough secret"


def _csrf(client):
    page = client.get("/setup")
    assert page.status_code == 200
    return re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()


def test_concurrent_setups_create_exactly_one_account(app):
    from pagesite.extensions import db
    from pagesite.models import SetupCode, User
    from pagesite.services import auth

    with app.app_context():
        code = auth.issue_setup_code()
    browsers = [app.test_client() for _ in range(SETUPS)]
    tokens = [_csrf(browser) for browser in browsers]
    start = threading.Barrier(SETUPS)
    answers = [None] * SETUPS

    def set_up(n):
        start.wait()  # every request is sent at once
        answers[n] = browsers[n].post("/setup", data={
            "email": f"owner{n}@example.com", "password": PASSWORD, "confirm": PASSWORD,
            "setup_code": code, "csrf_token": tokens[n]})

    threads = [threading.Thread(target=set_up, args=(n,)) for n in range(SETUPS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [302] + [409] * (SETUPS - 1), statuses
    [winner] = [n for n, answer in enumerate(answers) if answer.status_code == 302]
    for n, answer in enumerate(answers):
        if n != winner:  # told on the form, with the way to sign in
            page = answer.get_data(as_text=True)
            assert "An account already exists" in page and 'role="alert"' in page and "/signin" in page
    with app.app_context():
        assert [u.email for u in db.session.query(User).all()] == [f"owner{winner}@example.com"]
        assert db.session.query(SetupCode).count() == 0  # spent with the account's creation
        assert not auth.setup_code_active()
    assert browsers[winner].get("/settings").status_code == 200  # the winner is signed in
    assert browsers[(winner + 1) % SETUPS].get("/settings").status_code == 302  # the others are not


def test_a_setup_after_the_account_exists_is_told_so_on_the_form(app):
    from pagesite.extensions import db
    from pagesite.models import User
    from pagesite.services import auth

    with app.app_context():
        code = auth.issue_setup_code()
    late = app.test_client()
    token = _csrf(late)  # the form was open before the account existed
    first = app.test_client()
    done = first.post("/setup", data={"email": "first@example.com", "password": PASSWORD, "confirm": PASSWORD,
                                      "setup_code": code, "csrf_token": _csrf(first)})
    assert done.status_code == 302
    answer = late.post("/setup", data={"email": "second@example.com", "password": PASSWORD, "confirm": PASSWORD,
                                       "setup_code": code, "csrf_token": token})
    assert answer.status_code == 409
    assert "An account already exists" in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(User).count() == 1
