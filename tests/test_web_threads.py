"""The web process keeps answering while publish-now requests wait on a slow
provider: gunicorn as the Procfile starts it (gunicorn.conf.py's threaded
workers), a webhook channel whose receiver takes 20 s to answer."""

import re
import threading
import time

import httpx

from conftest import OWNER_EMAIL, OWNER_PASSWORD, wait_until

RECEIVER_SECONDS = 20  # longer than publish-now waits (PAGESITE_PUBLISH_NOW_WAIT, 10 s)
WAITING = 4  # publish-now requests held at once: twice the worker processes of gunicorn.conf.py
ANSWER_WITHIN = 1.0  # seconds


def signed_in(url):
    """An HTTP client with a signed-in session on the web process, as a browser has."""
    browser = httpx.Client(base_url=url, timeout=10)
    form = browser.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    response = browser.post("/signin", data={"email": OWNER_EMAIL, "password": OWNER_PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and "pagesite_session" in browser.cookies, response.text
    return browser


def test_pages_and_health_answer_while_publish_now_requests_wait_on_a_slow_provider(
        processes, client, api_token, receiver):
    channel = client.post("/api/channels", json={
        "provider": "webhook", "name": "Slow site", "settings": {"url": receiver.url},
        "credentials": {"secret": receiver.secret}})
    assert channel.status_code == 201, channel.json
    channel_id = channel.json["id"]
    pages = [client.post("/api/pages", json={"text": f"Wait for me {n}"}).json["id"] for n in range(WAITING)]
    # The production limits: the call may take 30 s, publish-now waits 10 s of it (the run's 5 s would end it sooner).
    web = processes.web(env={"PAGESITE_PUBLISH_TIMEOUT": "30", "PAGESITE_PUBLISH_NOW_WAIT": "10"})
    browser = signed_in(web.url)
    checks = ["/schedules", "/compose", "/api/health"]
    for path in checks:
        assert browser.get(path).status_code in (200, 503)  # templates compiled, connections open

    receiver.hold(RECEIVER_SECONDS)
    answers = [None] * WAITING

    def publish_now(n):
        # Both ways of publishing now: to a channel by id, and to a provider by name.
        path = f"/api/channels/{channel_id}/publish" if n % 2 == 0 else "/api/providers/webhook/publish"
        response = httpx.post(web.url + path, json={"page_id": pages[n]},
                              headers={"Authorization": f"Bearer {api_token}"}, timeout=60)
        answers[n] = (response.status_code, response.json())

    threads = [threading.Thread(target=publish_now, args=(n,), daemon=True) for n in range(WAITING)]
    for thread in threads:
        thread.start()
    try:
        try:
            wait_until(lambda: len(receiver.deliveries()) == WAITING, timeout=8, message="the slow receiver")
        except AssertionError:
            raise AssertionError(f"only {len(receiver.deliveries())} of {WAITING} publish-now requests reached "
                                 "the slow receiver in 8 s: the web process serves no more at once") from None
        took = {}
        for path in checks:
            started = time.monotonic()
            response = browser.get(path, timeout=5)
            took[path] = time.monotonic() - started
            # The health check may say 503 (no worker runs here): an answer all the same.
            assert response.status_code in ((200, 503) if path == "/api/health" else (200,)), (path, response.text[:500])
        assert answers == [None] * WAITING, "the publish-now requests stopped waiting before the checks ended"
        slow = {path: f"{seconds:.2f} s" for path, seconds in took.items() if seconds >= ANSWER_WITHIN}
        assert not slow, f"while {WAITING} publish-now requests waited, pages answered late: {slow}"
    finally:
        receiver.release()
        for thread in threads:
            thread.join(timeout=60)
    # Released, the receiver answers: each publish ends published (or, on a slow machine, is still under way).
    assert all(status in (201, 202) for status, _ in answers), answers
    assert len(receiver.deliveries()) == WAITING
