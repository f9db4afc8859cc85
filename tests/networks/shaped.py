"""What the servers written from a network's documentation share: a real HTTP
server (werkzeug, threaded) on a free loopback port, in a thread of the test
process, keeping what it served. Subclasses answer in ``serve(request)``."""

import threading

from werkzeug.serving import make_server
from werkzeug.wrappers import Request


class ShapedServer:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (method, path, status) as served
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # shutdown() waits for the serving loop to look again: every 50 ms, not the default 500.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        response = self.serve(request)
        with self.lock:
            self.requests.append((request.method, request.path, response.status_code))
        return response(environ, start_response)

    def serve(self, request):
        raise NotImplementedError
