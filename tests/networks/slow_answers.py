"""A pass-through HTTP proxy that can hold back one answer: the peer has acted,
but the client hears nothing until later (or, if it is killed meanwhile, never).
That is the "answer lost" case every exactly-once rule is about."""

import threading
import time

import httpx
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class SlowAnswers:
    def __init__(self, target):
        self.target = target
        self.holds = {}  # (method, path) -> seconds, for the next such request only
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # shutdown() waits for the serving loop to look again: every 50 ms, not the default 500.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def hold_next(self, method, path, seconds):
        self.holds[(method, path)] = seconds

    def wsgi(self, environ, start_response):
        request = Request(environ)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = httpx.request(request.method, self.target + request.full_path.rstrip("?"), headers=headers,
                               content=request.get_data(), timeout=30)
        hold = self.holds.pop((request.method, request.path), 0)
        if hold:
            time.sleep(hold)
        response = Response(answer.content, status=answer.status_code,
                            content_type=answer.headers.get("content-type"))
        return response(environ, start_response)

    def close(self):
        self.server.shutdown()
