"""What caches may keep: nothing behind sign-in or a token in a shared cache, ever; the
bytes behind a signed link for as long as the link works, and no longer."""

import io
import time
import urllib.request

import pytest

from helpers import jpeg_bytes
from sweep import gets, is_api, path_of, seed, sign_in


@pytest.fixture
def signed_in(app, user):
    return sign_in(app)


def kept_from_shared_caches(cache_control):
    """A Cache-Control that no shared cache may store or serve to anyone else."""
    directives = {d.strip().split("=")[0].lower() for d in cache_control.split(",") if d.strip()}
    return "public" not in directives and bool(directives & {"private", "no-store"})


def test_no_answer_behind_sign_in_or_a_token_may_be_kept_by_a_shared_cache(app, client, signed_in):
    """Every GET route behind a token (the API, /metrics) or a session (pages, files), found in
    the URL map, answered with real ids and with ids that name nothing; health with a token too.
    GET is what caches store (a POST, PUT or DELETE answer is not reused for a GET)."""
    from pagesite.security import PUBLIC_ENDPOINTS

    ids = seed(app, client)
    answered = {}
    for endpoint, rule, missing in gets(app, PUBLIC_ENDPOINTS - {"api.get_health"}):
        path = path_of(rule, ids, missing)
        response = (client if is_api(path) else signed_in).get(path)
        assert response.status_code < 500 or endpoint == "api.get_health", (path, response.status_code)  # no worker
        cache_control = response.headers.get("Cache-Control", "")
        assert kept_from_shared_caches(cache_control), (path, response.status_code, cache_control)
        if not missing:
            answered[endpoint] = response.status_code
    # Both families were answered as their owner, not turned away.
    files = 302 if app.config["STORAGE"] == "s3" else 200  # object storage: a redirect to the bucket
    assert answered["api.attachment_file"] == answered["web.attachment_file"] == files
    assert answered["api.get_page"] == 200 and answered["web.page_detail"] == 200
    assert answered["api.get_health"] in (200, 503) and answered["metrics.metrics"] == 200
    assert len(answered) >= 30


def test_attachment_bytes_are_private_and_asked_for_each_time(app, client, signed_in):
    body = client.post("/api/attachment", data={"file": (io.BytesIO(jpeg_bytes()), "a.jpg")},
                       content_type="multipart/form-data").json
    for http, path in ((client, body["url"]), (signed_in, f"/attachments/{body['id']}/file")):
        whole = http.get(path)
        if whole.status_code == 302:  # object storage: a redirect to a URL that expires in seconds
            assert whole.headers["Cache-Control"] == "private, no-store"
            with urllib.request.urlopen(whole.headers["Location"], timeout=10) as answer:
                assert answer.headers["Cache-Control"] == f"private, max-age={app.config['S3_URL_EXPIRES']}"
            continue
        assert whole.status_code == 200
        assert whole.headers["Cache-Control"] == "private, no-cache"
        again = http.get(path, headers={"If-None-Match": whole.headers["ETag"]})
        part = http.get(path, headers={"Range": "bytes=0-9"})
        assert (again.status_code, part.status_code) == (304, 206)
        assert again.headers["Cache-Control"] == part.headers["Cache-Control"] == "private, no-cache"


def test_a_signed_link_is_cached_no_longer_than_it_works(app, client, anon):
    from pagesite import signed_links

    body = client.post("/api/attachment", data={"file": (io.BytesIO(jpeg_bytes()), "a.jpg")},
                       content_type="multipart/form-data").json
    lifetime = int(app.config["ATTACHMENT_LINK_SECONDS"])
    for seconds_left in (lifetime, 30):
        made = time.time() - (lifetime - seconds_left)  # a link handed out that long ago
        url = signed_links.attachment_url(app.config, body["id"], body["sha256"], now=made)
        response = anon.get(url.removeprefix(app.config["BASE_URL"]))
        if response.status_code == 302:  # object storage: the presigned URL it points at expires in seconds
            assert response.headers["Cache-Control"] == "private, no-store"
            continue
        assert response.status_code == 200
        directives = dict(d.strip().partition("=")[::2] for d in response.headers["Cache-Control"].split(","))
        assert set(directives) == {"public", "max-age"}  # a link works for anyone who holds it
        assert seconds_left - 5 <= int(directives["max-age"]) <= seconds_left
    expired = signed_links.attachment_url(app.config, body["id"], body["sha256"], now=time.time() - lifetime - 1)
    assert anon.get(expired.removeprefix(app.config["BASE_URL"])).status_code == 410
