"""The link card Compose shows: the card the first link will get when the post goes out
(providers/link_cards.py reads it then, again, so what is sent is what the page says at that time).

The preview is asked for as the person types, so each address is read once and kept in Redis for
a few minutes (a page that gave no card for one minute), under this installation's id: another
installation on the same Redis may be allowed other private addresses, and must not see these.
"""

import base64
import hashlib
import io
import json
import logging
from urllib.parse import urlsplit

from PIL import Image, ImageOps
from redis.exceptions import RedisError

from .. import installation
from ..extensions import get_redis
from ..providers import link_cards

log = logging.getLogger("pagesite.card_previews")

KEEP_SECONDS = 600
KEEP_NOTHING_SECONDS = 60
TIMEOUT = 3.0  # seconds per read: a preview that waits longer is worse than none
PICTURE_SIDE = 600  # the preview's picture, small enough to keep and to send inline


def _key(url):
    return f"pagesite:{installation.current_id()}:card-preview:{hashlib.sha256(url.encode()).hexdigest()}"


def _inline(data):
    """A small JPEG of the picture as a data: address (the page's rules allow no other site's images)."""
    with Image.open(io.BytesIO(data)) as source:
        image = ImageOps.exif_transpose(source).convert("RGB")
    image.thumbnail((PICTURE_SIDE, PICTURE_SIDE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return f"data:image/jpeg;base64,{base64.b64encode(out.getvalue()).decode()}", image.width, image.height


def _read(url):
    try:
        card = link_cards.read(url, timeout=TIMEOUT)
    except link_cards.NoCard as e:
        return {"url": url, "problem": str(e)}
    preview = {"url": url, "host": urlsplit(url).hostname, "title": card.title, "description": card.description}
    if card.picture:
        preview["picture"], preview["width"], preview["height"] = _inline(card.picture)
    return preview


def preview(text):
    """The card of ``text``'s first link as {url, host, title, description, picture?, width?, height?},
    or {url, problem} when its page gives none; None when the text has no link."""
    url = link_cards.first_link(text or "")
    if url is None:
        return None
    redis = get_redis()
    key = _key(url)
    try:
        kept = redis.get(key)
    except RedisError:  # Redis away: read the page, keep nothing
        log.warning("card preview: Redis unavailable", exc_info=True)
        kept = None
    if kept:
        return json.loads(kept)
    found = _read(url)
    try:
        redis.set(key, json.dumps(found), ex=KEEP_NOTHING_SECONDS if "problem" in found else KEEP_SECONDS)
    except RedisError:
        log.warning("card preview: could not keep it in Redis", exc_info=True)
    return found
