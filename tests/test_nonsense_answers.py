"""A peer that answers nonsense gets a clear error, never a 500: each provider
(webhook, Mastodon, Bluesky) against one local server (nonsense_peer.py) with a
mode per kind of nonsense, at connect (POST /api/channels: a 422 with the
message), at publish (``publish_schedule``, as a worker's job runs it: the
schedule ends queued for a retry or failed with the message, never
publishing) and at the daily refresh (the stored account is kept).
"""

import pytest

from nonsense_peer import NonsensePeer
from scheduling_helpers import get, in_app

pytestmark = pytest.mark.usefixtures("bind_app")

QUICK = 1.5  # seconds: the total time of each exchange here, so a drip is cut off quickly


@pytest.fixture
def peer():
    p = NonsensePeer()
    p.redirect_to = "https://elsewhere.example/moved"  # only ever named in a message, never fetched
    yield p
    p.close()


@pytest.fixture(autouse=True)
def quick(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLISH_TIMEOUT", QUICK)
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT", QUICK)


NETWORKS = {
    "webhook": ("settings.url", lambda url: ({"url": url + "/hook"}, {})),
    "mastodon": ("settings.instance_url", lambda url: ({"instance_url": url}, {"access_token": "token"})),
    "bluesky": ("settings.service_url",
                lambda url: ({"service_url": url}, {"identifier": "alice.test", "app_password": "a-b-c-d"})),
}


def api_name(provider):
    return {"mastodon": "not Mastodon's API: check the instance's address.",
            "bluesky": "not Bluesky's API: check the service address."}[provider]


# What each mode is called in the message of a network (Mastodon, Bluesky) that expected JSON.
ANSWERED = {
    "web_page": "answered with a web page (“Welcome to nginx!”), ",
    "empty": "answered with an empty body, ",
    "truncated": "answered with JSON that is cut off or broken, ",
    "list": "answered with JSON that is a list, not an object, ",
    "error_in_200": "answered with an error in a success answer (InternalServerError: Something broke), ",
    "html_403": "answered with HTTP 403 and a web page (“403 Forbidden”), ",
    "compressed": "answered with a compressed answer (gzip) though none was asked for, ",
    "endless": "answered with more than 1 MB without stopping, ",
}
CUT_OFF = f"was still sending its answer after {QUICK:g} s and was cut off"


def expected_connect_error(provider, peer, mode):
    """(field, words the message has) for connecting ``provider`` to a peer answering ``mode``."""
    if provider == "webhook":
        return {
            "html_403": ("credentials.secret", "The receiver refused the signed test delivery (403 Forbidden: a "
                                               "web page (“403 Forbidden”)); check that"),
            "noisy_500": ("settings.url", "The receiver answered 500 Internal Server Error to a test delivery "
                                          "(\\x1b[31mTraceback (most recent call last): File"),
            "compressed": ("settings.url", "answered the test delivery with a compressed answer (gzip) though "
                                           "none was asked for; a receiver answers 2xx with a short body."),
            "endless": ("settings.url", "answered the test delivery with more than 1 MB without stopping"),
            "drip": ("settings.url", f"was still sending its answer to the test delivery after {QUICK:g} s and "
                                     "was cut off"),
            "drip_headers": ("settings.url", "was still sending its answer to the test delivery after"),
            "redirect": ("settings.url", "The receiver answered 302 Found to a test delivery ((empty body)); "
                                         "it must answer 2xx."),
        }[mode]
    field = NETWORKS[provider][0]
    if mode in ANSWERED:
        return field, f"{peer.url} {ANSWERED[mode]}{api_name(provider)}"
    if mode == "wrong_types":
        return field, f"{peer.url} answered with JSON where {'id' if provider == 'mastodon' else 'accessJwt'} " \
                      "is a number, not text, " + api_name(provider)
    if mode in ("drip", "drip_headers"):
        return field, f"{peer.url} {CUT_OFF}: check the"
    if mode == "redirect":
        return field, f"{peer.url} sent a redirect to https://elsewhere.example/moved while"
    if mode == "noisy_500":  # a server error: try again later, said on the form as a whole
        return "provider", "(HTTP 500" if provider == "mastodon" else "(HTTP 500: Internal Server Error)"
    raise AssertionError(mode)


NETWORK_MODES = ["web_page", "empty", "truncated", "wrong_types", "list", "error_in_200", "html_403", "noisy_500",
                 "compressed", "endless", "drip", "drip_headers", "redirect"]
WEBHOOK_MODES = ["html_403", "noisy_500", "compressed", "endless", "drip", "drip_headers", "redirect"]
CASES = [(p, m) for p in ("mastodon", "bluesky") for m in NETWORK_MODES] + [("webhook", m) for m in WEBHOOK_MODES]


@pytest.mark.parametrize("provider, mode", CASES)
def test_connecting_to_a_peer_that_answers_nonsense_is_a_422_saying_so(client, peer, provider, mode):
    peer.mode = mode
    settings, credentials = NETWORKS[provider][1](peer.url)
    response = client.post("/api/channels", json={"provider": provider, "name": "Nonsense", "settings": settings,
                                                   "credentials": credentials})
    assert response.status_code == 422, response.json
    field, words = expected_connect_error(provider, peer, mode)
    [message] = response.json["errors"][field]
    assert words in message, message
    assert len(message) < 500 and "\x1b" not in message and "\n" not in message  # short, escaped
    assert len(client.get("/api/channels").json["items"]) == 1  # nothing saved
    assert peer.requests  # it was the peer that answered


@pytest.mark.parametrize("mode", ["web_page", "empty", "truncated", "wrong_types", "list", "error_in_200"])
def test_a_webhook_receiver_may_answer_2xx_with_any_body(client, peer, mode):
    peer.mode = mode
    response = client.post("/api/channels", json={"provider": "webhook", "name": "Any body",
                                                   "settings": {"url": peer.url}})
    assert response.status_code == 201, response.json


def connect_and_schedule(provider, url):
    from pagesite.services import channels, pages, schedules

    settings, credentials = NETWORKS[provider][1](url)
    with in_app():
        channel, _ = channels.create_channel(provider, f"My {provider}", settings, credentials)
        page = pages.create_page("Hello, nonsense")
        [schedule] = schedules.create_schedules(page.id, [channel.id], None)
        return channel.id, schedule.id


def publish(schedule_id):
    from pagesite.services import publishing

    with in_app():
        return publishing.publish_schedule(schedule_id).outcome


def expected_publish(provider, peer, mode):
    """(outcome, words of the schedule's last error) for publishing to a peer answering ``mode``."""
    if mode == "redirect":
        if provider == "webhook":
            return "failed", "The receiver answered 302 Found (a redirect to https://elsewhere.example/moved); " \
                             "redirects are not followed"
        return "failed", f"{peer.url} sent a redirect to https://elsewhere.example/moved while"
    if mode in ("drip", "drip_headers"):
        # The attempt's own timeout (the same seconds) may speak first; either way it is retried.
        return "retrying", ("cut off", f"did not answer within {QUICK:g} s")
    if provider == "webhook":
        return {"html_403": ("failed", "The receiver refused the delivery: 403 Forbidden: a web page "
                                       "(“403 Forbidden”)"),
                "noisy_500": ("retrying", "The receiver answered 500 Internal Server Error: \\x1b[31mTraceback"),
                "compressed": ("retrying", "answered with a compressed answer (gzip) though none was asked for; "
                                           "the delivery is retried with the same webhook-id."),
                "endless": ("retrying", "answered with more than 1 MB without stopping; the delivery is retried")}[mode]
    if mode in ANSWERED:
        return "retrying", f"{peer.url} {ANSWERED[mode]}{api_name(provider)}"
    if mode == "wrong_types":
        if provider == "bluesky":  # the record read back to settle the post speaks last: no uri there either
            return "retrying", f"{peer.url} answered with JSON without uri, {api_name(provider)}"
        return "retrying", f"{peer.url} answered with JSON where id is a number, not text, {api_name(provider)}"
    if mode == "noisy_500":
        return "retrying", "HTTP 500"
    raise AssertionError(mode)


@pytest.mark.parametrize("provider, mode", CASES)
def test_publishing_to_a_peer_that_answers_nonsense_retries_or_fails_saying_so(peer, provider, mode):
    channel_id, schedule_id = connect_and_schedule(provider, peer.url)
    peer.mode = mode
    outcome = publish(schedule_id)
    expected, words = expected_publish(provider, peer, mode)
    schedule = get(schedule_id)
    assert (outcome, schedule.status) == (expected, "queued" if expected == "retrying" else "failed"), \
        schedule.last_error
    words = (words,) if isinstance(words, str) else words
    assert any(w in schedule.last_error for w in words), schedule.last_error
    assert "\x1b" not in schedule.last_error and "Unexpected provider error" not in schedule.last_error
    with in_app():
        from pagesite.extensions import db
        from pagesite.models import Channel

        # Nonsense is the network's problem, not the channel's credentials (a 403 web page included).
        assert db.session.get(Channel, channel_id).status == "connected"


@pytest.mark.parametrize("mode", ["web_page", "empty", "truncated", "wrong_types", "list", "error_in_200"])
def test_a_webhook_receiver_that_answers_2xx_with_any_body_has_the_delivery(peer, mode):
    _, schedule_id = connect_and_schedule("webhook", peer.url)
    peer.mode = mode
    assert publish(schedule_id) == "published"
    assert get(schedule_id).status == "published"


@pytest.mark.parametrize("provider", ["mastodon", "bluesky"])
@pytest.mark.parametrize("mode", ["web_page", "wrong_types", "list", "html_403", "endless", "drip"])
def test_the_daily_refresh_keeps_what_is_stored_when_the_peer_answers_nonsense(peer, provider, mode):
    from datetime import timedelta

    from pagesite.extensions import db
    from pagesite.models import Channel
    from pagesite.services import channels
    from pagesite.timeutil import utcnow

    channel_id, _ = connect_and_schedule(provider, peer.url)
    with in_app():
        before = dict(db.session.get(Channel, channel_id).account)
    peer.mode = mode
    with in_app():
        counts = channels.refresh_due(now=utcnow() + timedelta(days=2))
        channel = db.session.get(Channel, channel_id)
        assert counts["failed"] == 1 and counts["needs_attention"] == 0, counts
        assert channel.status == "connected" and channel.account == before
