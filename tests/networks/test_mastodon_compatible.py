"""Servers that speak Mastodon's API, each as its documentation says it
differs from Mastodon where pagesite depends on it, played by the
Mastodon-shaped server (tests/networks/mastodon_shaped.py; none of them can
be installed here): what pagesite finds when connecting, the limits it reads,
how it counts, uploads and retries."""

from datetime import datetime, timedelta, timezone

import pytest

from networks.conftest import attachment, channel, image_bytes, page
from networks.mastodon_shaped import TOKEN, MastodonShaped
from pagesite.providers.base import Limits, PermanentError
from pagesite.providers.mastodon import MastodonProvider

CONFIG = {"PUBLISH_TIMEOUT": 30}


def connected(server):
    provider = MastodonProvider(channel("mastodon", {"instance_url": server.url}, {"access_token": TOKEN}), CONFIG)
    connection = provider.connect()
    provider.channel.settings, provider.channel.credentials = connection.settings, connection.credentials
    provider.channel.limits = connection.limits.to_dict()
    provider.connection = connection
    return provider


@pytest.mark.parametrize("software", ["gotosocial 0.17.3", "akkoma 3.13.2", "friendica 2024.08", "pixelfed 0.12.4",
                                      "mastodon 4.4.0"])
def test_connecting_names_the_software_nodeinfo_reports(software):
    with MastodonShaped(software=software) as server:
        assert connected(server).connection.settings["software"] == software


def test_without_nodeinfo_the_compatible_version_names_it():
    with MastodonShaped(software="akkoma 3.13.2") as server:
        server.nodeinfo = False
        assert connected(server).connection.settings["software"] == "akkoma 3.13.2"
    with MastodonShaped() as plain:
        assert connected(plain).connection.settings["software"] == "mastodon 4.4.0"


def test_akkoma_limits_come_from_its_own_keys_and_links_count_in_full():
    with MastodonShaped(software="akkoma 3.13.2", max_characters=5000) as server:
        provider = connected(server)
        limits = Limits.from_dict(provider.channel.limits)
        assert limits.max_characters == 5000 and limits.max_image_bytes == 16 * 1024 * 1024
        assert limits.characters_reserved_per_url is None and "links count in full" in limits.counting
        link = "https://example.com/" + "a" * 100
        text = link + " " + "x" * (5000 - len(link) - 1)  # exactly 5,000 with the link in full
        assert provider.count_characters(text) == 5000 and provider.check(page(text), limits) == []
        assert provider.check(page(text + "y"), limits) == ["text is 5001 characters; at most 5000."]
        provider.publish(page(text), "ps-akkoma", schedule_id=1, attempt=1)
        with pytest.raises(PermanentError, match="character limit"):  # the server agrees
            provider.publish(page(text + "y"), "ps-akkoma-2", schedule_id=2, attempt=1)


def test_friendica_media_go_through_the_first_version_of_the_media_api():
    with MastodonShaped(software="friendica 2024.08") as server:
        provider = connected(server)
        provider.publish(page("A picture", attachment(image_bytes(40, 30), "A small red one", "red.png")),
                         "ps-friendica", schedule_id=1, attempt=1)
        media_calls = [(m, p, s) for m, p, s in server.requests if "media" in p]
        assert media_calls == [("POST", "/api/v2/media", 404), ("POST", "/api/v1/media", 200)]
        assert server.statuses[0]["media_attachments"][0]["description"] == "A small red one"


def test_pixelfed_needs_an_image_and_says_so_at_compose():
    with MastodonShaped(software="pixelfed 0.12.4") as server:
        provider = connected(server)
        limits = Limits.from_dict(provider.channel.limits)
        assert provider.check(page("Words alone"), limits) == ["Pixelfed posts are pictures: add at least one image."]
        assert provider.check(page("With one", attachment(image_bytes(20, 20), "dot", "dot.png")), limits) == []


def test_a_retry_on_a_server_that_keeps_no_key_finds_the_earlier_post():
    with MastodonShaped(software="gotosocial 0.17.3") as server:
        provider = connected(server)
        first = provider.publish(page("Posted once"), "ps-gts", schedule_id=1, attempt=1)
        # The answer was lost; minutes later the retry comes (Mastodon would have kept the key).
        retried = provider.publish(page("Posted once"), "ps-gts", schedule_id=1, attempt=2,
                                   last_attempt_at=datetime.now(timezone.utc) - timedelta(minutes=2))
        assert retried.external_id == first.external_id and "Found the post" in retried.notes[0]
        assert len(server.statuses) == 1
        # The server really keeps no key: the same call without the look posts again.
        provider.publish(page("Posted once"), "ps-gts", schedule_id=1, attempt=3)
        assert len(server.statuses) == 2
