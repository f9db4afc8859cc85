"""A web server with feeds on it, for the feed tests: RSS 2.0, Atom and JSON Feed documents built
from a list of items the test changes, ETag and Last-Modified with 304s, and a failure mode."""

import hashlib
import json
from email.utils import format_datetime
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from networks.shaped import ShapedServer


class FeedServer(ShapedServer):
    def __init__(self):
        super().__init__()
        self.items = []  # {"id", "title", "link", "summary", "published" (aware datetime), "author"?}
        self.failing = None  # an HTTP status every feed answers with
        self.html_page = "<!doctype html><html><head><title>Our blog</title></head><body>Hello</body></html>"

    def add(self, number, published, **fields):
        item = {"id": f"urn:pagesite-test:{number}", "title": f"Post {number}",
                "link": f"https://blog.example/{number}", "summary": f"<p>All about <b>post {number}</b>.</p>",
                "published": published, **fields}
        self.items.append(item)
        return item

    def serve(self, request):
        if self.failing:
            return Response("broken", status=self.failing)
        if request.path == "/blog":
            return Response(self.html_page, content_type="text/html")
        builders = {"/rss.xml": (self.rss, "application/rss+xml"), "/atom.xml": (self.atom, "application/atom+xml"),
                    "/feed.json": (self.json_feed, "application/feed+json")}
        if request.path not in builders:
            return Response("not here", status=404)
        build, kind = builders[request.path]
        body = build().encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type=kind, headers={"ETag": etag})

    def rss(self):
        entries = "".join(
            f"<item><guid isPermaLink=\"false\">{escape(i['id'])}</guid><title>{escape(i['title'])}</title>"
            f"<link>{escape(i['link'])}</link><description>{escape(i['summary'])}</description>"
            f"<pubDate>{format_datetime(i['published'])}</pubDate>"
            + (f"<author>{escape(i['author'])}</author>" if i.get("author") else "") + "</item>"
            for i in self.items)
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Our blog</title>'
                f"<link>https://blog.example/</link><description>Posts</description>{entries}</channel></rss>")

    def atom(self):
        entries = "".join(
            f"<entry><id>{escape(i['id'])}</id><title>{escape(i['title'])}</title>"
            f'<link href="{escape(i["link"])}"/><summary type="html">{escape(i["summary"])}</summary>'
            f"<updated>{i['published'].isoformat()}</updated></entry>" for i in self.items)
        return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                "<title>Our blog</title><id>urn:pagesite-test:feed</id><updated>2026-12-01T00:00:00Z</updated>"
                f"{entries}</feed>")

    def json_feed(self):
        return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Our blog", "items": [
            {"id": i["id"], "title": i["title"], "url": i["link"], "content_html": i["summary"],
             "date_published": i["published"].isoformat()} for i in self.items]})
