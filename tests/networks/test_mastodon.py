"""The Mastodon provider against two HTTP peers:

* mastodon-mock (PyPI), a separate server process: connecting, signing in
  through the instance, media with descriptions, Idempotency-Key, 401/422/429/5xx;
* a Mastodon-shaped server written from Mastodon's documentation
  (mastodon_shaped.py) for what the mock does not do like Mastodon: media
  processed asynchronously (202, 206, 200), counting in graphemes with links
  as 23, media validation, ISO 8601 rate-limit resets, keys forgotten after an hour.
"""

import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from networks.conftest import attachment, channel, image_bytes, page
from networks.mastodon_shaped import TOKEN, MastodonShaped, mastodon_length
from networks.slow_answers import SlowAnswers
from pagesite.providers.base import AuthenticationError, InvalidChannel, PermanentError, TransientError
from pagesite.providers.mastodon import (
    MastodonProvider, authorize_url, exchange_code, pkce_pair, register_app,
)

CONFIG = {"PUBLISH_TIMEOUT": 30}
REDIRECT_URI = "http://127.0.0.1:5000/channels/mastodon/callback"


def connected(url, token, settings=None, config=CONFIG):
    provider = MastodonProvider(channel("mastodon", {"instance_url": url, **(settings or {})},
                                        {"access_token": token}), config)
    connection = provider.connect()
    provider.channel.settings, provider.channel.credentials = connection.settings, connection.credentials
    provider.channel.limits = connection.limits.to_dict()
    provider.connection = connection
    return provider


def statuses_of(mock, token):
    account_id = mock.api("GET", "/api/v1/accounts/verify_credentials", token=token).json()["id"]
    return mock.api("GET", f"/api/v1/accounts/{account_id}/statuses", token=token).json()


# -- against mastodon-mock ------------------------------------------------------------------------


def test_connect_with_a_token_reads_the_account_and_the_instance_limits(mastodon_mock):
    name, token = mastodon_mock.new_account()
    provider = connected(mastodon_mock.url + "/", token, {"visibility": "unlisted", "language": "FR"})
    connection = provider.connection
    host = urlsplit(mastodon_mock.url).netloc
    assert connection.account.handle == f"@{name}@{host}"
    version = mastodon_mock.api("GET", "/api/v2/instance").json()["version"]
    assert connection.settings == {"instance_url": mastodon_mock.url, "visibility": "unlisted", "language": "fr",
                                   "software": f"mastodon {version}"}  # the mock has no NodeInfo
    assert all(isinstance(v, str) for v in connection.settings.values())  # settings are text fields
    assert connection.credentials["access_token"] == token and connection.credentials["account_id"]
    limits = connection.limits
    assert (limits.max_characters, limits.max_attachments) == (500, 4)
    assert limits.max_image_bytes == 10485760 and limits.max_video_bytes == 41943040  # as the mock says
    assert "video/mp4" in limits.content_types
    assert limits.max_description == 1500  # the mock does not say: the fallback
    assert limits.characters_reserved_per_url == 23


def test_a_refused_token_is_an_error_on_its_field(mastodon_mock):
    with pytest.raises(InvalidChannel) as refused:
        connected(mastodon_mock.url, "not-a-token")
    assert refused.value.field == "credentials.access_token"


def test_an_address_where_nothing_answers_is_an_error_on_the_instance_url(mastodon_mock):
    from conftest import free_port

    with pytest.raises(InvalidChannel) as refused:
        connected(f"http://127.0.0.1:{free_port()}", "token")
    assert refused.value.field == "settings.instance_url"


def test_signing_in_through_the_instance_registers_an_app_and_exchanges_the_code(mastodon_mock):
    name, _ = mastodon_mock.new_account()
    app = register_app(mastodon_mock.url, REDIRECT_URI)
    verifier, challenge = pkce_pair()
    url = authorize_url(mastodon_mock.url, app["client_id"], REDIRECT_URI, "state-123", challenge)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"] == [challenge]
    assert query["scope"] == ["read:accounts read:statuses write:statuses write:media"]
    assert httpx.get(url).status_code == 200  # the instance's sign-in page
    # The person picks their account there; the instance redirects back with a code.
    chosen = httpx.post(f"{mastodon_mock.url}/oauth/authorize", data={
        "username": name, "redirect_uri": REDIRECT_URI, "client_id": app["client_id"], "state": "state-123"})
    assert chosen.status_code == 302
    back = parse_qs(urlsplit(chosen.headers["location"]).query)
    assert back["state"] == ["state-123"]
    token = exchange_code(mastodon_mock.url, app["client_id"], app["client_secret"], REDIRECT_URI,
                          back["code"][0], verifier)
    assert connected(mastodon_mock.url, token).connection.account.handle.startswith(f"@{name}@")


def test_publish_two_described_images_with_visibility_and_language(mastodon_mock):
    _, token = mastodon_mock.new_account()
    provider = connected(mastodon_mock.url, token, {"visibility": "unlisted", "language": "fr"})
    result = provider.publish(
        page("Deux images 🖼️ https://example.com",
             attachment(image_bytes(640, 480), "A red rectangle", "red.png"),
             attachment(image_bytes(300, 600, fmt="JPEG", color=(20, 20, 200)), "A tall blue one", "blue.jpg", id=2)),
        "pagesite-schedule-1", schedule_id=1, attempt=1)
    status = mastodon_mock.api("GET", f"/api/v1/statuses/{result.external_id}", token=token).json()
    assert result.url == status["url"]
    assert [m["description"] for m in status["media_attachments"]] == ["A red rectangle", "A tall blue one"]
    assert status["visibility"] == "unlisted" and status["language"] == "fr"


def test_the_idempotency_key_makes_a_repeat_return_the_original(mastodon_mock):
    _, token = mastodon_mock.new_account()
    first = connected(mastodon_mock.url, token).publish(page("once"), "pagesite-schedule-2", schedule_id=2, attempt=1)
    again = connected(mastodon_mock.url, token).publish(page("once"), "pagesite-schedule-2", schedule_id=2, attempt=2)
    assert again.external_id == first.external_id
    assert len(statuses_of(mastodon_mock, token)) == 1


def test_an_answer_lost_in_a_timeout_is_retried_without_a_second_post(mastodon_mock):
    _, token = mastodon_mock.new_account()
    proxy = SlowAnswers(mastodon_mock.url)
    try:
        provider = connected(proxy.url, token, config={"PUBLISH_TIMEOUT": 6})  # 2 s per request
        proxy.hold_next("POST", "/api/v1/statuses", 4)  # the instance posts; its answer comes after the client gave up
        with pytest.raises(TransientError, match="outcome is unknown"):
            provider.publish(page("lost answer"), "pagesite-schedule-3", schedule_id=3, attempt=1)
        posted = statuses_of(mastodon_mock, token)
        assert len(posted) == 1
        retry = provider.publish(page("lost answer"), "pagesite-schedule-3", schedule_id=3, attempt=2)
        assert [s["id"] for s in statuses_of(mastodon_mock, token)] == [posted[0]["id"]] == [retry.external_id]
    finally:
        proxy.close()


def test_a_retry_hours_later_finds_the_earlier_post_instead_of_posting_again(mastodon_mock):
    _, token = mastodon_mock.new_account()
    described = attachment(image_bytes(64, 64), "a small square", "square.png")
    earlier = connected(mastodon_mock.url, token).publish(page("late retry", described), "pagesite-schedule-4",
                                                          schedule_id=4, attempt=1)
    two_hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
    # A different key stands for one the instance has forgotten by now.
    retry = connected(mastodon_mock.url, token).publish(page("late retry", described), "forgotten-key",
                                                        schedule_id=4, attempt=2, last_attempt_at=two_hours_ago)
    assert retry.external_id == earlier.external_id
    assert any("earlier attempt" in note for note in retry.notes)
    assert len(statuses_of(mastodon_mock, token)) == 1
    # Another text is another post.
    connected(mastodon_mock.url, token).publish(page("something else"), "other-key", schedule_id=5, attempt=2,
                                                last_attempt_at=two_hours_ago)
    assert len(statuses_of(mastodon_mock, token)) == 2


def test_a_revoked_token_asks_for_reconnecting(mastodon_mock):
    _, token = mastodon_mock.new_account()
    provider = connected(mastodon_mock.url, token)
    mastodon_mock.api("POST", "/oauth/revoke", data={"token": token}).raise_for_status()
    with pytest.raises(AuthenticationError, match="reconnect"):
        provider.publish(page("never"), "pagesite-schedule-6", schedule_id=6, attempt=1)


def test_a_refused_status_is_permanent_with_the_instance_s_words(mastodon_mock):
    _, token = mastodon_mock.new_account()
    with pytest.raises(PermanentError) as refused:
        connected(mastodon_mock.url, token).publish(page("x" * 501), "pagesite-schedule-7", schedule_id=7, attempt=1)
    assert "Text is too long" in str(refused.value)
    assert not isinstance(refused.value, AuthenticationError)


def test_a_rate_limit_is_transient_with_the_reset_time(mastodon_mock):
    _, token = mastodon_mock.new_account()
    provider = connected(mastodon_mock.url, token)
    mastodon_mock.add_fault({"match": {"methods": ["POST"], "path": "/api/v1/statuses"},
                             "effect": {"type": "ratelimit"}, "count": 1})  # reset: epoch seconds, +300
    with pytest.raises(TransientError) as limited:
        provider.publish(page("later"), "pagesite-schedule-8", schedule_id=8, attempt=1)
    assert 280 <= limited.value.retry_after <= 301
    assert statuses_of(mastodon_mock, token) == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(mastodon_mock, status):
    _, token = mastodon_mock.new_account()
    provider = connected(mastodon_mock.url, token)
    mastodon_mock.add_fault({"match": {"methods": ["POST"], "path": "/api/v2/media"},
                             "effect": {"type": "status", "status": status}, "count": 1})
    with pytest.raises(TransientError):
        provider.publish(page("x", attachment(image_bytes(8, 8), "dot", "dot.png")), "k", schedule_id=9, attempt=1)


# -- against the Mastodon-shaped server -----------------------------------------------------------


@pytest.fixture
def shaped():
    with MastodonShaped() as server:
        yield server


def test_media_processed_asynchronously_is_awaited_before_posting(shaped):
    provider = connected(shaped.url, TOKEN)
    result = provider.publish(page("processed", attachment(image_bytes(320, 200), "a wide one", "wide.png"),
                                   attachment(image_bytes(200, 320), "a tall one", "tall.png", id=2)),
                              "pagesite-schedule-1", schedule_id=1, attempt=1)
    served = [(m, re.sub(r"\d{6,}", ":id", p), s) for m, p, s in shaped.requests if "media" in p or "statuses" in p]
    assert served == [("POST", "/api/v2/media", 202), ("GET", "/api/v1/media/:id", 206),
                      ("GET", "/api/v1/media/:id", 206), ("GET", "/api/v1/media/:id", 200),
                      ("POST", "/api/v2/media", 202), ("GET", "/api/v1/media/:id", 206),
                      ("GET", "/api/v1/media/:id", 206), ("GET", "/api/v1/media/:id", 200),
                      ("POST", "/api/v1/statuses", 200)]
    status = shaped.statuses[0]
    assert status["id"] == result.external_id
    assert [m["description"] for m in status["media_attachments"]] == ["a wide one", "a tall one"]


def test_the_shaped_server_refuses_media_that_is_still_processing(shaped):
    """What the waiting above protects against, as Mastodon documents it."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    media = httpx.post(f"{shaped.url}/api/v2/media", headers=headers,
                       files={"file": ("a.png", image_bytes(8, 8), "image/png")}).json()
    refused = httpx.post(f"{shaped.url}/api/v1/statuses", headers=headers,
                         json={"status": "too soon", "media_ids": [media["id"]]})
    assert refused.status_code == 422 and "not finished processing" in refused.json()["error"]


def test_media_that_never_finishes_processing_is_a_transient_failure(shaped):
    shaped.polls_before_ready = 10_000
    provider = connected(shaped.url, TOKEN, config={"PUBLISH_TIMEOUT": 4})  # waits at most 2.4 s
    started = time.monotonic()
    with pytest.raises(TransientError, match="still processing"):
        provider.publish(page("x", attachment(image_bytes(8, 8), "dot", "dot.png")), "k", schedule_id=2, attempt=1)
    assert time.monotonic() - started < 4
    assert shaped.statuses == []


@pytest.mark.parametrize("text", [
    "plain text",
    "Café déjà vu, e\u0301 and 👩‍👩‍👧 and 🇫🇷",
    "a link https://example.com/" + "long/" * 40 + " counts as 23",
    "two links https://a.example/x and http://b.example/" + "y" * 100 + ".",
    "hello @alice@social.example.org and @bob and mail me@example.com",
])
def test_counting_matches_the_server(shaped, text):
    provider = connected(shaped.url, TOKEN)
    assert provider.count_characters(text) == mastodon_length(text, 23)


def test_a_text_at_the_limit_passes_and_one_more_is_refused_before_and_by_the_server(shaped):
    provider = connected(shaped.url, TOKEN)
    limits = provider.connection.limits
    base = "👩‍👩‍👧 https://example.com/" + "x" * 300 + " @carol@far.example.net "  # 1 + 1 + 23 + 1 + 6 + 1 = 33
    fits = base + "é" * (500 - provider.count_characters(base))
    assert provider.count_characters(fits) == 500 and len(fits) > 500
    assert provider.check(page(fits), limits) == []
    provider.publish(page(fits), "pagesite-schedule-3", schedule_id=3, attempt=1)
    over = fits + "!"
    assert provider.check(page(over), limits) == ["text is 501 characters; at most 500."]
    with pytest.raises(PermanentError, match="character limit of 500"):
        provider.publish(page(over), "pagesite-schedule-4", schedule_id=4, attempt=1)
    assert len(shaped.statuses) == 1


def test_a_media_type_the_instance_refuses_is_permanent(shaped):
    provider = connected(shaped.url, TOKEN)
    odd = attachment(image_bytes(8, 8), "odd", "odd.bmp", content_type="image/bmp")
    assert provider.check(page("x", odd), provider.connection.limits) == ["odd.bmp: image/bmp is not accepted."]
    with pytest.raises(PermanentError, match="content type is invalid"):
        provider.publish(page("x", odd), "k", schedule_id=5, attempt=1)


def test_an_iso_8601_rate_limit_reset_sets_the_retry_time(shaped):
    provider = connected(shaped.url, TOKEN)
    shaped.rate_limited = 1
    with pytest.raises(TransientError) as limited:
        provider.publish(page("later"), "pagesite-schedule-6", schedule_id=6, attempt=1)
    assert 85 <= limited.value.retry_after <= 90


def test_after_the_instance_forgets_the_key_the_late_retry_still_posts_once(shaped):
    provider = connected(shaped.url, TOKEN)
    first = provider.publish(page("once, hours apart"), "pagesite-schedule-7", schedule_id=7, attempt=1)
    attempted = shaped.now()
    shaped.clock_offset = timedelta(hours=2)  # the instance has forgotten the key
    retry = provider.publish(page("once, hours apart"), "pagesite-schedule-7", schedule_id=7, attempt=2,
                             last_attempt_at=attempted - timedelta(hours=2) + timedelta(seconds=1))
    assert retry.external_id == first.external_id and len(shaped.statuses) == 1
    # Without the look-up the same key would now post again: the server really forgot it.
    again = httpx.post(f"{shaped.url}/api/v1/statuses", headers={"Authorization": f"Bearer {TOKEN}",
                       "Idempotency-Key": "pagesite-schedule-7"}, json={"status": "once, hours apart"})
    assert again.json()["id"] != first.external_id


def test_an_instance_s_own_link_length_is_used():
    with MastodonShaped(per_url=30, max_characters=1000) as server:
        provider = connected(server.url, TOKEN)
        assert provider.connection.limits.max_characters == 1000
        assert provider.count_characters("see https://example.com/" + "x" * 80) == 4 + 30
