"""The Bluesky provider against a real PDS (the reference implementation, see tests/peers.py).

Records are read back from the PDS itself: text, facet byte ranges, alt text,
aspect ratios and blob sizes are what the server stored, not what we sent.
"""

import time

import httpx
import pytest
import regex

from conftest import wait_until
from networks.conftest import attachment, channel, image_bytes, page, unsigned_jwt
from pagesite.providers.base import AuthenticationError, InvalidChannel, PermanentError
from pagesite.models import new_idempotency_key
from pagesite.providers.bluesky import BlueskyProvider, record_key

CONFIG = {"SECRET_KEY": "test-secret", "PUBLISH_TIMEOUT": 30}
TID = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


def provider_for(pds, account, identifier=None, password=None):
    data = channel("bluesky", {"service_url": pds.url + "/"},
                   {"identifier": identifier or account.handle, "app_password": password or account.app_password})
    return BlueskyProvider(data, CONFIG)


def connected(pds, account):
    provider = provider_for(pds, account)
    connection = provider.connect()
    provider.channel.credentials = connection.credentials
    provider.channel.settings = connection.settings
    return provider


def by_bytes(text, facet):
    """The part of ``text`` a facet points at, cut by its UTF-8 byte offsets."""
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"]:index["byteEnd"]].decode("utf-8")


# -- connecting -----------------------------------------------------------------------------------


def test_connect_with_handle_and_app_password_keeps_the_session_and_did(pds):
    account = pds.create_account()
    provider = provider_for(pds, account)
    connection = provider.connect()
    assert connection.account.handle == account.handle
    assert connection.account.url == f"https://bsky.app/profile/{account.handle}"
    assert connection.credentials["did"] == account.did
    assert connection.credentials["access_jwt"] and connection.credentials["refresh_jwt"]
    assert connection.settings["service_url"] == pds.url  # normalised, no trailing slash
    assert connection.limits.max_characters == 300 and connection.limits.max_attachments == 4
    assert connection.limits.max_video_bytes == 0


def test_connect_with_email(pds):
    account = pds.create_account()
    connection = provider_for(pds, account, identifier=account.email).connect()
    assert connection.credentials["handle"] == account.handle and connection.credentials["did"] == account.did


def test_the_account_password_is_refused_politely(pds):
    account = pds.create_account()
    with pytest.raises(InvalidChannel) as refused:
        provider_for(pds, account, password=account.password).connect()
    assert refused.value.field == "credentials.app_password"
    assert "account password" in str(refused.value) and "App passwords" in str(refused.value)


def test_a_wrong_app_password_is_refused_on_its_field(pds):
    account = pds.create_account()
    with pytest.raises(InvalidChannel) as refused:
        provider_for(pds, account, password="aaaa-bbbb-cccc-dddd").connect()
    assert refused.value.field == "credentials.app_password"
    assert "app password" in str(refused.value)


def test_a_service_url_that_is_not_http_is_refused(pds):
    account = pds.create_account()
    data = channel("bluesky", {"service_url": "bsky.social"}, {"identifier": "a", "app_password": "b"})
    with pytest.raises(InvalidChannel) as refused:
        BlueskyProvider(data, CONFIG).connect()
    assert refused.value.field == "settings.service_url"
    assert account  # the PDS is up; the refusal is ours


# -- publishing -----------------------------------------------------------------------------------


def test_publish_with_images_alt_text_links_hashtags_and_mentions(pds):
    author, friend = pds.create_account(), pds.create_account()
    provider = connected(pds, author)
    text = (f"Café 👩‍👩‍👧 déjà vu: https://example.com/a?b=1. #Tag1 and #café! "
            f"hi @{friend.handle}, not @nobody.test")
    small = image_bytes(1200, 800)
    large = image_bytes(1600, 1200, noise=True)  # ~5.7 MB of noise: over Bluesky's 1,000,000 bytes
    assert len(large) > 1_000_000
    result = provider.publish(
        page(text, attachment(small, "A red rectangle, wider than tall", "red.png"),
             attachment(large, "Static, like an old television", "noise.png", id=2)),
        "pagesite-schedule-101", schedule_id=101, attempt=1)

    rkey = result.external_id.rsplit("/", 1)[1]
    assert TID.match(rkey)
    assert result.external_id == f"at://{author.did}/app.bsky.feed.post/{rkey}"
    assert result.url == f"https://bsky.app/profile/{author.handle}/post/{rkey}"
    assert any("noise.png" in note and "1,000,000" in note for note in result.notes)

    stored = pds.get_record(author.did, rkey)["value"]
    assert stored["text"] == text
    facets = {by_bytes(text, f): f["features"][0] for f in stored["facets"]}
    assert facets == {
        "https://example.com/a?b=1": {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/a?b=1"},
        "#Tag1": {"$type": "app.bsky.richtext.facet#tag", "tag": "Tag1"},
        "#café": {"$type": "app.bsky.richtext.facet#tag", "tag": "café"},
        f"@{friend.handle}": {"$type": "app.bsky.richtext.facet#mention", "did": friend.did},
    }  # @nobody.test does not resolve: it stays plain text

    first, second = stored["embed"]["images"]
    assert stored["embed"]["$type"] == "app.bsky.embed.images"
    assert first["alt"] == "A red rectangle, wider than tall"
    assert first["aspectRatio"] == {"width": 1200, "height": 800}
    assert first["image"]["mimeType"] == "image/png" and first["image"]["size"] == len(small)
    assert second["alt"] == "Static, like an old television"
    assert second["image"]["size"] <= 1_000_000
    width, height = second["aspectRatio"]["width"], second["aspectRatio"]["height"]
    assert abs(width / height - 4 / 3) < 0.01
    for image in (first, second):
        blob = pds.get_blob(author.did, image["image"]["ref"]["$link"])
        assert len(blob) == image["image"]["size"]


def test_a_schedule_is_posted_once_however_often_it_is_tried(pds):
    account = pds.create_account()
    message = page("Once, and only once 🙂")
    first = connected(pds, account).publish(message, "pagesite-schedule-7", schedule_id=7, attempt=1)
    # The same first attempt again (a worker died before recording it): the PDS answers
    # the repeated record key with HTTP 500, and the provider reads the record back.
    again = connected(pds, account).publish(message, "pagesite-schedule-7", schedule_id=7, attempt=1)
    # A later attempt looks for the record before posting at all.
    retry = connected(pds, account).publish(message, "pagesite-schedule-7", schedule_id=7, attempt=3)
    assert first.external_id == again.external_id == retry.external_id
    assert any("earlier attempt" in note for note in retry.notes)
    assert len(pds.list_records(account.did)) == 1

    other = connected(pds, account).publish(message, "pagesite-schedule-8", schedule_id=8, attempt=1)
    assert other.external_id != first.external_id
    assert len(pds.list_records(account.did)) == 2


def test_a_repeated_record_key_is_a_500_on_the_pds(pds):
    """What the exactly-once logic relies on: the PDS's own answer to a repeated rkey."""
    account = pds.create_account()
    body = {"repo": account.did, "collection": "app.bsky.feed.post", "rkey": record_key("k", "s"),
            "record": {"$type": "app.bsky.feed.post", "text": "x", "createdAt": "2026-01-01T00:00:00.000Z"}}
    headers = {"Authorization": f"Bearer {account.access_jwt}"}
    assert httpx.post(f"{pds.url}/xrpc/com.atproto.repo.createRecord", json=body, headers=headers).status_code == 200
    repeated = httpx.post(f"{pds.url}/xrpc/com.atproto.repo.createRecord", json=body, headers=headers)
    assert repeated.status_code == 500


def test_a_record_at_our_key_is_ours_even_when_the_page_changed_since(pds):
    """A schedule's record key comes from its own random key: a record there is that
    schedule's, made by an attempt whose answer was lost, never someone else's."""
    account = pds.create_account()
    key = new_idempotency_key()
    first = connected(pds, account).publish(page("the original"), key, schedule_id=9, attempt=1)
    found = connected(pds, account).publish(page("an edited text"), key, schedule_id=9, attempt=2)
    assert found.external_id == first.external_id and found.url == first.url
    assert any("earlier attempt" in note for note in found.notes)
    assert any("differs" in note for note in found.notes)
    assert len(pds.list_records(account.did)) == 1


def test_record_keys_are_valid_tids_stable_per_schedule_and_distinct():
    keys = [new_idempotency_key() for _ in range(2000)]
    rkeys = {record_key(k) for k in keys}
    assert len(rkeys) == 2000 and all(TID.match(k) for k in rkeys)
    # No secret in it: rotating SECRET_KEY never changes a retry's record key.
    assert record_key(keys[0], legacy_secret="one") == record_key(keys[0], legacy_secret="another") == record_key(keys[0])


def test_keys_from_before_the_upgrade_keep_the_record_key_their_attempts_used():
    """Schedules attempted before 0008 keep their bare-id key; it was keyed with the secret."""
    legacy = {record_key(f"pagesite-schedule-{n}", "secret") for n in range(2000)}
    assert len(legacy) == 2000 and all(TID.match(k) for k in legacy)
    assert record_key("pagesite-schedule-1", "secret") != record_key("pagesite-schedule-1", "another secret")


def test_a_post_the_server_refuses_is_permanent_with_its_message(pds):
    account = pds.create_account()
    with pytest.raises(PermanentError) as refused:
        connected(pds, account).publish(page("é" * 301), "pagesite-schedule-11", schedule_id=11, attempt=1)
    assert "grapheme" in str(refused.value) and not isinstance(refused.value, AuthenticationError)
    assert pds.list_records(account.did) == []


# -- sessions -------------------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed(pds):
    account = pds.create_account()
    provider = connected(pds, account)
    refresh = provider.channel.credentials["refresh_jwt"]
    expired = unsigned_jwt({"scope": "com.atproto.appPass", "sub": account.did, "exp": int(time.time()) - 60})
    provider.channel.credentials["access_jwt"] = expired
    provider.publish(page("after a refresh"), "pagesite-schedule-21", schedule_id=21, attempt=1)
    assert provider.channel.credentials["access_jwt"] != expired
    assert provider.channel.credentials["refresh_jwt"] != refresh  # refreshSession rotates it
    assert len(pds.list_records(account.did)) == 1


def test_a_token_the_server_refuses_is_refreshed(pds):
    account = pds.create_account()
    provider = connected(pds, account)
    # Looks fresh to us (expiry in an hour); the PDS cannot verify it: InvalidToken.
    forged = unsigned_jwt({"scope": "com.atproto.appPass", "sub": account.did, "exp": int(time.time()) + 3600})
    provider.channel.credentials["access_jwt"] = forged
    provider.publish(page("after the server said no"), "pagesite-schedule-22", schedule_id=22, attempt=1)
    assert provider.channel.credentials["access_jwt"] != forged
    assert len(pds.list_records(account.did)) == 1


def test_a_session_whose_refresh_token_is_gone_signs_in_again(pds):
    account = pds.create_account()
    provider = connected(pds, account)
    credentials = provider.channel.credentials
    pds.xrpc("POST", "com.atproto.server.deleteSession", token=credentials["refresh_jwt"])  # revoked
    credentials["access_jwt"] = unsigned_jwt({"sub": account.did, "exp": int(time.time()) - 60})
    old_refresh = credentials["refresh_jwt"]
    provider.publish(page("with a new session"), "pagesite-schedule-23", schedule_id=23, attempt=1)
    assert credentials["refresh_jwt"] != old_refresh
    assert len(pds.list_records(account.did)) == 1


def test_a_revoked_app_password_asks_for_reconnecting(pds):
    account = pds.create_account()
    provider = connected(pds, account)
    pds.xrpc("POST", "com.atproto.server.revokeAppPassword", token=account.access_jwt, json={"name": "pagesite"})
    provider.channel.credentials["access_jwt"] = unsigned_jwt({"sub": account.did, "exp": int(time.time()) - 60})
    with pytest.raises(AuthenticationError, match="reconnect"):
        provider.publish(page("never posted"), "pagesite-schedule-24", schedule_id=24, attempt=1)
    assert pds.list_records(account.did) == []


# -- limits at compose time -----------------------------------------------------------------------


def test_counting_and_checking_like_bluesky():
    provider = BlueskyProvider(channel("bluesky", {}, {}), CONFIG)
    limits = provider.default_limits()
    family = "👩‍👩‍👧"  # one grapheme, 18 bytes
    assert provider.count_characters(family + "é" + "e\u0301") == 3
    assert provider.check(page("é" * 300), limits) == []
    assert provider.check(page("é" * 301), limits) == ["text is 301 characters; at most 300."]
    too_heavy = provider.check(page(family * 200), limits)  # 200 graphemes, 3,600 bytes
    assert too_heavy == ["text is 3600 bytes; Bluesky takes at most 3000."]

    video = attachment(image_bytes(10, 10), "a clip", "clip.mp4", content_type="video/mp4")
    problems = provider.check(page("a video", video), limits)
    assert problems == ["clip.mp4: Bluesky channels take images only; video cannot be posted there."]
    five = [attachment(image_bytes(10, 10), "x", f"{n}.png", id=n) for n in range(5)]
    assert provider.check(page("five", *five), limits) == ["5 attachments; at most 4."]


def test_an_image_far_over_the_limit_is_scaled_until_it_fits(pds):
    account = pds.create_account()
    huge = image_bytes(3000, 2000, noise=True)  # ~18 MB of noise
    result = connected(pds, account).publish(page("big", attachment(huge, "noise", "huge.png")),
                                             "pagesite-schedule-31", schedule_id=31, attempt=1)
    stored = wait_until(lambda: pds.list_records(account.did), message="the record")[0]["value"]
    image = stored["embed"]["images"][0]
    assert image["image"]["size"] <= 1_000_000 and image["image"]["mimeType"] == "image/jpeg"
    assert abs(image["aspectRatio"]["width"] / image["aspectRatio"]["height"] - 1.5) < 0.01
    assert "huge.png" in result.notes[0]


def test_a_rate_limit_answer_is_transient_until_its_reset():
    """The PDS here runs without rate limits; the mapping of its 429 is checked on the answer itself."""
    import httpx as http

    from pagesite.providers.base import TransientError
    from pagesite.providers.bluesky import _raise_for

    answer = http.Response(429, json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                           headers={"RateLimit-Reset": str(int(time.time()) + 60)})
    with pytest.raises(TransientError) as limited:
        _raise_for(answer, "posting")
    assert 55 <= limited.value.retry_after <= 60
    with pytest.raises(TransientError):
        _raise_for(http.Response(502, text="bad gateway"), "posting")
    with pytest.raises(PermanentError, match="Invalid app.bsky.feed.post record"):
        _raise_for(http.Response(400, json={"error": "InvalidRequest",
                                            "message": "Invalid app.bsky.feed.post record"}), "posting")
