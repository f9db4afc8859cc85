"""A web server with pages to make link cards of, for the link card tests: Open Graph, Twitter card
and plain <title> pages, pictures (one far over Bluesky's limits), and the ways a page fails:
too slow, too big, not a web page, a redirect to a private address, a picture that is no image."""

import io
import os
import threading

from PIL import Image
from werkzeug.wrappers import Response

from networks.shaped import ShapedServer

ARTICLE = """<!doctype html><html><head><meta charset="utf-8">
<title>Fallback title</title>
<meta property="og:title" content="Crème brûlée, the long way &amp; the short">
<meta property="og:description" content="  Three hours,
  one torch. ">
<meta property="og:image" content="{picture}">
<meta name="twitter:title" content="Not this one">
</head><body><p>Hello</p></body></html>"""


def _picture(width, height, fmt, noise=False):
    image = (Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)) if noise
             else Image.new("RGB", (width, height), (30, 120, 200)))
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return out.getvalue()


class CardServer(ShapedServer):
    def __init__(self):
        super().__init__()
        self.release = threading.Event()  # set when the test is done: the slow page answers then
        self.small = _picture(1200, 630, "PNG")
        self.large = _picture(2400, 1000, "JPEG", noise=True)  # over 1 MB and over 2,000 pixels wide

    def __exit__(self, *exc):
        self.release.set()
        super().__exit__(*exc)

    def served(self, path):
        with self.lock:
            return [r for r in self.requests if r[1] == path]

    def serve(self, request):
        html = "text/html; charset=utf-8"
        pages = {
            "/article": ARTICLE.format(picture="/picture.png"),
            "/large": ARTICLE.format(picture=f"{self.url}/large.jpg"),
            "/broken-picture": ARTICLE.format(picture="/not-a-picture"),
            "/twitter": ('<html><head><meta name="twitter:title" content="Tweet-sized">'
                         '<meta name="twitter:description" content="Said briefly">'
                         '<meta name="twitter:image" content="picture.png"></head></html>'),
            "/plain": ("<html><head><title>Just a title</title>"
                       '<meta name="description" content="And a description"></head><body></body></html>'),
            "/bare": "<html><body>Nothing to show</body></html>",
        }
        if request.path in pages:
            return Response(pages[request.path], content_type=html)
        if request.path == "/picture.png":
            return Response(self.small, content_type="image/png")
        if request.path == "/large.jpg":
            return Response(self.large, content_type="image/jpeg")
        if request.path == "/not-a-picture":
            return Response("no picture here", content_type="image/png")
        if request.path == "/slow":
            self.release.wait(15)
            return Response(pages["/plain"], content_type=html)
        if request.path == "/huge":
            return Response("<html><head><title>Big</title></head><body>" + "x" * (3 * 1024 * 1024),
                            content_type=html)
        if request.path == "/report.pdf":
            return Response(b"%PDF-1.7", content_type="application/pdf")
        if request.path == "/to-private":
            return Response(status=302, headers={"Location": "http://10.1.2.3/article"})
        return Response("not here", status=404)
