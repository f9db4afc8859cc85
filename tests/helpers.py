"""Small builders for test data: real image and video bytes."""

import io
import os
import struct
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
