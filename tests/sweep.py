"""Walking the URL map: every route of the app, with real ids in its path, for the tests
of what every answer must carry (caching, security headers). A route added later is
swept too; one whose path names something new fails here until this module learns it."""

import io
import re
from datetime import datetime, timedelta, timezone

from helpers import png_bytes

ARGUMENT = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")
MISSING_ID = 999_999


def sign_in(app):
    """A test client signed in through the sign-in form, as a browser is (whatever a session holds)."""
    from conftest import OWNER_EMAIL, OWNER_PASSWORD

    browser = app.test_client()
    token = re.search(rb'name="csrf_token" value="([^"]+)"', browser.get("/signin").data).group(1).decode()
    response = browser.post("/signin", data={"email": OWNER_EMAIL, "password": OWNER_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return browser


def seed(app, client):
    """One of each thing a path can name, made through the API with ``client`` (a token's):
    {path argument: id}."""
    from sqlalchemy import select

    from pagesite.extensions import db
    from pagesite.models import ApiToken, Feed

    upload = client.post("/api/attachment", data={"file": (io.BytesIO(png_bytes()), "swept.png")},
                         content_type="multipart/form-data")
    assert upload.status_code == 201, upload.json
    page = client.post("/api/pages", json={"text": "Swept", "attachment_ids": [upload.json["id"]]})
    assert page.status_code == 201, page.json
    later = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    schedule = client.post("/api/schedules", json={"page_id": page.json["id"], "scheduled_at": later})
    assert schedule.status_code == 201, schedule.json
    plan = client.post("/api/imports", data={"file": (io.BytesIO(f"text,scheduled_at,channels\nSwept,{later},"
                                                           f"{schedule.json['channel']['id']}\n".encode()),
                                                "plan.csv")}, content_type="multipart/form-data")
    assert plan.status_code == 201, plan.json
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
        # A feed row as reading one leaves it (adding one through the API reads its address first).
        feed = Feed(url="https://feeds.example/rss.xml", channel_ids=[schedule.json["channel"]["id"]], mode="draft",
                    template="{title}", failures=0)
        db.session.add(feed)
        db.session.commit()
        feed_id = feed.id
    return {"attachment_id": upload.json["id"], "page_id": page.json["id"], "schedule_id": schedule.json["id"],
            "channel_id": schedule.json["channel"]["id"], "token_id": token_id, "import_id": plan.json["id"],
            "feed_id": feed_id}


def path_of(rule, ids, missing=False):
    """``rule``'s path with its arguments filled: ids from ``seed`` (or one that names nothing)."""

    def value(match):
        converter, name = match.group(1) or "", match.group(2)
        if converter == "int":
            return str(MISSING_ID if missing else ids[name])  # a KeyError: teach seed() the new kind
        if converter.startswith("any("):
            return re.findall(r"[\w-]+", converter[4:])[0]
        if name == "name":
            return "stub"  # a provider
        raise LookupError(f"no value for <{match.group(0)}> in {rule}")

    return ARGUMENT.sub(value, rule)


def is_api(path):
    return path in ("/api", "/metrics") or path.startswith("/api/")


def gets(app, public_endpoints, include_missing=True):
    """[(endpoint, rule, missing)] of every GET route not in ``public_endpoints`` nor static; for
    a route with an id, also with ``missing`` (one that does not exist: its error answer counts too)."""
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        endpoint = rule.endpoint
        if "GET" not in rule.methods or endpoint in public_endpoints or endpoint == "static" \
                or endpoint.endswith(".static"):
            continue
        routes.append((endpoint, rule.rule, False))
        if include_missing and "<int:" in rule.rule:
            routes.append((endpoint, rule.rule, True))
    return routes
