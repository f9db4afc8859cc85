"""The daily refresh of network channels (channels.refresh_due, run by the
scheduler's periodic job): an instance that changes its limits is read again;
an instance that fails keeps the stored limits and the channel connected;
only a refused token marks the channel for reconnection."""

from datetime import timedelta

import pytest

from conftest import wait_until
from networks.mastodon_shaped import TOKEN, MastodonShaped
from scheduling_helpers import in_app, wait_ready

pytestmark = pytest.mark.usefixtures("bind_app")


def connect(provider, settings, credentials):
    from pagesite.services import channels

    with in_app():
        return channels.create_channel(provider, f"My {provider}", settings, credentials)[0].id


def row(channel_id):
    from pagesite.extensions import db
    from pagesite.models import Channel

    with in_app():
        channel = db.session.get(Channel, channel_id)
        db.session.expunge(channel)
        return channel


def refresh_a_day_later():
    from pagesite.services import channels
    from pagesite.timeutil import utcnow

    with in_app():
        return channels.refresh_due(now=utcnow() + timedelta(days=1, seconds=1))


@pytest.mark.slow
def test_the_scheduler_reads_changed_limits_again(app, processes, pds):
    author = pds.create_account()
    with MastodonShaped() as instance:
        mastodon = connect("mastodon", {"instance_url": instance.url}, {"access_token": TOKEN})
        bluesky = connect("bluesky", {"service_url": pds.url},
                          {"identifier": author.handle, "app_password": author.app_password})
        assert row(mastodon).limits["max_characters"] == 500
        connected_at = row(bluesky).refreshed_at
        instance.config["statuses"].update(max_characters=1000, characters_reserved_per_url=30)
        instance.config["media_attachments"]["description_limit"] = 2000
        env = {"PAGESITE_CHANNEL_REFRESH_SECONDS": "1"}
        processes.scheduler(env=env)
        processes.worker(env=env)
        wait_ready(1)
        wait_until(lambda: row(mastodon).limits["max_characters"] == 1000, timeout=30,
                   message="the instance's new limits")
        limits = row(mastodon).limits
        assert (limits["characters_reserved_per_url"], limits["max_description"]) == (30, 2000)
        wait_until(lambda: row(bluesky).refreshed_at > connected_at, timeout=30, message="the Bluesky refresh")
        assert row(bluesky).account["handle"] == author.handle and row(bluesky).status == "connected"


def test_failures_keep_the_limits_and_only_a_refused_token_needs_attention(app):
    with MastodonShaped(max_characters=700) as instance:
        channel_id = connect("mastodon", {"instance_url": instance.url}, {"access_token": TOKEN})
        # The built-in stub channel has nothing to read again: "unchanged".
        assert refresh_a_day_later() == {"refreshed": 1, "unchanged": 1, "failed": 0, "needs_attention": 0}
        instance.config["statuses"]["max_characters"] = 100
        for failure in (503, 500, 502):
            instance.failing = failure
            assert refresh_a_day_later()["failed"] == 1
            assert (row(channel_id).status, row(channel_id).limits["max_characters"]) == ("connected", 700)
        instance.failing = None
        instance.rate_limited = 1
        assert refresh_a_day_later()["failed"] == 1
        assert row(channel_id).status == "connected"

        instance.token = "another-token"  # the user revoked pagesite's token on the instance
        assert refresh_a_day_later()["needs_attention"] == 1
        channel = row(channel_id)
        assert channel.status == "needs_attention" and "access token" in channel.last_error
        assert channel.limits["max_characters"] == 700
        assert refresh_a_day_later()["needs_attention"] == 0  # not asked again until reconnected


def test_a_channel_is_refreshed_once_a_day_not_every_run(app):
    with MastodonShaped() as instance:
        connect("mastodon", {"instance_url": instance.url}, {"access_token": TOKEN})
        from pagesite.services import channels

        served = len(instance.requests)
        with in_app():
            assert channels.refresh_due() == dict.fromkeys(("refreshed", "unchanged", "failed", "needs_attention"), 0)
        assert len(instance.requests) == served
        assert refresh_a_day_later()["refreshed"] == 1
        assert len(instance.requests) > served
