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
        """Hold back the answer to the next ``method`` request for ``path`` (a prefix when it ends in ``*``)."""
        self.holds[(method, path)] = seconds

    def _hold_for(self, method, path):
        for (held_method, held_path), seconds in list(self.holds.items()):
            if held_method == method and (held_path == path or held_path.endswith("*")
                                          and path.startswith(held_path[:-1])):
                return self.holds.pop((held_method, held_path), 0)
        return 0

    def wsgi(self, environ, start_response):
        request = Request(environ)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = httpx.request(request.method, self.target + request.full_path.rstrip("?"), headers=headers,
                               content=request.get_data(), timeout=30)
        hold = self._hold_for(request.method, request.path)
        if hold:
            time.sleep(hold)
        response = Response(answer.content, status=answer.status_code,
                            content_type=answer.headers.get("content-type"))
        return response(environ, start_response)

    def close(self):
        self.server.shutdown()


class SlowRelay:
    """The same for a WebSocket peer (a Nostr relay): every message passes through, but after
    ``hold_next_ok(seconds)`` the relay's next ``OK`` reaches the client only that much later."""

    def __init__(self, target):
        from websockets.sync.server import serve

        self.target = target
        self.hold = 0
        self.server = serve(self._client, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold_next_ok(self, seconds):
        self.hold = seconds

    def _client(self, client):
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(self.target) as relay:
            def relay_to_client():
                try:
                    for message in relay:
                        if message.startswith('["OK"') and self.hold:
                            hold, self.hold = self.hold, 0
                            time.sleep(hold)
                        client.send(message)
                except ConnectionClosed:
                    pass

            threading.Thread(target=relay_to_client, daemon=True).start()
            try:
                for message in client:
                    relay.send(message)
            except ConnectionClosed:
                pass

    def close(self):
        self.server.shutdown()
