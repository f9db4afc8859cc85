"""The OpenAPI document: valid OpenAPI 3.1, and it describes every API route."""

import re

import pytest
from openapi_spec_validator import validate

IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def api_routes(app):
    """{(path, method)} for every route of the api blueprint, in OpenAPI's path syntax."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes.update((path, method.lower()) for method in rule.methods - IGNORED_METHODS)
    return routes


def documented(spec):
    return {(path, method) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS}


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def test_document_is_valid_openapi_31(spec):
    assert spec["openapi"].startswith("3.1.")
    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema or a dangling $ref


def test_every_api_route_is_documented_and_nothing_else(app, spec):
    routes = api_routes(app)
    assert routes, "no api routes found"
    assert documented(spec) - routes == set(), "documented but not routed"
    assert routes - documented(spec) == set(), "routed but not documented"


def test_path_parameters_match_the_route(spec):
    for path, method, op in operations(spec):
        names = set(re.findall(r"{([^}]+)}", path))
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert names == declared, f"{method.upper()} {path}"


def test_operation_ids_are_unique(spec):
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))


def test_only_health_is_public_and_every_secured_operation_documents_401(spec):
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    for path, method, op in operations(spec):
        if (path, method) == ("/api/health", "get"):
            assert op["security"] == [{}, {"bearerAuth": []}]  # none needed; a token gets the details
            assert "application/problem+json" in op["responses"]["401"]["content"]  # a token that is not valid
            continue
        assert "security" not in op, f"{method.upper()} {path} overrides security"
        unauthorized = op["responses"]["401"]
        assert "WWW-Authenticate" in unauthorized["headers"]
        assert "application/problem+json" in unauthorized["content"]


def test_every_error_response_is_a_problem(spec):
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            if int(status) >= 400 and status != "416" and not (path == "/api/health" and status == "503"):
                assert list(response["content"]) == ["application/problem+json"], f"{method} {path} {status}"


def test_limits_come_from_the_config(app, spec):
    per_page = next(p for p in spec["paths"]["/api/pages"]["get"]["parameters"] if p["name"] == "per_page")
    assert per_page["schema"]["maximum"] == app.config["PER_PAGE_MAX"]
    assert per_page["schema"]["minimum"] == 1
    body = spec["paths"]["/api/pages"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert body["properties"]["text"]["maxLength"] == app.config["MAX_TEXT_LENGTH"]


def test_the_document_needs_a_token_like_the_rest_of_the_api(anon):
    response = anon.get("/api/openapi.json")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
