"""Link cards: the title, description and picture of the page a post links to.

Bluesky's clients show a card only when the post carries one
(``app.bsky.embed.external``), so pagesite builds it at publish time, as
Bluesky's own app does when composing; the webhook payload carries what was
found. Mastodon reads links itself and needs nothing from here.

What a page says of itself is read from its Open Graph tags (``og:title``,
``og:description``, ``og:image``), else its Twitter card tags, else its
``<title>`` and ``<meta name="description">``, with the standard library's
HTML parser (it is the one browsers' rules were written down for in Python,
takes broken markup as it comes, and decodes entities): no regular expressions.

The linked address was typed by a person, so the page and its picture are
fetched through ``outbound``: private addresses refused unless allowed, every
redirect a new checked connection, each answer capped in size and time. A
page that cannot be read is no card and a reason (``NoCard``), never a failed
publish: the post goes out without a card and the log says why.
"""

import io
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
from PIL import Image

from .. import outbound
from ..config import MB
from ..version import VERSION
from .textcount import find_urls

MAX_PAGE_BYTES = 2 * MB  # the <head> is what matters; a page bigger than this is not worth the wait
MAX_PICTURE_BYTES = 5 * MB
MAX_PICTURE_PIXELS = 40_000_000  # a small file that would unpack to more is a decompression bomb
MAX_TITLE = 300
MAX_DESCRIPTION = 1000
PAGE_TYPES = ("text/html", "application/xhtml+xml")
PICTURE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
USER_AGENT = f"pagesite/{VERSION} (link cards)"


class NoCard(Exception):
    """The page gave no card; the message says why, for the publish log ("example.com did not answer in 5 s")."""


@dataclass(frozen=True)
class Card:
    url: str  # the link as written in the post
    title: str
    description: str
    picture_url: str | None = None  # absolute, as the page named it
    picture: bytes | None = None  # its bytes, checked to be an image of one of PICTURE_FORMATS
    picture_type: str | None = None
    picture_problem: str | None = None  # why a named picture is not in the card, for the log

    def to_dict(self):
        """What a webhook receiver is told: the picture's address (none when it was read and is no image)."""
        return {"url": self.url, "title": self.title, "description": self.description,
                "image_url": None if self.picture_problem else self.picture_url}


class _Head(HTMLParser):
    """Collects the <title> and the <meta> tags a card is made of."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.meta = {}  # first value of each property or name, lowercased key
        self.title = None
        self._in_title = False
        self._title_parts = []

    def handle_starttag(self, tag, attrs):
        attrs = {name.lower(): value for name, value in attrs if value is not None}
        if tag == "meta":
            key = (attrs.get("property") or attrs.get("name") or "").strip().lower()
            content = attrs.get("content")
            if key and content is not None and key not in self.meta:
                self.meta[key] = content
        elif tag == "title" and self.title is None:
            self._in_title = True

    def handle_data(self, data):
        if self._in_title:
            self._title_parts.append(data)

    def handle_endtag(self, tag):
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = "".join(self._title_parts)


def _tidy(text, limit):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def parse(html, url):
    """(title, description, absolute picture URL or None) of an HTML document fetched from ``url``."""
    head = _Head()
    head.feed(html)
    head.close()
    meta = head.meta

    def first(*keys):
        return next((meta[k] for k in keys if (meta.get(k) or "").strip()), "")

    title = first("og:title", "twitter:title") or head.title or ""
    description = first("og:description", "twitter:description", "description")
    picture = first("og:image:secure_url", "og:image", "og:image:url", "twitter:image", "twitter:image:src").strip()
    picture_url = urljoin(url, picture) if picture else None
    if picture_url and urlsplit(picture_url).scheme not in ("http", "https"):
        picture_url = None  # a data: or javascript: address is nothing to fetch
    return _tidy(title, MAX_TITLE), _tidy(description, MAX_DESCRIPTION), picture_url


def _get(url, timeout, max_bytes, accept):
    """The answer to GET ``url`` (redirects followed, each one checked), or NoCard saying why not."""
    host = urlsplit(url).hostname or url
    try:
        with outbound.Client(timeout=timeout, total_seconds=timeout, max_bytes=max_bytes, follow_redirects=True,
                             max_redirects=5, headers={"User-Agent": USER_AGENT, "Accept": accept}) as client:
            response = client.get(url)
    except outbound.Refused as e:
        raise NoCard(str(e)) from None
    except outbound.Unusable as e:
        raise NoCard(f"{host} answered with {e.what}.") from None
    except httpx.TooManyRedirects:
        raise NoCard(f"{host} redirected more than 5 times.") from None
    except httpx.TimeoutException:
        raise NoCard(f"{host} did not answer within {timeout:g} s.") from None
    except (httpx.HTTPError, ValueError) as e:
        raise NoCard(f"Could not reach {host} ({type(e).__name__}).") from None
    if not response.is_success:
        raise NoCard(f"{host} answered {response.status_code} {response.reason_phrase}.".replace(" .", "."))
    return response


def _content_type(response):
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _picture(url, timeout):
    """(bytes, content type) of the picture at ``url``, or NoCard saying why it is left out."""
    response = _get(url, timeout, MAX_PICTURE_BYTES, "image/*")
    data = response.content
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
    except Exception:  # Pillow raises many kinds for what is not an image it can read
        raise NoCard(f"{url} is not an image.") from None
    if kind not in PICTURE_FORMATS:
        raise NoCard(f"{url} is a {kind} image; a card takes JPEG, PNG, WebP or GIF.")
    if width * height > MAX_PICTURE_PIXELS:
        raise NoCard(f"{url} is {width}×{height} pixels, too many to use.")
    return data, PICTURE_FORMATS[kind]


def first_link(text):
    """The first link of a post's text, or None: the one a card is made for."""
    links = find_urls(text)
    return text[links[0][0]:links[0][1]] if links else None


def read(url, timeout=5.0, with_picture=True):
    """The card of the page at ``url``, or NoCard. ``timeout`` is for the page, and again for its picture.
    A picture that cannot be had leaves the card without one, saying why in ``picture_problem``."""
    response = _get(url, timeout, MAX_PAGE_BYTES, "text/html, application/xhtml+xml;q=0.9, */*;q=0.1")
    kind = _content_type(response)
    if kind not in PAGE_TYPES:
        raise NoCard(f"{urlsplit(url).hostname} answered with {kind or 'something untyped'}, not a web page.")
    title, description, picture_url = parse(response.text, str(response.url))
    if not title and not description:
        raise NoCard(f"{urlsplit(url).hostname}'s page has no title or description to show.")
    picture = picture_type = problem = None
    if picture_url and with_picture:
        try:
            picture, picture_type = _picture(picture_url, timeout)
        except NoCard as e:
            problem = str(e)
    return Card(url=url, title=title or urlsplit(url).hostname, description=description, picture_url=picture_url,
                picture=picture, picture_type=picture_type, picture_problem=problem)
