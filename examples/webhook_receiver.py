"""A webhook receiver to try pagesite's webhook channel with: prints each
delivery and whether its Standard Webhooks signature is valid.

    .venv/bin/python examples/webhook_receiver.py 8000            # then connect http://127.0.0.1:8000/
    WEBHOOK_SECRET=whsec_... .venv/bin/python examples/webhook_receiver.py 8000

pagesite delivers to an address on this machine only when its operator allows
it: start pagesite with PAGESITE_ALLOWED_PRIVATE_ADDRESSES=127.0.0.0/8.

Without WEBHOOK_SECRET it accepts unverified requests (so the first ping, sent
before you have the generated secret, succeeds); restart it with the secret.
Standard library only; in your own code, the `standardwebhooks` package does
the same in one call.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ.get("WEBHOOK_SECRET")
TOLERANCE = 5 * 60  # seconds a timestamp may be off: replayed requests are refused
seen = set()


def verify(headers, body):
    """True when the request was signed with SECRET (and is recent)."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        return False
    expected = base64.b64encode(hmac.new(key, f"{message_id}.{timestamp}.".encode() + body,
                                         hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s.partition(",")[2])
               for s in headers["webhook-signature"].split() if s.startswith("v1,"))


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ok = SECRET is None or verify(self.headers, body)
        message_id = self.headers.get("webhook-id")
        repeat = message_id in seen
        print(f"{message_id}: signature {'valid' if SECRET and ok else 'NOT CHECKED' if ok else 'INVALID'}"
              f"{' (a repeat: already handled)' if repeat else ''}")
        print(json.dumps(json.loads(body or b"null"), indent=2))
        if not ok:
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b'{"error": "invalid signature"}')
            return
        seen.add(message_id)
        answer = json.dumps({"id": message_id}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    print(f"listening on http://127.0.0.1:{port}/")
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
