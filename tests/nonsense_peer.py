"""One small HTTP server on this machine that answers like Bluesky, Mastodon and a
webhook receiver at once ("good": enough of each to connect a channel and post),
or, once ``mode`` is set, with one kind of nonsense to every request:

* ``web_page``: a 200 HTML page where JSON was expected;
* ``empty``: a 200 with no body;
* ``truncated``: the good JSON cut off halfway;
* ``wrong_types``: the good JSON with every text replaced by the number 5 (``{"id": 5}``);
* ``list``: a list holding the good JSON, instead of the object;
* ``error_in_200``: an error object under a 200 status;
* ``html_403``: a firewall's 403 web page;
* ``noisy_500``: a 500 whose body is 5,000 characters of text with terminal escapes and newlines;
* ``compressed``: the good JSON gzip-compressed although pagesite asked for none;
* ``endless``: a 200 whose body never ends;
* ``drip``: a 200 whose body comes a byte every quarter second;
* ``drip_headers``: the status line and headers themselves a byte every quarter second;
* ``redirect``: a 302 to ``redirect_to``.

A real server on a socket (``http.server``, raw bytes where needed), so
everything the providers do goes through their real HTTP path.
"""

import base64
import gzip
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("web_page", "empty", "truncated", "wrong_types", "list", "error_in_200", "html_403", "noisy_500",
         "compressed", "endless", "drip", "drip_headers", "redirect")
DRIP_SECONDS = 0.25  # between two bytes: far shorter than any read timeout, so only a total time stops it
LONGEST_ANSWER = 30  # seconds an endless answer goes on when nobody hangs up
WEB_PAGE = b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>It works.</body></html>"
FORBIDDEN = b"<html><head><title>403 Forbidden</title></head><body><h1>Access denied</h1></body></html>"
NOISY = ("\x1b[31mTraceback (most recent call last):\n  File \"app.py\", line 1\r\n" * 100)[:5000]


def unsigned_jwt(claims):
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'typ': 'at+jwt', 'alg': 'HS256'})}.{part(claims)}.{part('no-signature')}"


def _retyped(value):
    """``value`` with every text in it replaced by the number 5."""
    if isinstance(value, str):
        return 5
    if isinstance(value, dict):
        return {k: _retyped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_retyped(v) for v in value]
    return value


class NonsensePeer:
    def __init__(self, host="127.0.0.1", port=0):
        self.mode = "good"
        self.redirect_to = None
        self.requests = []  # (method, path, Host header) of every request that arrived
        self.active = 0  # answers being sent right now
        self.closed = False
        self.lock = threading.Lock()
        server_class = _Server6 if ":" in host else _Server
        self.server = server_class((host, port), _Handler)
        self.server.peer = self
        port = self.server.server_address[1]
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self.port = port
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self, wait=10):
        """Stop serving; wait (a little) until every answer still going has seen its client hang up."""
        self.closed = True
        deadline = time.monotonic() + wait
        while self.active and time.monotonic() < deadline:
            time.sleep(0.05)
        self.server.shutdown()
        self.server.server_close()

    # -- what a good peer answers ----------------------------------------------------------------

    def good(self, method, path):
        """(status, JSON) a real peer would answer."""
        if path == "/xrpc/com.atproto.server.createSession" or path == "/xrpc/com.atproto.server.refreshSession":
            return 200, {"accessJwt": unsigned_jwt({"scope": "com.atproto.appPass", "exp": time.time() + 3600}),
                         "refreshJwt": unsigned_jwt({"scope": "com.atproto.refresh", "exp": time.time() + 86400}),
                         "did": "did:plc:nonsense", "handle": "alice.test"}
        if path == "/xrpc/com.atproto.server.getSession":
            return 200, {"did": "did:plc:nonsense", "handle": "alice.test"}
        if path == "/xrpc/com.atproto.repo.createRecord":
            return 200, {"uri": "at://did:plc:nonsense/app.bsky.feed.post/3kabc", "cid": "bafy"}
        if path == "/xrpc/com.atproto.repo.getRecord":
            return 400, {"error": "RecordNotFound", "message": "Could not locate record"}
        if path == "/api/v1/accounts/verify_credentials":
            return 200, {"id": "1", "username": "alice", "acct": "alice", "display_name": "Alice",
                         "url": f"{self.url}/@alice", "avatar": f"{self.url}/avatar.png"}
        if path == "/api/v2/instance":
            return 200, {"domain": "nonsense.test", "configuration": {"statuses": {"max_characters": 500}}}
        if path == "/api/v1/statuses" and method == "POST":
            return 200, {"id": "9", "url": f"{self.url}/@alice/9", "content": "<p>Hello</p>"}
        if path == "/api/v1/apps":
            return 200, {"client_id": "client", "client_secret": "secret"}
        if path == "/oauth/token":
            return 200, {"access_token": "token", "token_type": "Bearer"}
        return 200, {"ok": True}  # a webhook receiver: any POST is taken


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.answer()

    def do_POST(self):
        self.answer()

    def answer(self):
        peer = self.server.peer
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?")[0]
        with peer.lock:
            peer.requests.append((self.command, path, self.headers.get("Host")))
            peer.active += 1
        try:
            self.send(peer, path)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass  # the client hung up, as it should on nonsense that does not stop
        finally:
            with peer.lock:
                peer.active -= 1
            self.close_connection = True

    def send(self, peer, path):
        mode = peer.mode
        status, good = peer.good(self.command, path)
        good_bytes = json.dumps(good).encode()
        if mode == "good":
            return self.whole(status, good_bytes)
        if mode == "web_page":
            return self.whole(200, WEB_PAGE, "text/html; charset=utf-8")
        if mode == "empty":
            return self.whole(200, b"")
        if mode == "truncated":
            return self.whole(200, good_bytes[: len(good_bytes) // 2])
        if mode == "wrong_types":
            return self.whole(200, json.dumps(_retyped(good)).encode())
        if mode == "list":
            return self.whole(200, json.dumps([good]).encode())
        if mode == "error_in_200":
            return self.whole(200, json.dumps({"error": "InternalServerError", "message": "Something broke"}).encode())
        if mode == "html_403":
            return self.whole(403, FORBIDDEN, "text/html")
        if mode == "noisy_500":
            return self.whole(500, NOISY.encode(), "text/plain")
        if mode == "compressed":
            return self.whole(status, gzip.compress(good_bytes), headers={"Content-Encoding": "gzip"})
        if mode == "redirect":
            return self.whole(302, b"", headers={"Location": peer.redirect_to})
        if mode == "endless":
            self.head(200, chunked=True)
            chunk = b"a" * 65536
            end = time.monotonic() + LONGEST_ANSWER
            while not peer.closed and time.monotonic() < end:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            return
        if mode == "drip":
            self.head(200, chunked=True)
            self.wfile.flush()
            return self.drip(peer, b'1\r\n{\r\n' + b"1\r\n \r\n" * 1000)
        if mode == "drip_headers":
            return self.drip(peer, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: y\r\n" * 1000)
        raise AssertionError(f"unknown mode {mode}")

    def whole(self, status, body, content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("Connection", "close")  # one answer per connection: each a fresh start
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def head(self, status, chunked=False):
        self.send_response(status)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def drip(self, peer, data):
        end = time.monotonic() + LONGEST_ANSWER
        for byte in data:
            if peer.closed or time.monotonic() > end:
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(DRIP_SECONDS)
