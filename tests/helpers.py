"""Small builders for test data (real image and video bytes) and shared test helpers."""

import io
import json
import os
import struct
import subprocess
import sys
import urllib.error
import urllib.request

from PIL import Image


def png_bytes(width=8, height=6, color=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(width=8, height=6, exif=None):
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), (20, 120, 200))
    image.save(buffer, "JPEG", **({"exif": exif} if exif else {}))
    return buffer.getvalue()


def gif_bytes():
    buffer = io.BytesIO()
    Image.new("P", (4, 4)).save(buffer, "GIF")
    return buffer.getvalue()


def webp_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "WEBP")
    return buffer.getvalue()


def mp4_bytes(payload_size=1024):
    """A minimal MP4: an ``ftyp`` box with an isom brand, then a media-data box."""
    ftyp = b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41"
    box = struct.pack(">I", 8 + len(ftyp)) + b"ftyp" + ftyp
    mdat = struct.pack(">I", 8 + payload_size) + b"mdat" + b"\0" * payload_size
    return box + mdat


def fetch_served(client, url):
    """(status, bytes, headers) of an attachment URL, following a redirect to object storage."""
    response = client.get(url)
    if response.status_code != 302:
        if response.status_code == 200:  # streamed by us: never run as a page
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        return response.status_code, response.data, response.headers
    assert response.headers["Cache-Control"] == "private, no-store"
    with urllib.request.urlopen(response.headers["Location"], timeout=10) as answer:
        return answer.status, answer.read(), answer.headers


def stored_keys(app):
    """Every key storage holds (objects in the bucket, or files under the upload directory)."""
    from pagesite.storage import get_storage

    storage = get_storage(app)
    if hasattr(storage, "bucket"):
        listing = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=storage.prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))
    return sorted(
        os.path.relpath(os.path.join(folder, name), storage.root)
        for folder, _dirs, names in os.walk(storage.root) if not folder.startswith(storage.temp_dir)
        for name in names
    )


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def flask_db(url, *args):
    """``flask db ARGS`` (Flask-Migrate) against the database at ``url``, in a process of its own."""
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", *args], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)


def http(method, url, body=None, token=None, timeout=10):
    """(status, JSON answer) of a request to a real server, as a script would make it."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def multipart(url, filename, data, fields, token, timeout=10):
    """(status, JSON answer) of a multipart upload of ``data`` as ``filename`` to a real server."""
    boundary = "pagesite-test-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(url, data=b"".join(parts), method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read())


def sign_in(client, app, user):
    """``client`` signed in as ``user`` without the form: a server-side session, as signing in makes one."""
    from pagesite.services import auth

    with app.app_context():
        key = auth.start_session(user)
    with client.session_transaction() as session:
        session["sid"], session["user_id"] = key, user.id
    return client
