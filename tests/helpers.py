"""Small builders for test data: real image and video bytes."""

import io
import struct

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
