"""/api-docs: the API reference, rendered from the OpenAPI document."""

import re

import pytest

from helpers import sign_in


@pytest.fixture
def signed_in(app, user):
    return sign_in(app.test_client(), app, user)


def test_reference_lists_every_operation_and_schema(signed_in, client):
    spec = client.get("/api/openapi.json").json
    response = signed_in.get("/api-docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert f'id="op-{op["operationId"]}"' in html, f"{method.upper()} {path}"
            assert f"<code class=\"path\">{path}</code>" in html
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    # Every in-page link lands somewhere.
    targets = set(re.findall(r'id="([^"]+)"', html))
    assert {link for link in re.findall(r'href="#([^"]+)"', html)} <= targets


def test_reference_shows_the_rules(signed_in):
    html = signed_in.get("/api-docs").get_data(as_text=True)
    assert "≤ 100" in html  # per_page
    assert "application/problem+json" in html
    assert "no token needed" in html  # GET /api/health
    assert "<code>Authorization: Bearer &lt;token&gt;</code>" in html


def test_reference_works_under_a_strict_csp(signed_in):
    response = signed_in.get("/api-docs")
    html = response.get_data(as_text=True)
    assert "<script" not in html and "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert "http://" not in html.replace('http://localhost', '') and "https://cdn" not in html
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)
    css = signed_in.get(stylesheet)
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_reference_needs_a_signed_in_user(anon, user):
    response = anon.get("/api-docs")
    assert response.status_code == 302
    assert "/signin" in response.headers["Location"]
