"""The plan out as CSV: GET /api/schedules?format=csv, with the list's filters."""

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import update

from scheduling_helpers import in_app, make_page, schedule_page

pytestmark = pytest.mark.usefixtures("bind_app")


def rows(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_every_matching_schedule_with_its_time_offset_channel_and_url(client):
    from pagesite.extensions import db
    from pagesite.models import Schedule
    from pagesite.timeutil import isoformat, utcnow

    base = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    first = schedule_page(client, make_page(client, "Spring sale, with a comma\nand a second line"), base)
    formula = schedule_page(client, make_page(client, "=HYPERLINK(\"http://evil.example\")"), base + timedelta(hours=1))
    out = schedule_page(client, make_page(client, "Already out"), base + timedelta(hours=2))
    with in_app():
        db.session.execute(update(Schedule).where(Schedule.id == out["id"]).values(
            status="published", published_at=base, url="https://social.example/@me/1", next_attempt_at=None))
        db.session.commit()

    everything = rows(client.get("/api/schedules?format=csv"))

    assert [r["schedule_id"] for r in everything] == [str(first["id"]), str(formula["id"]), str(out["id"])]
    assert everything[0]["text"] == "Spring sale, with a comma\nand a second line"
    assert everything[0]["scheduled_at"] == isoformat(base) and everything[0]["scheduled_at"].endswith("Z")
    assert everything[0]["channel"] == first["channel"]["name"] and everything[0]["status"] == "queued"
    assert everything[1]["text"] == "'=HYPERLINK(\"http://evil.example\")"  # a spreadsheet shows it, never runs it
    assert everything[2]["url"] == "https://social.example/@me/1" and everything[2]["published_at"] == isoformat(base)

    queued_only = rows(client.get("/api/schedules?format=csv&status=queued&q=sale"))
    assert [r["schedule_id"] for r in queued_only] == [str(first["id"])]


def test_no_schedule_is_a_header_alone_and_a_bad_filter_a_problem(client):
    assert client.get("/api/schedules?format=csv").get_data(as_text=True).startswith("schedule_id,page_id,text,")
    assert rows(client.get("/api/schedules?format=csv")) == []

    response = client.get("/api/schedules?format=csv&from=yesterday")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    response = client.get("/api/schedules?format=xml")
    assert response.status_code == 422 and "format" in response.get_json()["errors"]
