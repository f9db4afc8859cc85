"""A version per channel: a page's own text for one channel, checked against that
channel's limits and published there, while the other channels get the page's."""

import pytest

from test_threads_split import add_channel

LONG = "A launch note that runs longer than Bluesky allows. " * 8  # about 416 characters
SHORT = "The launch, in Bluesky's 300."


@pytest.fixture
def bluesky(app):
    from pagesite.providers.bluesky import BlueskyProvider

    return add_channel(app, "bluesky", BlueskyProvider.default_limits().to_dict())


@pytest.fixture
def stubs(client):
    """The default stub channel and a second one."""
    first = next(c["id"] for c in client.get("/api/channels").get_json()["items"] if c["provider"] == "stub")
    second = client.post("/api/channels", json={"provider": "stub", "name": "Second sandbox"})
    assert second.status_code == 201, second.get_json()
    return first, second.get_json()["id"]


def test_a_version_is_kept_with_the_page_and_checked_against_its_channel(client, bluesky):
    page = client.post("/api/pages", json={"text": LONG.strip(), "versions": [
        {"channel_id": bluesky, "text": f"  {SHORT}  "}]})
    assert page.status_code == 201, page.get_json()
    page = page.get_json()
    assert page["versions"] == [{"channel_id": bluesky, "text": SHORT}]
    assert client.get(f"/api/pages/{page['id']}").get_json()["versions"] == page["versions"]
    made = client.post("/api/schedules", json={"page_id": page["id"], "channel_id": bluesky, "scheduled_at":
                                               "2031-01-01T09:00:00Z"})
    assert made.status_code == 201, made.get_json()  # the page's text is over 300; its version is not

    # Without the version the channel refuses, naming itself.
    other = client.post("/api/pages", json={"text": LONG.strip()}).get_json()
    refused = client.post("/api/schedules", json={"page_id": other["id"], "channel_id": bluesky,
                                                  "scheduled_at": "2031-01-01T09:00:00Z"})
    assert refused.status_code == 422 and "My bluesky" in refused.get_json()["errors"]["channel_id"][0]

    # A version too long for its channel is refused on edit, saying it is the version.
    too_long = client.patch(f"/api/pages/{page['id']}", json={"versions": [{"channel_id": bluesky,
                                                                           "text": LONG.strip()}]})
    assert too_long.status_code == 422
    assert "in its version of the page" in too_long.get_json()["errors"]["text"][0]
    assert client.get(f"/api/pages/{page['id']}").get_json()["versions"][0]["text"] == SHORT

    # null drops it back to the page's text, which Bluesky refuses while the page is queued there.
    dropped = client.patch(f"/api/pages/{page['id']}", json={"versions": [{"channel_id": bluesky, "text": None}]})
    assert dropped.status_code == 422 and "300" in dropped.get_json()["errors"]["text"][0]


def test_each_channel_is_sent_its_own_version(client, stubs, outbox):
    first, second = stubs
    page = client.post("/api/pages", json={"text": "The page's own words", "versions": [
        {"channel_id": second, "text": "Second's own words"}]}).get_json()
    for channel_id in (first, second):
        response = client.post(f"/api/channels/{channel_id}/publish", json={"page_id": page["id"]})
        assert response.status_code == 201, response.get_json()
    logs = client.get(f"/api/pages/{page['id']}/logs").get_json()["items"]
    sent = {log["channel_id"]: log["sent"]["text"] for log in logs}
    assert sent == {first: "The page's own words", second: "Second's own words"}
    assert sorted(r["text"] for r in outbox()) == ["Second's own words", "The page's own words"]


def test_editing_versions_sets_the_channels_named_and_keeps_the_others(client, stubs):
    first, second = stubs
    page = client.post("/api/pages", json={"text": "Page", "versions": [
        {"channel_id": first, "text": "First"}, {"channel_id": second, "text": "Second"}]}).get_json()
    changed = client.patch(f"/api/pages/{page['id']}", json={"versions": [
        {"channel_id": first, "text": None}, {"channel_id": second, "text": "Second, again"}]})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["versions"] == [{"channel_id": second, "text": "Second, again"}]
    kept = client.patch(f"/api/pages/{page['id']}", json={"text": "Page, edited"}).get_json()
    assert kept["versions"] == [{"channel_id": second, "text": "Second, again"}]
    copy = client.post(f"/api/pages/{page['id']}/duplicate").get_json()
    assert copy["versions"] == kept["versions"]


@pytest.mark.parametrize("versions, field", [
    ([{"channel_id": 999, "text": "x"}], "versions.0.channel_id"),
    ([{"channel_id": 1, "text": "a"}, {"channel_id": 1, "text": "b"}], "versions.1.channel_id"),
])
def test_bad_versions_are_422_naming_the_entry(client, versions, field):
    response = client.post("/api/pages", json={"text": "Page", "versions": versions})
    assert response.status_code == 422
    assert field in response.get_json()["errors"], response.get_json()


def test_the_page_screen_shows_each_channels_version(app, client, user, stubs):
    from helpers import sign_in

    _, second = stubs
    page = client.post("/api/pages", json={"text": "Everywhere", "versions": [
        {"channel_id": second, "text": "Only <b>here</b>"}]}).get_json()
    browser = sign_in(app.test_client(), app, user)
    html = browser.get(f"/pages/{page['id']}").get_data(as_text=True)
    assert "In a channel's own words" in html
    assert "Second sandbox" in html and "Only &lt;b&gt;here&lt;/b&gt;" in html
