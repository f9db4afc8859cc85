"""Feeds that post themselves: RSS, Atom and JSON Feed, read with feedparser.

A feed names its channels, what to do with a new item (``draft``: a page only;
``queue``: the page added to each channel's posting queue; ``now``: published
at once) and a template (``{title}``, ``{link}``, ``{summary}``, ``{author}``).

**Each item at most once.** An item is known by its id (else its link): the
``feed_items`` row for it is written in the same transaction as its page and
schedules, under a unique constraint, so a feed that reorders, re-dates or
republishes its items, two reads at once, or a read retried after a crash
never makes a second page. When a feed is added, the items it already has are
recorded as seen (the newest one posted too, if the person asks).

Every read goes through ``outbound`` (the address was typed by a person), with
conditional requests (``If-None-Match``, ``If-Modified-Since``). A feed that
fails is read again later and later (the interval doubled per failure, at most
32 times), and shows its last error; three failures in a row mark it failing.
"""

import calendar
import hashlib
import html
import logging
import string
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import urlsplit

import feedparser
import httpx
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import outbound
from ..config import MB
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..models import FEED_MODES, Feed, FeedItem
from ..timeutil import utcnow
from ..version import VERSION
from . import channels, pages, schedules
from .common import collect_errors, get_or_404

log = logging.getLogger("pagesite.feeds")

DEFAULT_TEMPLATE = "{title}\n\n{link}"
PLACEHOLDERS = ("title", "link", "summary", "author")
MAX_FEED_BYTES = 5 * MB
MAX_ITEMS_PER_READ = 50  # a feed that suddenly lists hundreds of new items posts the newest 50
FAILING_AFTER = 3  # failures in a row before a feed is shown as failing
MAX_BACKOFF = 32  # a failing feed is read again at most this many intervals later
ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
          "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5")


class FeedUnreadable(Exception):
    """The address did not give a feed; the message says what it gave, for the person who typed it."""


# -- checking what a person gives ---------------------------------------------------------------------

def _check_url(url):
    url = url.strip() if isinstance(url, str) else url
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise ValidationFailed.single("url", "Give the feed's address (http or https).")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.username \
            or parts.password:
        raise ValidationFailed.single("url", "Give the feed's address, starting with https:// (no user name or "
                                             "password in it).")
    return url


def _check_template(template):
    template = DEFAULT_TEMPLATE if template is None else template
    if not isinstance(template, str) or not template.strip() or len(template) > 2000:
        raise ValidationFailed.single("template", "Give a template of 1 to 2,000 characters, like "
                                                  "“{title} {link}”.")
    try:
        fields = [name for _, name, spec, conversion in string.Formatter().parse(template) if name is not None]
    except ValueError:
        raise ValidationFailed.single("template", "A { or } without its pair: write {{ or }} for a brace "
                                                  "itself.") from None
    unknown = [name for name in fields if name not in PLACEHOLDERS]
    if unknown:
        raise ValidationFailed.single("template", f"Unknown placeholder {{{unknown[0]}}}; use "
                                                  + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS) + ".")
    return template


def _check_mode(mode):
    mode = "queue" if mode is None else mode
    if mode not in FEED_MODES:
        raise ValidationFailed.single("mode", "Must be draft, queue or now.")
    return mode


def _check_channels(channel_ids):
    if not isinstance(channel_ids, list) or not channel_ids:
        raise ValidationFailed.single("channel_ids", "Choose at least one channel.")
    live = {c.id for c in channels.live_channels()}
    unknown = [c for c in channel_ids if not isinstance(c, int) or isinstance(c, bool) or c not in live]
    if unknown:
        raise ValidationFailed.single("channel_ids", f"No channel with id {unknown[0]!r}.")
    return list(dict.fromkeys(channel_ids))


# -- reading a feed -----------------------------------------------------------------------------------

def _timeout():
    return float(current_app.config.get("WEBHOOK_TIMEOUT") or 10)


def fetch(url, etag=None, last_modified=None):
    """(parsed feed or None when unchanged, etag, last_modified); FeedUnreadable saying why not."""
    headers = {"Accept": ACCEPT, "User-Agent": f"pagesite/{VERSION} (feed reader)"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    host = urlsplit(url).netloc
    try:
        # Redirects are followed (feeds move), each one a connection outbound checks again.
        with outbound.Client(timeout=_timeout(), total_seconds=2 * _timeout(), max_bytes=MAX_FEED_BYTES,
                             follow_redirects=True, max_redirects=5) as client:
            response = client.get(url, headers=headers)
    except outbound.Refused as e:
        raise FeedUnreadable(str(e)) from None
    except outbound.Unusable as e:
        raise FeedUnreadable(f"{host} answered with {e.what}.") from None
    except httpx.TooManyRedirects:
        raise FeedUnreadable(f"{host} redirected more than 5 times.") from None
    except httpx.TimeoutException:
        raise FeedUnreadable(f"{host} did not answer within {_timeout():g} s.") from None
    except httpx.HTTPError as e:
        raise FeedUnreadable(f"Could not reach {host} ({type(e).__name__}).") from None
    if response.status_code == 304:
        return None, etag, last_modified
    if not response.is_success:
        raise FeedUnreadable(f"{host} answered {response.status_code} {response.reason_phrase}.".replace(" .", "."))
    parsed = _json_feed(response) or feedparser.parse(response.content, response_headers={
        "content-location": str(response.url), "content-type": response.headers.get("Content-Type", "")})
    if not parsed.get("version") and not parsed.entries:
        raise FeedUnreadable(f"{url} is {outbound.described(response)}, not an RSS, Atom or JSON feed; give the "
                             "feed's own address (often linked as RSS on the site).")
    return parsed, response.headers.get("ETag"), response.headers.get("Last-Modified")


def _json_feed(response):
    """A JSON Feed (jsonfeed.org, 1.0 and 1.1) in feedparser's shape, which its 6.0 does not read; None
    when the answer is not one."""
    answer = outbound.json_or_none(response)
    if answer is None or not str(answer.get("version", "")).startswith("https://jsonfeed.org/version/"):
        return None
    entries = []
    for item in answer.get("items") if isinstance(answer.get("items"), list) else []:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") if isinstance(item.get("authors"), list) else [item.get("author")]
        author = next((a.get("name") for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)), "")
        when = _rfc3339(item.get("date_published") or item.get("date_modified"))
        entries.append(feedparser.FeedParserDict(
            id=str(item.get("id") or ""), link=item.get("url") if isinstance(item.get("url"), str) else "",
            title=item.get("title") if isinstance(item.get("title"), str) else "",
            summary=next((item[k] for k in ("summary", "content_html", "content_text") if isinstance(item.get(k), str)),
                         ""),
            author=author, published_parsed=when))
    title = answer.get("title") if isinstance(answer.get("title"), str) else ""
    return feedparser.FeedParserDict(version="json" + str(answer["version"]).rsplit("/", 1)[-1].replace(".", ""),
                                     feed=feedparser.FeedParserDict(title=title), entries=entries, bozo=0)


def _rfc3339(value):
    """A JSON Feed date (RFC 3339) as the struct_time feedparser gives, or None."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).utctimetuple()


def item_key(entry):
    """What identifies an item whatever its place or date: its id, else its link, else its title and text."""
    identity = entry.get("id") or entry.get("link") or f"{entry.get('title', '')}\n{entry.get('summary', '')}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def _published(entry):
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    return calendar.timegm(moment) if moment else 0


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def plain(markup):
    """The text of an item's HTML summary, whitespace collapsed."""
    parser = _Text()
    parser.feed(markup or "")
    parser.close()
    return " ".join(html.unescape("".join(parser.parts)).split())


def render(template, entry, targets):
    """The page text for ``entry``: the summary shortened (at a word, with "…") until it fits every
    channel in ``targets`` as each counts it; the summary left out when nothing of it fits."""
    values = {"title": " ".join((entry.get("title") or "").split()), "link": entry.get("link") or "",
              "author": entry.get("author") or "", "summary": plain(entry.get("summary"))}

    def text(summary):
        return template.format_map({**values, "summary": summary}).strip()

    def fits(candidate):
        return all(not channels.limit_problems(c, channels.page_data(candidate, [])) for c in targets)

    full = text(values["summary"])
    if "{summary}" not in template or fits(full):
        return full
    words = values["summary"].split()
    low, high = 0, len(words) - 1  # the most words that fit, with the ellipsis
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text(" ".join(words[:middle]) + "…")):
            low = middle
        else:
            high = middle - 1
    return text(" ".join(words[:low]) + "…") if low else text("")


# -- the feeds ----------------------------------------------------------------------------------------

def list_feeds():
    return db.session.scalars(select(Feed).order_by(Feed.id)).all()


def get_feed(feed_id):
    return get_or_404(Feed, feed_id, "feed")


def add_feed(url, channel_ids, mode=None, template=None, post_newest=False):
    """Read the feed once (a 422 on ``url`` when it is not one), then keep it: its current items are
    seen, the newest one made a page too when ``post_newest``."""
    url, channel_ids, mode, template = collect_errors(
        lambda: _check_url(url), lambda: _check_channels(channel_ids), lambda: _check_mode(mode),
        lambda: _check_template(template))
    if not isinstance(post_newest, bool):
        raise ValidationFailed.single("post_newest", "Must be true or false.")
    try:
        parsed, etag, last_modified = fetch(url)
    except FeedUnreadable as e:
        raise ValidationFailed.single("url", str(e)) from None
    now = utcnow()
    feed = Feed(url=url, channel_ids=channel_ids, mode=mode, template=template, etag=etag,
                last_modified=last_modified, title=_title(parsed), checked_at=now,
                next_check_at=now + timedelta(seconds=_interval()))
    db.session.add(feed)
    entries = sorted(parsed.entries, key=_published, reverse=True)
    newest = entries[0] if entries and post_newest else None
    db.session.flush()
    for entry in entries:
        if entry is not newest:
            db.session.add(FeedItem(feed_id=feed.id, item_key=item_key(entry)))
    db.session.commit()
    feed_id = feed.id
    if newest is not None:
        _make_page(db.session.get(Feed, feed_id), newest)
    return get_feed(feed_id)


def update_feed(feed_id, url=None, channel_ids=None, mode=None, template=None):
    feed = get_feed(feed_id)
    changes = collect_errors(
        lambda: None if url is None else _check_url(url),
        lambda: None if channel_ids is None else _check_channels(channel_ids),
        lambda: None if mode is None else _check_mode(mode),
        lambda: None if template is None else _check_template(template))
    for name, value in zip(("url", "channel_ids", "mode", "template"), changes):
        if value is not None:
            setattr(feed, name, value)
    if url is not None:  # another address: read it from scratch, and soon
        feed.etag = feed.last_modified = None
        feed.next_check_at, feed.failures, feed.last_error = utcnow(), 0, None
    db.session.commit()
    return feed


def delete_feed(feed_id):
    """Stop reading a feed; the pages it made stay."""
    db.session.delete(get_feed(feed_id))
    db.session.commit()


def is_failing(feed):
    return feed.failures >= FAILING_AFTER


def _title(parsed):
    title = (parsed.feed.get("title") or "").strip() if parsed is not None else ""
    return title[:300] or None


def _interval():
    return int(current_app.config["FEED_INTERVAL"])


def check_feed(feed_id):
    """Read a feed now and make a page of each new item: {"new": pages made, "unchanged": 304}."""
    feed = get_feed(feed_id)
    now = utcnow()
    try:
        parsed, etag, last_modified = fetch(feed.url, feed.etag, feed.last_modified)
    except FeedUnreadable as e:
        feed.failures += 1
        feed.last_error, feed.checked_at = str(e), now
        feed.next_check_at = now + timedelta(seconds=_interval() * min(MAX_BACKOFF, 2 ** (feed.failures - 1)))
        db.session.commit()
        log.info("feed %s unreadable (%s failures): %s", feed.id, feed.failures, e)
        return {"new": 0, "unchanged": False, "error": str(e)}
    feed.failures, feed.last_error, feed.checked_at = 0, None, now
    feed.next_check_at = now + timedelta(seconds=_interval())
    feed.etag, feed.last_modified = etag or feed.etag, last_modified or feed.last_modified
    if parsed is None:
        db.session.commit()
        return {"new": 0, "unchanged": True, "error": None}
    feed.title = _title(parsed) or feed.title
    db.session.commit()
    known = set(db.session.scalars(select(FeedItem.item_key).where(FeedItem.feed_id == feed_id)))
    fresh = [e for e in sorted(parsed.entries, key=_published, reverse=True) if item_key(e) not in known]
    made = 0
    # Oldest first, so the posting queue keeps the feed's order; at most the newest few.
    for entry in reversed(fresh[:MAX_ITEMS_PER_READ]):
        made += _make_page(db.session.get(Feed, feed_id), entry)
    return {"new": made, "unchanged": False, "error": None}


def _make_page(feed, entry):
    """A page (and schedules, unless the feed makes drafts) for one item, with its feed_items row in
    the same transaction: 1, or 0 when another read made it first."""
    feed_id, mode, channel_ids = feed.id, feed.mode, list(feed.channel_ids)
    live = {c.id: c for c in channels.live_channels()}
    targets = [live[c] for c in channel_ids if c in live]
    text = render(feed.template, entry, targets) or (entry.get("link") or "(untitled)")
    key = item_key(entry)
    try:
        db.session.add(FeedItem(feed_id=feed_id, item_key=key))
        db.session.flush()  # the unique constraint decides who makes this item's page
    except IntegrityError:
        db.session.rollback()
        return 0
    try:
        if mode == "draft" or not targets:
            page = pages.create_page(text, commit=False)
            db.session.commit()
        else:
            page, _ = schedules.compose(text, channel_ids=[c.id for c in targets], queue=mode == "queue")
    except IntegrityError:
        db.session.rollback()
        return 0
    except ValidationFailed as e:  # a channel refuses it (limits, no posting times): keep it as a draft
        db.session.rollback()
        item = FeedItem(feed_id=feed_id, item_key=key)
        db.session.add(item)
        page = pages.create_page(text, commit=False)
        item.page_id = page.id
        reasons = " ".join(m for messages in e.errors.values() for m in messages)
        db.session.get(Feed, feed_id).last_error = f"“{text[:60]}” was kept as a draft: {reasons}"
        try:
            db.session.commit()
        except IntegrityError:  # another read made it meanwhile
            db.session.rollback()
            return 0
        return 1
    # The item's row went in with its page and schedules; the link to the page follows.
    db.session.execute(FeedItem.__table__.update().where(FeedItem.feed_id == feed_id, FeedItem.item_key == key)
                       .values(page_id=page.id))
    db.session.commit()
    log.info("feed %s: item made page %s (%s)", feed_id, page.id, mode)
    return 1


def poll_due():
    """Job: read every feed whose time has come; {"checked", "new"}."""
    due = db.session.scalars(select(Feed.id).where(Feed.next_check_at <= utcnow()).order_by(Feed.next_check_at))
    checked = new = 0
    for feed_id in list(due):
        try:
            new += check_feed(feed_id).get("new", 0)
        except NotFound:  # deleted meanwhile
            continue
        checked += 1
    return {"checked": checked, "new": new}
