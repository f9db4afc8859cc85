"""Receiving, checking and describing attachments."""

import re
import unicodedata
from itertools import chain
from urllib.parse import quote

import filetype
from flask import current_app, redirect, request
from werkzeug.wsgi import wrap_file
from PIL import Image
from sqlalchemy import func, select

from .. import metrics
from ..errors import NotFound, TooLarge, Unavailable, ValidationFailed
from ..extensions import db
from ..models import AttachmentAsset
from ..storage import CHUNK_SIZE, IncomingFile, LimitExceeded, NotStored, StorageError, get_storage
from . import video_location
from .common import get_or_404, is_unicode_text, paginate

SNIFF_BYTES = 8192
MAX_ALT_TEXT = 1500

EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
}
PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


def sanitise_filename(name):
    """A display name safe to show and to put in a header: no path, no controls."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip().lstrip(".")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:200]
    return name or "upload"


def sniff(head):
    """The content type the bytes say they are, or None."""
    kind = filetype.guess(head)
    return kind.mime if kind else None


def size_limit(content_type):
    config = current_app.config
    return config["MAX_VIDEO_BYTES"] if content_type.startswith("video/") else config["MAX_IMAGE_BYTES"]


def _human(n):
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def check_alt_text(alt_text):
    if alt_text is not None and not isinstance(alt_text, str):
        raise ValidationFailed.single("alt_text", "Must be a string.")
    if alt_text and not is_unicode_text(alt_text):
        raise ValidationFailed.single("alt_text", "Must be valid Unicode text (it has an unpaired surrogate).")
    alt_text = (alt_text or "").replace("\x00", "").strip()
    if len(alt_text) > MAX_ALT_TEXT:
        raise ValidationFailed.single("alt_text", f"Must be at most {MAX_ALT_TEXT} characters.")
    return alt_text


def _image_size(spool, content_type):
    """(width, height) of a decodable image, or a 422 for bytes that lie."""
    max_pixels = current_app.config["MAX_IMAGE_PIXELS"]
    label = content_type.split("/")[1].upper()
    spool.seek(0)
    try:
        with Image.open(spool, formats=[PILLOW_FORMATS[content_type]]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ValidationFailed.single(
                    "file", f"The image is {width}×{height} pixels; at most {max_pixels:,} pixels are allowed."
                )
            image.verify()  # walks the data: catches truncated and corrupt files
    except ValidationFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationFailed.single(
            "file", f"The image has too many pixels to decode safely; at most {max_pixels:,} pixels are allowed."
        ) from None
    except Exception:
        raise ValidationFailed.single(
            "file", f"The file starts like a {label} image but could not be read; it may be damaged."
        ) from None
    return width, height


GPS_IFD = 0x8825


def _strip_location(spool, content_type, storage):
    """Remove a photo's location (EXIF GPS, and XMP that carries GPS), keeping the
    rest of its EXIF (orientation) and its colour profile.

    Returns a new scratch file with the rewritten image, or None when there was
    nothing to remove. JPEGs keep their original quantisation tables, so the
    picture is not visibly recompressed.
    """
    spool.seek(0)
    with Image.open(spool, formats=[PILLOW_FORMATS[content_type]]) as image:
        exif = image.getexif()
        xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
        xmp_has_location = b"GPS" in (xmp.encode() if isinstance(xmp, str) else xmp)
        if GPS_IFD not in exif and not xmp_has_location:
            return None
        exif.pop(GPS_IFD, None)  # XMP is not passed on to the new file at all
        options = {"exif": exif.tobytes()}
        if image.info.get("icc_profile"):
            options["icc_profile"] = image.info["icc_profile"]
        if content_type == "image/jpeg":
            options.update(quality="keep", subsampling="keep")
        elif content_type == "image/webp":
            options.update(quality=95, lossless=bool(image.info.get("lossless")))
        rewritten = storage.incoming()
        try:
            image.save(rewritten, PILLOW_FORMATS[content_type], **options)
        except BaseException:
            rewritten.close()
            raise
    return rewritten


def _strip_video_location(spool):
    """Remove a video's location (``©xyz``, ``loci``, Apple's location keys, XMP with GPS) in
    place, each box turned into a ``free`` box of the same size (video_location.py says why),
    so nothing is re-encoded and every offset stays true. The scratch file re-hashes itself
    once rewritten. A 422 when the boxes cannot be read (whether it has a location is unknown)."""
    try:
        removed = video_location.strip(spool, spool.size)
    except video_location.Damaged:
        raise ValidationFailed.single(
            "file", "The file starts like a video but its boxes could not be read; it may be damaged.") from None
    if removed:
        current_app.logger.info("removed %d location box(es) from an uploaded video", removed)


def _spool(stream, head, storage, limit):
    """The upload as a scratch file: the request parser's own, or a copy of ``stream``.

    Raises LimitExceeded (and keeps nothing) past ``limit``."""
    if isinstance(stream, IncomingFile):
        if stream.size > limit:
            stream.close()
            raise LimitExceeded(stream.size)
        return stream
    spool = storage.incoming()
    try:
        size = 0
        for chunk in chain([head], iter(lambda: stream.read(CHUNK_SIZE), b"")):
            size += len(chunk)
            if size > limit:
                raise LimitExceeded(size)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return spool


def upload(stream, filename, alt_text=""):
    """Store an uploaded file and return its AttachmentAsset (see ``_upload``)."""
    try:
        asset = _upload(stream, filename, alt_text)
    except TooLarge:
        metrics.upload_finished("too_large")
        raise
    except ValidationFailed:
        metrics.upload_finished("refused")
        raise
    except BaseException:
        metrics.upload_finished("failed")
        raise
    metrics.upload_finished("stored")
    return asset


def _upload(stream, filename, alt_text):
    """Store an uploaded file and return its AttachmentAsset.

    ``stream`` is read in chunks and never held in memory whole. The type is
    decided by the bytes, never by the name or the client's content type.
    The bytes are checked on local scratch disk first (type, pixels, location
    removed), then saved to storage; the row is committed only once storage
    holds them durably, and a failure at any step leaves neither.
    """
    alt_text = check_alt_text(alt_text)
    allowed = current_app.config["ALLOWED_TYPES"]
    head = stream.read(SNIFF_BYTES) if stream else b""
    if not head:
        raise ValidationFailed.single("file", "The file is empty." if stream else "Choose a file to upload.")
    content_type = sniff(head)
    if content_type not in allowed:
        what = f"a {content_type} file" if content_type else "not a recognised file type"
        names = ", ".join(EXTENSIONS.get(t, t).lstrip(".").upper() for t in allowed)
        raise ValidationFailed.single("file", f"This file is {what}. Allowed types: {names}.")

    limit = size_limit(content_type)
    storage = get_storage(current_app)
    try:
        # A request parsed by edge.UploadRequest has already streamed the file onto
        # scratch disk (and hashed it); anything else is copied there here.
        spool = _spool(stream, head, storage, limit)
    except LimitExceeded:
        kind = "Videos" if content_type.startswith("video/") else "Images"
        raise TooLarge({"file": [f"{kind} may be at most {_human(limit)}."]}) from None
    try:
        width = height = None
        if content_type.startswith("image/"):
            width, height = _image_size(spool, content_type)
            if content_type != "image/gif":
                rewritten = _strip_location(spool, content_type, storage)
                if rewritten is not None:
                    spool.close()
                    spool = rewritten
        elif content_type.startswith("video/"):
            _strip_video_location(spool)
        spool.seek(0)
        try:
            stored = storage.save(spool, EXTENSIONS.get(content_type, ""))
        except StorageError:
            current_app.logger.exception("storing an upload failed")
            raise Unavailable("The file could not be stored just now; try the upload again shortly.") from None
    finally:
        spool.close()

    asset = AttachmentAsset(
        filename=sanitise_filename(filename),
        content_type=content_type,
        size_bytes=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        alt_text=alt_text,
        width=width,
        height=height,
    )
    db.session.add(asset)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        storage.delete(stored.key)
        raise
    return asset


def get_attachment(attachment_id):
    return get_or_404(AttachmentAsset, attachment_id, "attachment")


def list_attachments(page_number=None, per_page=None):
    statement = select(AttachmentAsset).order_by(AttachmentAsset.created_at.desc(), AttachmentAsset.id.desc())
    return paginate(statement, page_number, per_page, select(func.count(AttachmentAsset.id)))


def describe(attachment_id, alt_text, commit=True):
    """Set an attachment's description (alt text); with ``commit`` False, in the caller's transaction."""
    asset = get_attachment(attachment_id)
    asset.alt_text = check_alt_text(alt_text)
    if commit:
        db.session.commit()
    return asset


def send(asset):
    """The attachment's bytes as a response that no browser will run as a page.

    From an object store, a redirect to a presigned URL that expires in
    seconds (the bytes never pass through the web process); from a local
    directory, the bytes streamed, with ranges for video seeking."""
    storage = get_storage(current_app)
    missing = NotFound(f"The bytes of attachment {asset.id} are missing from storage.")
    try:
        url = storage.url(asset.storage_key, current_app.config["S3_URL_EXPIRES"],
                          filename=asset.filename, content_type=asset.content_type)
        if url is not None:
            if not storage.exists(asset.storage_key):
                raise missing
            response = redirect(url, 302)
            # Never cache the redirect longer than the URL lives.
            response.headers["Cache-Control"] = "private, no-store"
            return response
        stream = storage.open(asset.storage_key)
    except NotStored:
        raise missing from None
    except StorageError:
        current_app.logger.exception("reading attachment %s failed", asset.id)
        raise Unavailable("The file store is not answering; try again shortly.") from None
    response = current_app.response_class(
        wrap_file(request.environ, stream), mimetype=asset.content_type, direct_passthrough=True
    )
    response.headers.set("Content-Disposition", "inline", **_filename_parameters(asset.filename))
    response.set_etag(asset.sha256)
    # Behind sign-in or a token: the caller's own browser may keep the bytes but asks each time
    # (the ETag makes that a 304 that sends nothing again), so a signed-out browser or a revoked
    # token is never answered from its cache; no shared cache may keep them (private). A signed
    # link (web.attachment_link) sets its own, bounded by the link's expiry.
    response.cache_control.private = True
    response.cache_control.no_cache = True
    response = response.make_conditional(request, accept_ranges=True, complete_length=asset.size_bytes)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _filename_parameters(name):
    try:
        name.encode("ascii")
        return {"filename": name}
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        return {"filename": simple, "filename*": f"UTF-8''{quote(name, safe='!#$&+-.^_`|~')}"}
