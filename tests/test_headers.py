"""The security headers, on every HTML page the URL map leads to (signed in, signed out,
errors), and nosniff on every answer."""

import io
import re

import pytest

from helpers import jpeg_bytes
from sweep import gets, is_api, path_of, seed, sign_in

STRICT_CSP = {  # directive -> what it must be (img-src and media-src may add object storage's origin)
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "object-src": "'none'",
    "base-uri": "'none'", "form-action": "'self'", "frame-ancestors": "'none'",
}


@pytest.fixture
def html_pages(app, client, user):
    """(path, response) of every HTML answer: each GET page signed in (with real ids, and ids that
    name nothing), the pages anyone may see, a page that does not exist, and a form refused."""
    ids = seed(app, client)
    browser, anon = sign_in(app), app.test_client()
    answers = []
    # The feed (text/calendar) and signed links (bytes) are no pages; their paths hold a secret.
    for _endpoint, rule, missing in gets(app, public_endpoints={"web.calendar_feed", "web.attachment_link"}):
        path = path_of(rule, ids, missing)
        if not is_api(path):
            response = browser.get(path)
            response.get_data()  # read whole and closed: a streamed answer (a CSV file) ends its request here
            response.close()
            answers.append((path, response))
    answers += [("/signin", anon.get("/signin")), ("/no-such-page", browser.get("/no-such-page")),
                ("/signin (wrong password)", anon.post("/signin", data={"email": "x@example.com", "password": "x"}))]
    pages = [(path, r) for path, r in answers if r.mimetype == "text/html"]
    assert len(pages) >= 20, [path for path, _ in pages]
    return pages


def policy(header):
    return {d.split()[0]: " ".join(d.split()[1:]) for d in header.split(";") if d.strip()}


def test_every_html_page_has_a_strict_content_security_policy(html_pages):
    for path, response in html_pages:
        csp = policy(response.headers.get("Content-Security-Policy", ""))
        for directive, value in STRICT_CSP.items():
            assert csp.get(directive) == value, (path, directive, csp.get(directive))
        assert not re.search(r"unsafe-|\*|data:|http:", " ".join(csp[d] for d in ("script-src", "style-src"))), path


def test_no_html_page_may_be_framed(html_pages):
    for path, response in html_pages:
        assert response.headers.get("X-Frame-Options") == "DENY", path
        assert policy(response.headers.get("Content-Security-Policy", "")).get("frame-ancestors") == "'none'", path


def test_no_html_page_gives_its_address_to_other_sites(html_pages):
    for path, response in html_pages:
        assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), path


def test_no_answer_may_be_sniffed_into_another_type(html_pages, client, anon):
    attachment = client.post("/api/attachment", data={"file": (io.BytesIO(jpeg_bytes()), "a.jpg")},
                             content_type="multipart/form-data").json
    answers = html_pages + [
        ("/api/pages", client.get("/api/pages")), ("/api/health", anon.get("/api/health")),
        ("/api/pages (no token)", anon.get("/api/pages")), ("attachment bytes", client.get(attachment["url"])),
        ("/api/attachment (refused)", client.post("/api/attachment", data={"file": (io.BytesIO(b"<svg/>"), "a.svg")},
                                                  content_type="multipart/form-data")),
    ]
    for path, response in answers:
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
