"""Nothing reaches inside: every request to an address a person typed goes
through pagesite/outbound.py, which connects only to public addresses unless
PAGESITE_ALLOWED_PRIVATE_ADDRESSES lists the range, checked on the address
connected to, and reads each answer within a size and a total time.

The refusals that could open a connection use only addresses on this machine
(127.0.0.1, [::1], localhost, 127.0.0.2), with the allow-list off or narrowed
to one test address, so a broken guard reaches nothing outside; every other
range is checked on ``refusal`` itself, which never connects.
"""

import time

import httpx
import pytest

from conftest import free_port
from nonsense_peer import NonsensePeer
from pagesite import outbound
from scheduling_helpers import get, in_app

pytestmark = pytest.mark.usefixtures("bind_app")

SETTING = "PAGESITE_ALLOWED_PRIVATE_ADDRESSES"


@pytest.fixture
def peer():
    p = NonsensePeer()
    yield p
    p.close()


@pytest.fixture
def no_private(monkeypatch):
    """The allow-list off, as on a fresh install."""
    monkeypatch.delenv(SETTING, raising=False)


# -- the rule, on addresses alone (nothing connects) ---------------------------------------------


@pytest.mark.parametrize("address, words", [
    ("127.0.0.1", "on this machine"), ("127.8.9.10", "on this machine"), ("::1", "on this machine"),
    ("10.0.0.1", "on a private network"), ("10.255.255.254", "on a private network"),
    ("172.16.0.1", "on a private network"), ("172.31.255.1", "on a private network"),
    ("192.168.1.1", "on a private network"),
    ("fc00::1", "on a private network"), ("fd12:3456::1", "on a private network"),
    ("100.64.0.1", "carrier-grade NAT"), ("100.127.255.254", "carrier-grade NAT"),
    ("169.254.169.254", "the cloud metadata service"), ("fd00:ec2::254", "the cloud metadata service"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "the unspecified address"), ("::", "the unspecified address"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("192.0.2.1", "reserved"),
    ("0.1.2.3", "reserved"),
    # IPv6 forms that only carry an IPv4 address are judged by that address.
    ("::ffff:127.0.0.1", "on this machine (127.0.0.1)"), ("::ffff:10.1.1.1", "on a private network"),
    ("64:ff9b::a9fe:a9fe", "the cloud metadata service (169.254.169.254)"),
    ("2002:c0a8:101::1", "on a private network (192.168.1.1)"),
])
def test_every_address_that_is_not_public_is_refused(address, words):
    assert words in outbound.refusal(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111",
                                     "2a00:1450:4001:81b::200e", "64:ff9b::808:808", "172.32.0.1", "100.128.0.1"])
def test_public_addresses_pass(address):
    assert outbound.refusal(address) is None


def test_an_allowed_range_lets_its_addresses_through_and_no_others():
    from pagesite.config import address_ranges

    allowed = address_ranges("10.0.0.0/8, fd00::/8,127.0.0.1")
    assert outbound.refusal("10.1.2.3", allowed) is None
    assert outbound.refusal("fd00::5", allowed) is None
    assert outbound.refusal("127.0.0.1", allowed) is None and outbound.refusal("::ffff:127.0.0.1", allowed) is None
    assert "on this machine" in outbound.refusal("127.0.0.2", allowed)
    assert "on a private network" in outbound.refusal("192.168.0.1", allowed)
    assert "the cloud metadata service" in outbound.refusal("169.254.169.254", allowed)


@pytest.mark.parametrize("value", ["abc", "10.0.0.0/33", "10.0.0.0/8;192.168.0.0/16", "::1/129", "10"])
def test_a_bad_allow_list_stops_the_app_with_one_line(test_env, monkeypatch, value):
    from pagesite import create_app
    from pagesite.config import InvalidSetting

    monkeypatch.setenv(SETTING, value)
    with pytest.raises(InvalidSetting) as raised:
        create_app()
    assert str(raised.value) == (f"{SETTING} must be comma-separated address ranges in CIDR form (10.0.0.0/8), "
                                 f'got "{value}"')


# -- refusals where a connection could open: only addresses on this machine -----------------------


def connect(client, provider, settings, credentials=None):
    return client.post("/api/channels", json={"provider": provider, "name": f"Inside {provider}",
                                              "settings": settings, "credentials": credentials or {}})


@pytest.mark.parametrize("provider, field, setting, credentials", [
    ("webhook", "settings.url", "url", {}),
    ("mastodon", "settings.instance_url", "instance_url", {"access_token": "token"}),
    ("bluesky", "settings.service_url", "service_url", {"identifier": "alice.test", "app_password": "a-b-c-d"}),
])
@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "localhost"])
def test_connecting_to_this_machine_is_refused_on_the_field_and_reaches_nothing(
        client, no_private, provider, field, setting, credentials, host):
    v4 = NonsensePeer("127.0.0.1")
    v6 = NonsensePeer("::1", port=v4.port)  # localhost may mean either: both listen where a broken guard would go
    port = v4.port
    try:
        response = connect(client, provider, {setting: f"http://{host}:{port}/"}, credentials)
        assert response.status_code == 422, response.json
        [message] = response.json["errors"][field]
        address = "::1" if host == "[::1]" else ("127.0.0.1" if host == "127.0.0.1" else "")
        subject = "localhost" if host == "localhost" else "That address"
        assert message.startswith(f"{subject} is on this machine ({address}"), message
        assert message.endswith(f"unless an operator allows this one with {SETTING}."), message
        assert v4.requests == [] and v6.requests == []  # nothing was sent anywhere
    finally:
        v4.close(), v6.close()
    assert len(client.get("/api/channels").json["items"]) == 1  # only the stub


def test_signing_in_through_an_instance_on_this_machine_is_refused_before_registering(app, no_private, peer):
    from pagesite.errors import ValidationFailed
    from pagesite.providers import InvalidChannel
    from pagesite.providers.mastodon import exchange_code
    from pagesite.services import mastodon_signin

    saved = app.config["BASE_URL"], app.config["BASE_URL_GIVEN"]
    app.config["BASE_URL"], app.config["BASE_URL_GIVEN"] = "http://pagesite.example", True
    try:
        with in_app(), pytest.raises(ValidationFailed) as refused:
            mastodon_signin.start("Signed in", {"instance_url": peer.url})
    finally:
        app.config["BASE_URL"], app.config["BASE_URL_GIVEN"] = saved
    assert "is on this machine (127.0.0.1)" in refused.value.errors["settings.instance_url"][0]
    with pytest.raises(InvalidChannel) as exchange:
        exchange_code(peer.url, "client", "secret", "http://pagesite.example/cb", "code", "verifier")
    assert "is on this machine (127.0.0.1)" in str(exchange.value)
    assert peer.requests == []


def publish(schedule_id):
    from pagesite.services import publishing

    with in_app():
        return publishing.publish_schedule(schedule_id).outcome


def connect_and_schedule(provider, settings, credentials, text="Hello from inside"):
    from pagesite.services import channels, pages, schedules

    with in_app():
        channel, _ = channels.create_channel(provider, f"My {provider}", settings, credentials)
        page = pages.create_page(text)
        [schedule] = schedules.create_schedules(page.id, [channel.id], None)
        return channel.id, schedule.id


NETWORKS = {
    "webhook": lambda url: ({"url": url + "/hook"}, {}),
    "mastodon": lambda url: ({"instance_url": url}, {"access_token": "token"}),
    "bluesky": lambda url: ({"service_url": url}, {"identifier": "alice.test", "app_password": "a-b-c-d"}),
}


@pytest.mark.parametrize("provider", sorted(NETWORKS))
def test_at_publish_time_a_refused_address_fails_the_schedule_at_once(monkeypatch, peer, provider):
    settings, credentials = NETWORKS[provider](peer.url)
    channel_id, schedule_id = connect_and_schedule(provider, settings, credentials)  # allowed then
    reached = len(peer.requests)
    monkeypatch.delenv(SETTING)  # the operator narrowed the allow-list since
    assert publish(schedule_id) == "failed"
    schedule = get(schedule_id)
    assert schedule.status == "failed" and schedule.attempts == 1  # permanent: no retries
    assert schedule.last_error.startswith("That address is on this machine (127.0.0.1)"), schedule.last_error
    assert SETTING in schedule.last_error
    assert len(peer.requests) == reached


def test_a_redirect_to_this_machine_is_refused_at_its_hop(monkeypatch):
    """Only 127.0.0.2 is allowed; it redirects to 127.0.0.1, which a client that follows
    redirects must not reach, and a webhook (which follows none) does not either."""
    allowed, inside = NonsensePeer("127.0.0.2"), NonsensePeer("127.0.0.1")
    monkeypatch.setenv(SETTING, "127.0.0.2/32")
    allowed.mode, allowed.redirect_to = "redirect", inside.url + "/admin"
    try:
        with outbound.Client(total_seconds=5, follow_redirects=True) as client:
            with pytest.raises(outbound.Refused) as refused:
                client.get(allowed.url + "/start")
        assert str(refused.value).startswith("That address is on this machine (127.0.0.1)")
        from pagesite.providers import PermanentError
        from pagesite.providers.webhook import WebhookProvider, generate_secret
        from pagesite.providers.base import ChannelData, PageData

        hook = WebhookProvider(ChannelData(id=1, provider="webhook", name="hook", settings={"url": allowed.url},
                                           credentials={"secret": generate_secret()}), {"WEBHOOK_TIMEOUT": 5})
        with pytest.raises(PermanentError) as not_followed:
            hook.publish(PageData(id=1, text="Hi"), "key", schedule_id=1, attempt=1)
        assert "redirects are not followed" in str(not_followed.value)
        assert [path for _, path, _ in allowed.requests] == ["/start", "/"]
        assert inside.requests == []
    finally:
        allowed.close(), inside.close()


def test_a_name_that_changes_its_answer_is_checked_at_each_connection(monkeypatch):
    """DNS rebinding: the name resolves to an allowed address, then to 127.0.0.1. The
    address connected to is the one checked, every time; the Host header keeps the name."""
    allowed = NonsensePeer("127.0.0.2")
    inside = NonsensePeer("127.0.0.1", port=allowed.port)  # where the rebinding would land
    monkeypatch.setenv(SETTING, "127.0.0.2/32")
    answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1", "127.0.0.2"]])
    asked = []

    def rebinding(host, port):
        asked.append(host)
        return [(0, address, port) for address in next(answers)]

    monkeypatch.setattr(outbound, "resolve", rebinding)
    port = allowed.port
    try:
        url = f"http://rebind.example:{port}/"
        with outbound.Client(total_seconds=5) as client:
            assert client.get(url).status_code == 200  # 127.0.0.2: allowed
        with outbound.Client(total_seconds=5) as client, pytest.raises(outbound.Refused) as refused:
            client.get(url)  # the same name, now 127.0.0.1
        assert str(refused.value).startswith("rebind.example is on this machine (127.0.0.1)")
        with outbound.Client(total_seconds=5) as client:
            assert client.get(url).status_code == 200  # 127.0.0.1 skipped, 127.0.0.2 connected to
        assert asked == ["rebind.example"] * 3  # resolved once per connection, by pagesite alone
        assert allowed.requests == [("GET", "/", f"rebind.example:{port}")] * 2
        assert inside.requests == []
    finally:
        allowed.close(), inside.close()


# -- answers read within a size and a total time ------------------------------------------------


def test_an_answer_that_never_ends_is_cut_at_the_cap(peer):
    peer.mode = "endless"
    started = time.monotonic()
    with outbound.Client(total_seconds=30) as client, pytest.raises(outbound.Unusable) as cut:
        client.get(peer.url)
    assert cut.value.what == "more than 1 MB without stopping"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("mode", ["drip", "drip_headers"])
def test_a_server_that_drips_is_cut_off_at_the_total_time(peer, mode):
    """A byte every 0.25 s never trips a 2 s read timeout; the 1.5 s total stops it."""
    peer.mode = mode
    started = time.monotonic()
    with outbound.Client(total_seconds=1.5, timeout=2) as client, pytest.raises(outbound.Overtime) as late:
        client.get(peer.url)
    elapsed = time.monotonic() - started
    assert late.value.total == 1.5 and 1.4 < elapsed < 2.5, elapsed


def test_a_compressed_answer_nobody_asked_for_is_not_unpacked(peer):
    peer.mode = "compressed"
    with outbound.Client(total_seconds=5) as client, pytest.raises(outbound.Unusable) as refused:
        client.get(peer.url)
    assert refused.value.what == "a compressed answer (gzip) though none was asked for"
    assert peer.requests and all(method == "GET" for method, _, _ in peer.requests)


def test_no_proxy_from_the_environment_is_used(monkeypatch, peer):
    """A proxy would connect somewhere else than the address checked."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port()}")
    with outbound.Client(total_seconds=5) as client:
        assert client.get(peer.url).status_code == 200
    assert len(peer.requests) == 1


def test_excerpts_of_a_foreign_body_are_short_and_escaped():
    noisy = httpx.Response(500, text="\x1b[31mred\x1b[0m\r\nline two\u202e" + "x" * 1000)
    quoted = outbound.excerpt(noisy, 60)
    assert quoted.startswith("\\x1b[31mred\\x1b[0m line two\\u202e") and len(quoted) == 60 and quoted.endswith("…")
    page = httpx.Response(502, html="<html><title>502 Bad\nGateway</title><script>alert(1)</script></html>")
    assert outbound.excerpt(page) == "a web page (“502 Bad Gateway”)"
    assert outbound.excerpt(httpx.Response(500, content=b"")) == "(empty body)"
