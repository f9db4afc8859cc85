"""POST/GET /api/attachment: sniffed types, limits, streaming storage, served bytes."""

import hashlib
import io
import os

import pytest

from helpers import fetch_served, gif_bytes, jpeg_bytes, mp4_bytes, png_bytes, stored_keys, webp_bytes
from pagesite.storage import get_storage


def upload(client, data, filename="file.bin", alt_text=None, content_type="application/octet-stream"):
    form = {"file": (io.BytesIO(data), filename, content_type)}
    if alt_text is not None:
        form["alt_text"] = alt_text
    return client.post("/api/attachment", data=form, content_type="multipart/form-data")


@pytest.mark.parametrize(
    "make, content_type",
    [(png_bytes, "image/png"), (jpeg_bytes, "image/jpeg"), (gif_bytes, "image/gif"),
     (webp_bytes, "image/webp"), (mp4_bytes, "video/mp4")],
)
def test_upload_each_allowed_type(client, app, make, content_type):
    data = make()
    response = upload(client, data, "holiday photo.bin", alt_text="A red square")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["content_type"] == content_type
    assert body["size_bytes"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["alt_text"] == "A red square"
    assert body["created_at"].endswith("Z")
    assert response.headers["Location"].endswith(f"/api/attachment/{body['id']}")
    if content_type.startswith("image/"):
        assert body["width"] and body["height"]
    status, served, headers = fetch_served(client, body["url"])
    assert status == 200
    assert served == data
    assert headers["Content-Type"] == content_type


def test_image_dimensions_are_read_from_the_bytes(client):
    body = upload(client, png_bytes(31, 17), "x.png").json
    assert (body["width"], body["height"]) == (31, 17)


def test_type_comes_from_bytes_not_from_name_or_header(client):
    response = upload(client, png_bytes(), "totally-a-video.mp4", content_type="video/mp4")
    assert response.status_code == 201
    assert response.json["content_type"] == "image/png"


def test_stored_under_generated_key_not_client_name(client, app):
    body = upload(client, png_bytes(), "../../etc/passwd.png").json
    from pagesite.models import AttachmentAsset
    from pagesite.extensions import db

    with app.app_context():
        asset = db.session.get(AttachmentAsset, body["id"])
        assert "passwd" not in asset.storage_key
        assert get_storage(app).exists(asset.storage_key)
    assert body["filename"] == "passwd.png"
    # No temporary file is left behind.
    assert os.listdir(get_storage(app).temp_dir) == []


def test_missing_file_is_422(client):
    response = client.post("/api/attachment", data={"alt_text": "x"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "file" in response.json["errors"]


def test_empty_file_is_422(client):
    response = upload(client, b"", "empty.png")
    assert response.status_code == 422
    assert response.json["errors"]["file"] == ["The file is empty."]


@pytest.mark.parametrize(
    "data, why",
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "svg"),
        (b"<html><script>alert(1)</script></html>", "html"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "pdf"),
        (b"just some text that is not an image", "text"),
    ],
)
def test_types_not_allowed_are_422(client, data, why):
    response = upload(client, data, f"evil.png")
    assert response.status_code == 422, why
    problem = response.json
    assert problem["status"] == 422
    assert problem["title"] and problem["detail"] and problem["type"]
    assert "Allowed types" in problem["errors"]["file"][0]


def test_bytes_that_lie_about_being_an_image_are_422(client):
    truncated = png_bytes(64, 64)[:60]  # a PNG signature with the image cut off
    response = upload(client, truncated, "broken.png")
    assert response.status_code == 422
    assert "could not be read" in response.json["errors"]["file"][0]


def test_image_over_limit_is_413_and_leaves_nothing(client, app):
    before = stored_keys(app)
    app.config["MAX_IMAGE_BYTES"] = 1000
    try:
        response = upload(client, png_bytes(300, 300, color=None) + b"\0" * 2000, "big.png")
    finally:
        app.config["MAX_IMAGE_BYTES"] = 10 * 1024 * 1024
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert "at most" in response.json["errors"]["file"][0]
    assert os.listdir(get_storage(app).temp_dir) == []
    assert stored_keys(app) == before


def test_video_limit_is_separate_from_image_limit(client, app):
    app.config["MAX_IMAGE_BYTES"] = 1000
    try:
        response = upload(client, mp4_bytes(5000), "clip.mp4")
    finally:
        app.config["MAX_IMAGE_BYTES"] = 10 * 1024 * 1024
    assert response.status_code == 201


def test_request_over_max_content_length_is_413_problem(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    try:
        response = upload(client, b"\0" * 5000, "huge.mp4")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 201 * 1024 * 1024
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_get_and_list_attachments(client):
    first = upload(client, png_bytes(), "a.png").json
    second = upload(client, jpeg_bytes(), "b.jpg").json
    assert client.get(f"/api/attachment/{first['id']}").json == first
    listing = client.get("/api/attachment?per_page=1").json
    assert listing["total"] == 2 and listing["per_page"] == 1
    assert [item["id"] for item in listing["items"]] == [second["id"]]  # newest first
    assert client.get("/api/attachment/999999").status_code == 404
    assert client.get("/api/attachment/999999").mimetype == "application/problem+json"


def test_alt_text_can_be_changed(client):
    body = upload(client, png_bytes(), "a.png").json
    response = client.patch(f"/api/attachment/{body['id']}", json={"alt_text": "  A calm sea  "})
    assert response.status_code == 200
    assert response.json["alt_text"] == "A calm sea"
    assert client.get(f"/api/attachment/{body['id']}").json["alt_text"] == "A calm sea"


def test_missing_bytes_are_a_404_problem_not_a_500(client, app):
    body = upload(client, png_bytes(), "a.png").json
    from pagesite.extensions import db
    from pagesite.models import AttachmentAsset

    with app.app_context():
        key = db.session.get(AttachmentAsset, body["id"]).storage_key
        get_storage(app).delete(key)
    response = client.get(body["url"])
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "missing" in response.json["detail"]
