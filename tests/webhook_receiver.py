"""A real HTTP receiver for webhook tests, on 127.0.0.1, that verifies every
request's signature with the ``standardwebhooks`` library (not our code)."""

import base64
import hashlib
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def new_secret():
    """A signing secret in the Standard Webhooks format."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def _kind(body):
    try:
        return json.loads(body).get("type")
    except (ValueError, AttributeError):
        return None


class Receiver:
    """Records every request; answers from ``script`` (a list of (status, body, headers)), then 200.

    Like a receiver that follows the Standard Webhooks advice, it keeps one post per
    ``webhook-id``: a delivery with an id it has seen is answered 200 with the post
    that id made, and makes no other (``posts``). Each delivery's span (arrived,
    answered; monotonic seconds) is kept, to tell whether two ever overlapped."""

    def __init__(self, secret=None):
        self.secret = secret
        self.requests = []
        self.script = []
        self.lock = threading.Lock()
        self.hold_seconds = 0
        self.released = threading.Event()
        self.posts = {}  # webhook-id -> the first delivery's payload: what the receiver posted
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                record = {"arrived": arrived}
                status, answer, headers = receiver._answer(self.headers, body, record)
                if receiver.hold_seconds and _kind(body) == "page.publish":
                    receiver.released.wait(receiver.hold_seconds)  # a slow receiver (see hold)
                record["answered"] = time.monotonic()
                data = json.dumps(answer).encode() if not isinstance(answer, bytes) else answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        # close() waits for the serving loop to look again: every 50 ms, not the default 500.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def _answer(self, headers, body, record):
        record.update(headers={k.lower(): v for k, v in headers.items()}, body=body, verified=False, payload=None)
        if self.secret is None:
            # Not configured yet (the secret is generated when the channel is connected): accept, unverified.
            record["payload"] = json.loads(body)
            with self.lock:
                self.requests.append(record)
            return 200, {}, None
        try:
            record["payload"] = Webhook(self.secret).verify(body, dict(headers))
            record["verified"] = True
        except WebhookVerificationError as e:
            record["error"] = f"{type(e).__name__}: {e}"
        with self.lock:
            self.requests.append(record)
            if not record["verified"]:
                return 401, {"error": "invalid signature"}, None
            if self.script:
                return self.script.pop(0)
        message_id = record["headers"]["webhook-id"]
        if record["payload"].get("type") == "page.publish":
            self.posts.setdefault(message_id, record["payload"])
        short = hashlib.sha256(message_id.encode()).hexdigest()[:12]
        return 200, {"id": f"post-{short}", "url": f"https://receiver.example/posts/{short}"}, None

    def hold(self, seconds):
        """Be slow: answer each delivery of a page only ``seconds`` after it arrived
        (it is recorded at once), or as soon as ``release`` is called."""
        self.released.clear()
        self.hold_seconds = seconds

    def release(self):
        """Answer the held deliveries now, and the next ones at once."""
        self.hold_seconds = 0
        self.released.set()

    def deliveries(self, kind="page.publish"):
        return [r for r in self.requests if r["payload"] and r["payload"].get("type") == kind]

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()
