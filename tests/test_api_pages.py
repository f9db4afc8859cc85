"""POST/GET /api/pages: validation, attachment order, status, problem+json."""

import io

import pytest

from helpers import png_bytes


def make_attachment(client, name="a.png"):
    response = client.post(
        "/api/attachment", data={"file": (io.BytesIO(png_bytes()), name)}, content_type="multipart/form-data"
    )
    assert response.status_code == 201
    return response.json["id"]


def test_create_page_with_attachments_in_given_order(client):
    ids = [make_attachment(client, f"{n}.png") for n in range(3)]
    order = [ids[2], ids[0], ids[1]]
    response = client.post("/api/pages", json={"text": "Line one\nLine two", "attachment_ids": order})
    assert response.status_code == 201
    page = response.json
    assert page["text"] == "Line one\nLine two"
    assert [a["id"] for a in page["attachments"]] == order
    assert page["status"] == "draft"
    assert page["created_at"].endswith("Z") and page["updated_at"].endswith("Z")
    fetched = client.get(f"/api/pages/{page['id']}").json
    assert [a["id"] for a in fetched["attachments"]] == order
    assert fetched["schedules"] == []


def test_text_only_page(client):
    response = client.post("/api/pages", json={"text": "Just words"})
    assert response.status_code == 201
    assert response.json["attachments"] == []


def test_text_is_stored_faithfully(client):
    text = "<script>alert(1)</script> 👋 Ωμέγα مرحبا\n\ttabbed"
    page = client.post("/api/pages", json={"text": text}).json
    assert client.get(f"/api/pages/{page['id']}").json["text"] == text


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   \n  "}, "text"),
        ({"text": 42}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"text": "ok", "attachment_ids": "1"}, "attachment_ids"),
        ({"text": "ok", "attachment_ids": [1.5]}, "attachment_ids"),
        ({"text": "ok", "attachment_ids": [True]}, "attachment_ids"),
        ({"text": "ok", "attachment_ids": [999999]}, "attachment_ids"),
        ({"text": "ok", "attachment_ids": [2**70]}, "attachment_ids"),
    ],
)
def test_invalid_pages_are_422_naming_the_field(client, body, field):
    response = client.post("/api/pages", json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["status"] == 422 and problem["title"] and problem["detail"] and problem["type"]
    assert field in problem["errors"] and problem["errors"][field]


def test_both_fields_reported_together(client):
    problem = client.post("/api/pages", json={"text": "", "attachment_ids": "x"}).json
    assert set(problem["errors"]) == {"text", "attachment_ids"}


def test_text_over_limit(client, app):
    limit = app.config["MAX_TEXT_LENGTH"]
    assert client.post("/api/pages", json={"text": "x" * limit}).status_code == 201
    response = client.post("/api/pages", json={"text": "x" * (limit + 1)})
    assert response.status_code == 422
    assert str(limit) in response.json["errors"]["text"][0]


def test_repeated_and_too_many_attachments(client, app):
    one = make_attachment(client)
    assert client.post("/api/pages", json={"text": "t", "attachment_ids": [one, one]}).status_code == 422
    ids = [make_attachment(client) for _ in range(app.config["MAX_ATTACHMENTS"] + 1)]
    response = client.post("/api/pages", json={"text": "t", "attachment_ids": ids})
    assert response.status_code == 422
    assert "At most" in response.json["errors"]["attachment_ids"][0]


def test_malformed_json_is_400_problem(client):
    response = client.post("/api/pages", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_wrong_content_type_is_415_problem(client):
    response = client.post("/api/pages", data="text=hi", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"


def test_deeply_nested_json_is_4xx_not_500(client):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/pages", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.mimetype == "application/problem+json"


def test_body_must_be_an_object(client):
    response = client.post("/api/pages", json=["text"])
    assert response.status_code == 422
    assert "body" in response.json["errors"]


def test_missing_page_is_404_problem(client):
    for path in ("/api/pages/424242", "/api/pages/99999999999999999999", "/api/pages/424242/logs"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json"


def test_unknown_route_and_wrong_method_are_problems(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    response = client.delete("/api/pages")
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
    assert "GET" in response.headers["Allow"]


def test_list_pages_paginated_newest_first(client):
    ids = [client.post("/api/pages", json={"text": f"p{n}"}).json["id"] for n in range(5)]
    first = client.get("/api/pages?per_page=2").json
    assert first["total"] == 5 and first["page"] == 1 and first["per_page"] == 2
    assert [p["id"] for p in first["items"]] == ids[::-1][:2]
    third = client.get("/api/pages?per_page=2&page=3").json
    assert [p["id"] for p in third["items"]] == [ids[0]]


@pytest.mark.parametrize("query", ["per_page=0", "per_page=-5", "per_page=100000", "page=0", "page=abc"])
def test_bad_paging_is_422(client, query):
    response = client.get(f"/api/pages?{query}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
