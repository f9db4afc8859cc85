"""Planning through the API: schedules by date range, the posting queue (races and
daylight-saving nights included) and the secret calendar feed."""

import json
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from pagesite.extensions import db
from pagesite.models import CalendarFeed

UTC = timezone.utc


def http(method, url, body, token):
    """A JSON request to a real server; (status, body), or (None, the error) when it could not be made.

    Racing requests wait for each other (that is the point), so the timeout is generous.
    """
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
    except OSError as e:  # reported, not lost in a thread
        return None, repr(e)


def page_id(client, text="Hello"):
    return client.post("/api/pages", json={"text": text}).json["id"]


def at(days, hour=12):
    """A time ``days`` from now at ``hour``:00 UTC, whole seconds."""
    base = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return base + timedelta(days=days)


def schedule_at(client, when, text="Hello"):
    response = client.post("/api/schedules", json={"page_id": page_id(client, text), "scheduled_at": when.isoformat()})
    assert response.status_code == 201, response.json
    return response.json


def iso(value):
    return value.isoformat().replace("+00:00", "Z")


# Schedules by date range

def test_range_returns_schedules_due_from_start_up_to_end(client):
    inside = [schedule_at(client, at(2, 9)), schedule_at(client, at(3, 18))]
    schedule_at(client, at(1, 9))      # before
    schedule_at(client, at(4, 9))      # after
    edge = schedule_at(client, at(2, 0))  # exactly at from: included
    schedule_at(client, at(4, 0))      # exactly at to: excluded
    response = client.get("/api/schedules", query_string={"from": iso(at(2, 0)), "to": iso(at(4, 0))})
    assert response.status_code == 200
    assert [s["id"] for s in response.json["items"]] == [edge["id"], inside[0]["id"], inside[1]["id"]]
    assert response.json["total"] == 3


def test_range_accepts_any_offset_and_combines_with_status(client):
    keep = schedule_at(client, at(2, 10))
    drop = schedule_at(client, at(2, 11))
    client.post(f"/api/schedules/{drop['id']}/cancel")
    kolkata = timezone(timedelta(hours=5, minutes=30))
    start, end = at(2, 0).astimezone(kolkata), at(3, 0).astimezone(kolkata)
    response = client.get("/api/schedules", query_string={
        "from": start.isoformat(), "to": end.isoformat(), "status": "queued"})
    assert [s["id"] for s in response.json["items"]] == [keep["id"]]


@pytest.mark.parametrize("args, field", [
    ({"from": "2030-01-01T00:00:00", "to": "2030-01-02T00:00:00Z"}, "from"),
    ({"from": "2030-01-01T00:00:00Z", "to": "2030-01-02T00:00:00"}, "to"),
    ({"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "to"),
    ({"from": "2030-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "to"),
    ({"from": "2030-01-01T00:00:00Z", "to": "2030-06-01T00:00:00Z"}, "to"),
    ({"from": "2030-01-01T00:00:00Z"}, "to"),
    ({"to": "2030-01-01T00:00:00Z"}, "from"),
    ({"from": "yesterday", "to": "2030-01-01T00:00:00Z"}, "from"),
])
def test_bad_ranges_are_422_problems_naming_the_field(client, args, field):
    response = client.get("/api/schedules", query_string=args)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]


def test_the_range_cap_is_93_days(client):
    ok = client.get("/api/schedules", query_string={"from": "2030-01-01T00:00:00Z", "to": "2030-04-04T00:00:00Z"})
    assert ok.status_code == 200
    too_long = client.get("/api/schedules", query_string={"from": "2030-01-01T00:00:00Z",
                                                          "to": "2030-04-04T00:00:01Z"})
    assert too_long.status_code == 422 and "93 days" in too_long.json["errors"]["to"][0]


# Searching and filtering the schedules list

def listed(client, **query):
    response = client.get("/api/schedules", query_string=query)
    assert response.status_code == 200, response.json
    return [s["page"]["text"] for s in response.json["items"]]


def test_search_finds_page_text_in_any_case_and_treats_wildcards_as_text(client):
    for n, text in enumerate(["Spring SALE starts", "Autumn sale", "50% off_today", "Nothing here"]):
        schedule_at(client, at(n + 1), text)
    assert listed(client, q="sale") == ["Spring SALE starts", "Autumn sale"]
    assert listed(client, q="  Sale ") == ["Spring SALE starts", "Autumn sale"]  # blanks around it ignored
    assert listed(client, q="%") == ["50% off_today"] and listed(client, q="_") == ["50% off_today"]
    assert listed(client, q="0%_") == [] and listed(client, q="n%e") == []
    assert listed(client, q="") == listed(client)  # an empty search keeps everything
    assert client.get("/api/schedules", query_string={"q": "sale", "per_page": 1}).json["total"] == 2
    for bad in ("x" * 201, "nul\x00"):
        response = client.get("/api/schedules", query_string={"q": bad})
        assert response.status_code == 422 and "q" in response.json["errors"], bad


def test_filters_by_channel_and_combines_with_search_range_and_status(client):
    stub = client.get("/api/channels").json["items"][0]
    other = new_channel(client, "Other")
    mine = schedule_at(client, at(2), "Launch on stub")
    pid = page_id(client, "Launch on other")
    there = client.post("/api/schedules", json={"page_id": pid, "channel_id": other["id"],
                                                "scheduled_at": iso(at(5))}).json
    schedule_at(client, at(9), "Launch later on stub")
    assert listed(client, channel_id=other["id"]) == ["Launch on other"]
    assert listed(client, channel_id=stub["id"], q="launch") == ["Launch on stub", "Launch later on stub"]
    assert listed(client, q="launch", **{"from": iso(at(1)), "to": iso(at(6))}) == ["Launch on stub",
                                                                                    "Launch on other"]
    client.post(f"/api/schedules/{there['id']}/cancel")
    assert listed(client, channel_id=other["id"], status="queued") == []
    assert listed(client, channel_id=other["id"], status="canceled") == ["Launch on other"]
    assert listed(client, channel_id=999999) == []
    assert mine["channel"]["id"] == stub["id"]
    bad = client.get("/api/schedules", query_string={"channel_id": "x", "from": "yesterday", "to": iso(at(1))})
    assert bad.status_code == 422 and {"channel_id", "from"} <= set(bad.json["errors"])


def test_openapi_documents_the_list_filters(client):
    parameters = {p["name"]: p for p in client.get("/api/openapi.json").json["paths"]["/api/schedules"]["get"]
                  ["parameters"]}
    assert {"q", "channel_id", "from", "to", "status", "page_id"} <= set(parameters)
    assert parameters["q"]["schema"]["maxLength"] == 200


# The posting queue

def set_queue(client, time_zone, *slots):
    response = client.put("/api/queue", json={
        "time_zone": time_zone, "slots": [{"weekday": d, "time": t} for d, t in slots]})
    assert response.status_code == 200, response.json
    return response.json


def test_queue_starts_empty_in_utc_and_is_stored_sorted_without_duplicates(client):
    assert client.get("/api/queue").json == {"time_zone": "UTC", "slots": []}
    stored = set_queue(client, "Europe/Berlin", ("fri", "17:30"), ("mon", "09:00"), ("fri", "08:05"),
                       ("mon", "09:00"))
    assert stored == {"time_zone": "Europe/Berlin", "slots": [
        {"weekday": "mon", "time": "09:00"}, {"weekday": "fri", "time": "08:05"}, {"weekday": "fri", "time": "17:30"}]}
    assert client.get("/api/queue").json == stored
    assert set_queue(client, "UTC") == {"time_zone": "UTC", "slots": []}


@pytest.mark.parametrize("body, errors", [
    ({"time_zone": "Mars/Olympus", "slots": []}, {"time_zone": "Unknown time zone"}),
    ({"time_zone": "", "slots": []}, {"time_zone": "Must not be empty."}),
    ({"slots": []}, {"time_zone": "This field is required."}),
    ({"time_zone": "UTC", "slots": "mon 09:00"}, {"slots": "Must be a list."}),
    ({"time_zone": "UTC"}, {"slots": "This field is required."}),
    ({"time_zone": "UTC", "slots": [{"weekday": "monday", "time": "09:00"}]}, {"slots": "item 1 weekday"}),
    ({"time_zone": "UTC", "slots": [{"weekday": "mon", "time": "9:00"}, {"weekday": "tue", "time": "24:00"}]},
     {"slots": "item 2 time"}),
    ({"time_zone": "UTC", "slots": [7]}, {"slots": "item 1"}),
    ({"time_zone": 5, "slots": [{"weekday": "sun", "time": "25:61"}]},
     {"time_zone": "Must be a string.", "slots": "item 1 time"}),
])
def test_bad_queues_are_422_naming_every_field(client, body, errors):
    response = client.put("/api/queue", json=body)
    assert response.status_code == 422
    assert set(response.json["errors"]) == set(errors)
    for field, start in errors.items():
        assert any(start in message for message in response.json["errors"][field]), response.json["errors"]
    assert client.get("/api/queue").json == {"time_zone": "UTC", "slots": []}  # nothing half-stored


def test_queue_without_times_is_a_422_on_queue(client):
    response = client.post("/api/schedules", json={"page_id": page_id(client), "queue": True})
    assert response.status_code == 422 and "queue" in response.json["errors"]


def test_queue_and_a_time_together_are_refused(client):
    set_queue(client, "UTC", ("mon", "09:00"))
    response = client.post("/api/schedules", json={"page_id": page_id(client), "queue": True,
                                                   "scheduled_at": iso(at(3))})
    assert response.status_code == 422 and "queue" in response.json["errors"]
    response = client.post("/api/schedules", json={"page_id": page_id(client), "queue": "yes"})
    assert response.status_code == 422 and "queue" in response.json["errors"]


def next_local(zone, weekday, clock, count, after=None):
    """The next ``count`` wall-clock times ``weekday`` (0 = Monday) at ``clock`` in ``zone``, as UTC."""
    tz = ZoneInfo(zone)
    now = after or datetime.now(UTC)
    day = now.astimezone(tz).date()
    found = []
    while len(found) < count:
        if day.weekday() == weekday:
            local = datetime.combine(day, datetime.strptime(clock, "%H:%M").time(), tzinfo=tz)
            if local.astimezone(UTC) > now:
                found.append(local.astimezone(UTC))
        day += timedelta(days=1)
    return found


def test_queue_takes_the_next_free_times_in_order_and_a_canceled_one_frees_its_time(client):
    set_queue(client, "America/New_York", ("tue", "08:00"), ("thu", "18:30"))
    tuesdays = next_local("America/New_York", 1, "08:00", 3)
    thursdays = next_local("America/New_York", 3, "18:30", 3)
    expected = sorted(tuesdays + thursdays)[:4]
    taken = []
    for n in range(3):
        response = client.post("/api/schedules", json={"page_id": page_id(client, f"q{n}"), "queue": True})
        assert response.status_code == 201, response.json
        taken.append(response.json)
    assert [datetime.fromisoformat(s["scheduled_at"]) for s in taken] == expected[:3]
    # A schedule of its own at a posting time holds it too.
    own = schedule_at(client, expected[3])
    client.post(f"/api/schedules/{taken[1]['id']}/cancel")
    again = client.post("/api/schedules", json={"page_id": page_id(client, "again"), "queue": True}).json
    assert datetime.fromisoformat(again["scheduled_at"]) == expected[1]
    later = client.post("/api/schedules", json={"page_id": page_id(client, "later"), "queue": True}).json
    assert datetime.fromisoformat(later["scheduled_at"]) == sorted(tuesdays + thursdays)[4]
    assert own["status"] == "queued"


def test_queue_on_daylight_saving_nights_moves_a_missing_time_forward_and_takes_the_first_of_two(client):
    """Sundays at 02:30 in Berlin: missing on the spring night, twice on the autumn night."""
    zone = ZoneInfo("Europe/Berlin")
    set_queue(client, "Europe/Berlin", ("sun", "02:30"))
    seen = {}
    day = datetime.now(UTC).astimezone(zone).date()
    while len(seen) < 2:  # take Sundays until both kinds of night have been served
        response = client.post("/api/schedules", json={"page_id": page_id(client), "queue": True})
        assert response.status_code == 201, response.json
        when = datetime.fromisoformat(response.json["scheduled_at"])
        local = when.astimezone(zone)
        assert local.weekday() == 6 and local.date() > day  # one each Sunday, none skipped
        day = local.date()
        before = datetime.combine(day, datetime.min.time(), tzinfo=zone).utcoffset()
        after = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone).utcoffset()
        if after > before:
            seen["spring"] = local
        elif after < before:
            seen["autumn"] = local
        else:
            assert (local.hour, local.minute) == (2, 30)
    # Spring: 02:30 does not exist; it moves forward by the hour the clocks skip.
    assert (seen["spring"].hour, seen["spring"].minute) == (3, 30)
    assert seen["spring"].utcoffset() == timedelta(hours=2)
    assert seen["spring"].astimezone(UTC).time().isoformat() == "01:30:00"
    # Autumn: 02:30 happens twice; the first (still summer time, +02:00) is used.
    assert (seen["autumn"].hour, seen["autumn"].minute) == (2, 30)
    assert seen["autumn"].utcoffset() == timedelta(hours=2)
    assert seen["autumn"].astimezone(UTC).time().isoformat() == "00:30:00"


@pytest.mark.parametrize("own_queue", [False, True], ids=["default-queue", "channel-queue"])
def test_racing_queue_requests_never_share_a_time(processes, api_token, client, own_queue):
    """Real concurrent requests to gunicorn as the Procfile runs it (2 processes x 8 threads), on this run's database."""
    slots = [(d, t) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") for t in ("09:00", "13:00")]
    target = {}
    if own_queue:  # the channel's own queue is locked, not the default one (which has other times)
        set_queue(client, "UTC", ("mon", "06:00"))
        channel = new_channel(client)
        set_channel_queue(client, channel["id"], "UTC", *slots)
        target = {"channel_id": channel["id"]}
    else:
        set_queue(client, "UTC", *slots)
    web = processes.web()
    pages = [page_id(client, f"race {n}") for n in range(16)]
    barrier = threading.Barrier(len(pages))
    results = [None] * len(pages)

    def take(n):
        barrier.wait()
        results[n] = http("POST", web.url + "/api/schedules", {"page_id": pages[n], "queue": True, **target},
                          api_token)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(len(pages))]
    start = datetime.now(UTC)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [status for status, _ in results] == [201] * len(pages), results
    times = sorted(datetime.fromisoformat(body["scheduled_at"]) for _, body in results)
    assert len(set(times)) == len(times), times
    posting_times = sorted(
        (start + timedelta(days=day)).replace(hour=hour, minute=0, second=0, microsecond=0)
        for day in range(10) for hour in (9, 13))
    # The first 16 posting times, each once: none doubled, none skipped.
    assert times == [t for t in posting_times if t > start][:16]


# Each channel's own queue

def new_channel(client, name="Second"):
    response = client.post("/api/channels", json={"provider": "stub", "name": name})
    assert response.status_code == 201, response.json
    return response.json


def set_channel_queue(client, channel_id, time_zone, *slots):
    response = client.put(f"/api/channels/{channel_id}/queue", json={
        "time_zone": time_zone, "slots": [{"weekday": d, "time": t} for d, t in slots]})
    assert response.status_code == 200, response.json
    return response.json


def test_a_channel_queue_starts_on_the_default_and_is_stored_on_its_own(client):
    channel = new_channel(client)
    assert client.get(f"/api/channels/{channel['id']}/queue").json == {
        "time_zone": "UTC", "slots": [], "uses_default": True}
    set_queue(client, "UTC", ("mon", "09:00"))
    stored = set_channel_queue(client, channel["id"], "Europe/Berlin", ("wed", "18:00"), ("tue", "07:15"))
    assert stored == {"time_zone": "Europe/Berlin", "uses_default": False,
                      "slots": [{"weekday": "tue", "time": "07:15"}, {"weekday": "wed", "time": "18:00"}]}
    assert client.get(f"/api/channels/{channel['id']}/queue").json == stored
    assert client.get("/api/queue").json["slots"] == [{"weekday": "mon", "time": "09:00"}]  # untouched
    # No times of its own: back on the default queue.
    assert set_channel_queue(client, channel["id"], "UTC")["uses_default"] is True


def test_channel_queues_answer_404_for_unknown_channels_and_422_naming_fields(client):
    assert client.get("/api/channels/999999/queue").status_code == 404
    response = client.put("/api/channels/999999/queue", json={"time_zone": "UTC", "slots": []})
    assert response.status_code == 404 and response.content_type == "application/problem+json"
    channel = new_channel(client)
    response = client.put(f"/api/channels/{channel['id']}/queue", json={
        "time_zone": "UTC", "slots": [{"weekday": "mon", "time": "25:00"}]})
    assert response.status_code == 422 and set(response.json["errors"]) == {"slots"}
    response = client.put(f"/api/channels/{channel['id']}/queue", json={"time_zone": "Mars/Olympus", "slots": []})
    assert response.status_code == 422 and set(response.json["errors"]) == {"time_zone"}
    assert client.get(f"/api/channels/{channel['id']}/queue").json["uses_default"] is True


def test_each_channel_takes_its_own_next_free_time_and_falls_back_to_the_default(client):
    stub = client.get("/api/channels").json["items"][0]
    own, fallback = new_channel(client, "Own times"), new_channel(client, "Default times")
    set_queue(client, "America/New_York", ("tue", "08:00"))
    set_channel_queue(client, own["id"], "Europe/Berlin", ("fri", "17:30"))
    tuesdays = next_local("America/New_York", 1, "08:00", 2)
    fridays = next_local("Europe/Berlin", 4, "17:30", 2)
    ids = [stub["id"], own["id"], fallback["id"]]
    got = []
    for n in range(2):
        response = client.post(f"/api/pages/{page_id(client, f'multi {n}')}/schedules",
                               json={"channel_ids": ids, "queue": True})
        assert response.status_code == 201, response.json
        got.append({s["channel"]["id"]: datetime.fromisoformat(s["scheduled_at"]) for s in response.json["items"]})
    for n in range(2):
        assert got[n] == {stub["id"]: tuesdays[n], own["id"]: fridays[n], fallback["id"]: tuesdays[n]}
    # One channel alone: its next time is free on it, whatever the others hold.
    response = client.post("/api/schedules", json={"page_id": page_id(client, "one"), "queue": True,
                                                   "channel_id": own["id"]})
    assert datetime.fromisoformat(response.json["scheduled_at"]) == next_local("Europe/Berlin", 4, "17:30", 3)[2]


def test_queue_with_no_times_anywhere_names_the_channel(client):
    channel = new_channel(client, "Lonely")
    stub = client.get("/api/channels").json["items"][0]
    set_channel_queue(client, stub["id"], "UTC", ("mon", "09:00"))
    response = client.post(f"/api/pages/{page_id(client)}/schedules",
                           json={"channel_ids": [stub["id"], channel["id"]], "queue": True})
    assert response.status_code == 422
    assert "Lonely" in response.json["errors"]["queue"][0] and "stub" not in response.json["errors"]["queue"][0]
    assert client.get("/api/schedules").json["total"] == 0


# The calendar feed

def test_feed_url_is_absolute_secret_and_readable_without_a_token(client, anon, app):
    keep = schedule_at(client, at(2, 9), "Launch day: the new site is live for everyone to see")
    canceled = schedule_at(client, at(3, 9), "Canceled post")
    client.post(f"/api/schedules/{canceled['id']}/cancel")
    response = client.post("/api/calendar-feed")
    assert response.status_code == 201
    url = response.json["url"]
    assert url.startswith("http://localhost/calendar/feed/") and url.endswith(".ics")
    secret = url.rsplit("/", 1)[1].removesuffix(".ics")
    with app.app_context():
        row = db.session.query(CalendarFeed).one()
        assert secret not in row.secret_hash and len(row.secret_hash) == 64  # only a digest is stored
    feed = anon.get(url.removeprefix("http://localhost"))
    assert feed.status_code == 200
    assert feed.mimetype == "text/calendar"
    calendar = Calendar.from_ical(feed.data)
    events = calendar.walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["Launch day: the new site is live for…"]
    assert events[0].decoded("dtstart") == datetime.fromisoformat(keep["scheduled_at"])
    assert str(events[0]["url"]).endswith(f"/pages/{keep['page_id']}")
    assert str(events[0]["uid"]) == f"schedule-{keep['id']}@pagesite"
    assert str(events[0]["location"]) == "Stub (stub)"  # the channel by name, and its provider
    assert str(events[0]["description"]).endswith("(scheduled on Stub (stub))")


def test_feed_includes_published_pages(client, anon, app):
    from pagesite.services import publishing

    published = client.post("/api/providers/default/publish", json={"page_id": page_id(client, "Out now")})
    assert published.status_code == 201, published.json
    url = client.post("/api/calendar-feed").json["url"].removeprefix("http://localhost")
    events = Calendar.from_ical(anon.get(url).data).walk("VEVENT")
    assert [(str(e["summary"]), str(e["status"])) for e in events] == [("Out now", "CONFIRMED")]
    assert publishing  # the synchronous publish above went through the real service


def test_a_new_feed_url_replaces_the_old_and_delete_revokes(client, anon):
    first = client.post("/api/calendar-feed").json["url"].removeprefix("http://localhost")
    second = client.post("/api/calendar-feed").json["url"].removeprefix("http://localhost")
    assert first != second
    assert anon.get(first).status_code == 404
    assert anon.get(second).status_code == 200
    assert client.delete("/api/calendar-feed").status_code == 204
    assert anon.get(second).status_code == 404
    assert client.delete("/api/calendar-feed").status_code == 204  # already off: still fine
    assert anon.get("/calendar/feed/" + "x" * 43 + ".ics").status_code == 404


def test_feed_endpoints_need_a_token(anon):
    assert anon.post("/api/calendar-feed").status_code == 401
    assert anon.delete("/api/calendar-feed").status_code == 401
    assert anon.get("/api/queue").status_code == 401
    assert anon.put("/api/queue", json={}).status_code == 401


# Drafts and duplicates

def test_drafts_are_pages_with_nothing_planned_or_published(client):
    draft = page_id(client, "Never scheduled")
    planned = schedule_at(client, at(3), "Planned")
    canceled = schedule_at(client, at(4), "Canceled, so a draft again")
    client.post(f"/api/schedules/{canceled['id']}/cancel")
    response = client.get("/api/pages", query_string={"status": "draft"})
    assert response.status_code == 200
    assert [p["id"] for p in response.json["items"]] == [canceled["page_id"], draft]
    assert response.json["total"] == 2
    assert planned["page_id"] in [p["id"] for p in client.get("/api/pages").json["items"]]
    assert client.get("/api/pages", query_string={"status": "queued"}).status_code == 422


def test_duplicate_makes_a_draft_with_the_same_text_and_attachments(client):
    from helpers import png_bytes

    ids = [client.post("/api/attachment", data={"file": (__import__("io").BytesIO(png_bytes()), f"{n}.png"),
                                                 "alt_text": f"image {n}"},
                       content_type="multipart/form-data").json["id"] for n in range(2)]
    original = client.post("/api/pages", json={"text": "Copy me", "attachment_ids": list(reversed(ids))}).json
    schedule_at(client, at(2), "other")
    client.post("/api/schedules", json={"page_id": original["id"], "scheduled_at": iso(at(5))})
    response = client.post(f"/api/pages/{original['id']}/duplicate")
    assert response.status_code == 201
    copy = response.json
    assert copy["id"] != original["id"] and copy["text"] == "Copy me"
    assert [a["id"] for a in copy["attachments"]] == list(reversed(ids))
    assert copy["status"] == "draft" and copy["schedules"] == []
    assert response.headers["Location"].endswith(f"/api/pages/{copy['id']}")
    assert client.post("/api/pages/999999/duplicate").status_code == 404
