"""A plan in from CSV (POST /api/imports, then /commit): every row previewed
with its problems, then the valid rows or all of them created in one
transaction, and an exported plan imported again is the same plan."""

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from test_threads_split import add_channel


def upload(client, content, time_zone=None, filename="plan.csv"):
    data = {"file": (io.BytesIO(content.encode() if isinstance(content, str) else content), filename)}
    if time_zone:
        data["time_zone"] = time_zone
    return client.post("/api/imports", data=data, content_type="multipart/form-data")


def at(hours):
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).replace(microsecond=0)


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def csv_text(rows, header=("text", "scheduled_at", "channels")):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture
def bluesky(app):
    from pagesite.providers.bluesky import BlueskyProvider

    return add_channel(app, "bluesky", BlueskyProvider.default_limits().to_dict())


def stub_id(client):
    return next(c["id"] for c in client.get("/api/channels").get_json()["items"] if c["provider"] == "stub")


def schedules_of(client):
    return client.get("/api/schedules?per_page=100").get_json()["items"]


def test_a_file_is_previewed_row_by_row_and_nothing_is_created_until_committed(client, bluesky):
    stub = stub_id(client)
    launch = iso(at(2))
    content = csv_text([
        ["Launch day, on both", launch, f"My bluesky; {stub}"],
        ["", iso(at(3)), "My bluesky"],
        ["Too late", iso(at(-1)), "My bluesky"],
        ["Nowhere", iso(at(4)), "Myspace"],
        ["x" * 301, iso(at(5)), "My bluesky"],
        ["No offset", "2030-01-31 09:00", "My bluesky"],
    ])
    response = upload(client, content)
    assert response.status_code == 201, response.get_json()
    preview = response.get_json()
    assert response.headers["Location"].endswith(f"/api/imports/{preview['id']}")
    assert (preview["valid"], preview["invalid"], preview["committed_at"]) == (1, 5, None)
    rows = {row["line"]: row for row in preview["rows"]}
    assert rows[2]["problems"] == [] and rows[2]["channel_ids"] == [bluesky, stub]
    assert rows[2]["scheduled_at"] == launch and rows[2]["text"] == "Launch day, on both"
    assert "text" in rows[3]["problems"][0] and "blank" in rows[3]["problems"][0]
    assert "in the past" in rows[4]["problems"][0]
    assert "No channel named Myspace" in rows[5]["problems"][0]
    assert "My bluesky" in rows[6]["problems"][0] and "300" in rows[6]["problems"][0]
    assert "no offset" in rows[7]["problems"][0] and "time zone" in rows[7]["problems"][0]
    assert schedules_of(client) == []  # a preview creates nothing
    assert client.get(f"/api/imports/{preview['id']}").get_json()["rows"] == preview["rows"]


def test_all_or_nothing_refuses_naming_each_row_and_valid_creates_the_good_ones(client, bluesky):
    first, third = iso(at(2)), iso(at(3))
    content = csv_text([["Good one", first, "My bluesky"], ["Bad one", iso(at(-2)), "My bluesky"],
                        ["Another good one", third, "my BLUESKY"]])
    preview = upload(client, content).get_json()
    refused = client.post(f"/api/imports/{preview['id']}/commit", json={"mode": "all"})
    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]) == ["rows.3"]
    assert schedules_of(client) == []

    done = client.post(f"/api/imports/{preview['id']}/commit", json={"mode": "valid"})
    assert done.status_code == 200, done.get_json()
    result = done.get_json()
    assert result["committed_at"] and len(result["schedule_ids"]) == 2
    made = schedules_of(client)
    assert sorted(s["id"] for s in made) == sorted(result["schedule_ids"])
    assert {(s["page"]["text"], s["scheduled_at"], s["status"], s["channel"]["id"]) for s in made} == {
        ("Good one", first, "queued", bluesky), ("Another good one", third, "queued", bluesky)}

    again = client.post(f"/api/imports/{preview['id']}/commit", json={"mode": "valid"})
    assert again.status_code == 409  # an import is committed once
    assert len(schedules_of(client)) == 2


def test_local_times_in_the_files_zone_across_a_daylight_saving_change(client, bluesky):
    year = datetime.now(timezone.utc).year + 1
    # Europe/Berlin skips 02:00-03:00 on the last Sunday of March and passes it twice on October's.
    march = max(d for d in range(25, 32) if datetime(year, 3, d).weekday() == 6)
    october = max(d for d in range(25, 32) if datetime(year, 10, d).weekday() == 6)
    content = csv_text([
        ["Before the change", f"{datetime(year, 3, march) - timedelta(days=1):%Y-%m-%d} 09:00", "My bluesky"],
        ["After the change", f"{datetime(year, 3, march) + timedelta(days=1):%Y-%m-%d} 09:00", "My bluesky"],
        ["In the gap", f"{year}-03-{march} 02:30", "My bluesky"],
        ["Twice that night", f"{year}-10-{october} 02:30", "My bluesky"],
    ])
    rows = upload(client, content, time_zone="Europe/Berlin").get_json()["rows"]
    before, after, gap, twice = rows
    assert before["scheduled_at"].endswith("T08:00:00Z")  # 09:00 at +01:00
    assert after["scheduled_at"].endswith("T07:00:00Z")  # 09:00 at +02:00
    assert gap["scheduled_at"] is None and "does not exist in Europe/Berlin" in gap["problems"][0]
    assert twice["scheduled_at"].endswith("T00:30:00Z")  # the first 02:30 (+02:00)

    unknown = upload(client, content, time_zone="Mars/Olympus")
    assert unknown.status_code == 422 and "time_zone" in unknown.get_json()["errors"]


def test_an_exported_plan_imported_again_is_the_same_plan(client, bluesky):
    stub = stub_id(client)
    for n, channel in enumerate([stub, bluesky, bluesky], 1):
        page = client.post("/api/pages", json={"text": f"Evergreen post {n}, with a comma and \"quotes\""}).json
        made = client.post("/api/schedules", json={"page_id": page["id"], "channel_id": channel,
                                                   "scheduled_at": iso(at(n))})
        assert made.status_code == 201, made.get_json()
    exported = client.get("/api/schedules?format=csv&status=queued").get_data(as_text=True)

    def plan():
        return sorted((s["page"]["text"], s["channel"]["id"], s["scheduled_at"])
                      for s in schedules_of(client) if s["status"] == "queued")

    before = plan()
    for schedule in schedules_of(client):
        assert client.post(f"/api/schedules/{schedule['id']}/cancel").status_code == 200
    preview = upload(client, exported, filename="pagesite-schedules.csv").get_json()
    assert preview["invalid"] == 0, preview["rows"]
    assert client.post(f"/api/imports/{preview['id']}/commit", json={"mode": "all"}).status_code == 200
    assert plan() == before


@pytest.mark.parametrize("content, words", [
    ("text,when\nHello,tomorrow\n", "missing: scheduled_at, channels"),
    ("text,scheduled_at,channels\n", "no rows"),
    (b"text,scheduled_at,channels\n\xff\xfe,x,y\n", "not UTF-8"),
])
def test_a_file_that_is_not_a_plan_is_refused_on_the_file_field(client, content, words):
    response = upload(client, content)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert words in " ".join(response.get_json()["errors"]["file"])


def test_five_thousand_rows_in_one_transaction_and_one_more_is_refused(client, app):
    stub = stub_id(client)
    when = iso(at(24))
    rows = [[f"Row {n}", when, str(stub)] for n in range(5000)]
    preview = upload(client, csv_text(rows)).get_json()
    assert preview["valid"] == 5000
    done = client.post(f"/api/imports/{preview['id']}/commit", json={"mode": "all"})
    assert done.status_code == 200 and len(done.get_json()["schedule_ids"]) == 5000
    assert client.get("/api/schedules?per_page=1").get_json()["total"] == 5000

    too_many = upload(client, csv_text(rows + [["One more", when, str(stub)]]))
    assert too_many.status_code == 422 and "At most 5,000 rows" in too_many.get_json()["errors"]["file"][0]
