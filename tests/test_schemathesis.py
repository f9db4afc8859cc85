"""Property-based tests of the API against its own OpenAPI document.

Schemathesis generates requests from the document (valid and invalid ones)
and sends them to the app in-process (WSGI), with every check it has (as
``st run -c all``): no server error; a documented status code, content type,
headers and body; every schema-valid request accepted and every
schema-violating one refused; auth not ignored; unsupported methods refused.
"""

import io
import json
import os
from datetime import datetime, timedelta, timezone

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
import schemathesis.specs.openapi.checks  # noqa: F401 (registers the OpenAPI checks)
from schemathesis.checks import CHECKS as REGISTERED
from schemathesis.specs.openapi.checks import positive_data_acceptance

from helpers import png_bytes
from pagesite import create_app, heartbeats
from pagesite.api.problems import document
from pagesite.extensions import get_redis

# Rules no JSON Schema can state: that a referenced row exists, that the ids in
# a list of objects differ, that a time
# lies in the future (or within the dates Python can hold), what a file's
# bytes are, how two query parameters go together, which time zones the
# server's database knows, and whether the posting queue has times yet. A
# schema-valid request may break only these, and only as a 422 that names them;
# any other refusal of valid data fails the run.
DOMAIN_RULES = (
    "No page with id", "Unknown attachment id", "is in the past", "outside the range of supported dates",
    "This file is", "could not be read", "The file is empty.", "pixels",
    "No channel with id", "Unknown channel id", "channel is connected; connect one first", "Unknown time zone",
    "No posting times are set up", "An attachment may appear only once",
    "together with", "Must be later than from", "A range may span at most",
    # Many schedules at once: ids or a filter, which schedules exist, where a move lands.
    "either ids or filter", "No schedule ", "would move into the past", "Moving needs a number of seconds",
    "The filter matches",
    # Snippets: one name each, and not too many.
    "exists already; choose another name", "snippets; delete one first",
    # A page's versions: one per channel.
    "has a version already in this list",
    # A thread: a channel or a limit, and a text that fits in 25 parts.
    "Name a channel", "not both", "Too long for a thread", "cannot be broken",
    # An import: what the CSV file holds, which import exists and whether its rows can be created.
    "The first line must name the columns", "The file has no rows", "not UTF-8", "cannot be read as CSV",
    "Unknown time zone", "No row can be created", "rows have problems", "At most 5,000 rows",
    # Marking a schedule as published: a link to the post, if any.
    "Must be the post's address",
    # A feed: its address must give a feed (read when it is added), its template known placeholders.
    "not an RSS, Atom or JSON feed", "Could not reach", "did not answer within", "answered", "redirected more",
    "connects only to public addresses", "Unknown placeholder", "without its pair", "Give the feed's address",
    "Give a template", "No channel with id",
)
# A channel's settings and credentials are checked against its provider's own
# schema (`GET /api/providers`) and then by the network itself: refusals on
# those fields are the provider's verdict, not the document's.
PROVIDER_FIELDS = {"/channels": ("settings", "credentials", "provider"),
                   "/channels/{channel_id}": ("settings", "credentials")}


def _domain_refusal(case, errors):
    messages = [m for ms in errors.values() for m in ms]
    if messages and all(any(rule in m for rule in DOMAIN_RULES) for m in messages):
        return True
    prefixes = next((fields for path, fields in PROVIDER_FIELDS.items() if case.path.endswith(path)), ())
    return bool(errors) and all(key.split(".")[0] in prefixes for key in errors)


def positive_data_acceptance_but_domain_rules(ctx, response, case):
    if response.status_code == 422 and _domain_refusal(case, response.json().get("errors") or {}):
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [positive_data_acceptance_but_domain_rules if check is positive_data_acceptance else check
          for check in REGISTERED.get_all()]

# Examples per operation; raise it for a deeper run (PAGESITE_SCHEMATHESIS_EXAMPLES=500).
EXAMPLES = int(os.environ.get("PAGESITE_SCHEMATHESIS_EXAMPLES", "25"))


def generated_document():
    """The document an app with the default limits generates from its declarations (the tests do
    not change the limits). Built at collection time, so no database is touched."""
    app = create_app({"TESTING": True, "SECRET_KEY": "unused", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return json.loads(json.dumps(document(app)))


DOCUMENT = generated_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
# The test sends a real token itself; schemathesis's own auth checks (ignored_auth) still take it away.
schema.config.generation.update(with_security_parameters=False)


@pytest.fixture(autouse=True)
def generous_rate_limits(app):
    """The rate limits have tests of their own (test_rate_limits.py); here they would only stop the
    generated requests from reaching what they test (a 429 is documented, and accepted, either way)."""
    names = ("TOKEN_RATE_LIMIT", "CONNECT_RATE_LIMIT")
    saved = {name: app.config[name] for name in names}
    app.config.update(dict.fromkeys(names, "100000 per hour"))
    yield
    app.config.update(saved)


def test_the_tested_document_is_the_served_one(client):
    assert client.get("/api/openapi.json").json == DOCUMENT


@pytest.fixture
def seeded(app, client):
    """A few of everything, so generated ids (small ones come first) find real rows:
    attachment 1; page 1 with a queued schedule; page 2 published; page 3 whose
    publish failed (a failed schedule and its log). A worker and the scheduler
    look alive, so the health check can pass."""
    upload = client.post("/api/attachment", data={"file": (io.BytesIO(png_bytes()), "a.png"), "alt_text": "A square"},
                         content_type="multipart/form-data")
    assert upload.status_code == 201, upload.json
    later = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    for text, publish in [("Queued page", False), ("Published page", True), ("Refused page [stub:fail]", True)]:
        page = client.post("/api/pages", json={"text": text, "attachment_ids": [upload.json["id"]]})
        assert page.status_code == 201, page.json
        if publish:
            response = client.post("/api/providers/stub/publish", json={"page_id": page.json["id"]})
            assert response.status_code in (201, 502), response.json
        else:
            response = client.post("/api/schedules", json={"page_id": page.json["id"], "scheduled_at": later})
            assert response.status_code == 201, response.json
    with app.app_context():
        heartbeats.beat_worker(get_redis(), "worker:schemathesis")
        heartbeats.beat_scheduler(get_redis())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case, app, api_token, seeded):
    headers = {"Authorization": f"Bearer {api_token}"} if api_token else None
    case.operation.schema.app = app  # in-process (WSGI), for the checks' own requests too
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)


# Answers that were 500s before; each is now a 422 problem naming the field.

@pytest.mark.parametrize("method, path, body, field", [
    ("patch", "/api/attachment/1", {"alt_text": [None, None]}, "alt_text"),
    ("patch", "/api/attachment/1", {"alt_text": 0.2}, "alt_text"),
    ("patch", "/api/attachment/1", b'{"alt_text": "a\\ud800b"}', "alt_text"),
    ("post", "/api/pages", b'{"text": "a\\ud800b"}', "text"),
    ("post", "/api/schedules", {"page_id": 1, "scheduled_at": "9999-12-31T23:59:59-01:00"}, "scheduled_at"),
    ("patch", "/api/schedules/1", {"scheduled_at": "0001-01-01T00:30:00+01:00"}, "scheduled_at"),
])
def test_found_by_schemathesis(client, seeded, method, path, body, field):
    if isinstance(body, bytes):
        response = getattr(client, method)(path, data=body, content_type="application/json")
    else:
        response = getattr(client, method)(path, json=body)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]


def test_problem_instance_is_a_percent_encoded_uri_reference(client):
    response = client.get("/api/providers/\u00e8/publish")
    assert response.status_code == 405
    assert response.json["instance"] == "/api/providers/%C3%A8/publish"
