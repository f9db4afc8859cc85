"""gunicorn settings for the web process (read by `gunicorn wsgi:app` from this folder).

Listens on 127.0.0.1 unless PAGESITE_BIND names another address: an exposed
port should sit behind a TLS proxy. Until the first account exists, the
master process prints a one-time set-up code that /setup asks for.

Each worker process serves requests from PAGESITE_WEB_THREADS threads: a
request that waits (publish-now waits up to PAGESITE_PUBLISH_NOW_WAIT for a
provider, an upload for its bytes) holds one thread, not a whole process, so
the pages and the health check keep answering. The waits are I/O, and the
publish itself already runs in a thread of its own.
"""

import json
import os
import sys


def _web_threads():
    """PAGESITE_WEB_THREADS, checked like every PAGESITE_* setting (one line, then stop)."""
    raw = os.environ.get("PAGESITE_WEB_THREADS")
    if raw is None:
        return 8
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        print(f'PAGESITE_WEB_THREADS must be a whole number of at least 1, got "{raw}"', file=sys.stderr, flush=True)
        sys.exit(3)
    return value


bind = [f"{os.environ.get('PAGESITE_BIND', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = _web_threads()
# pagesite is managed with signals (TERM, HUP), not gunicornc; the control socket
# would sit at one path per user, shared by every instance on the machine.
control_socket_disable = True


def when_ready(server):
    """Once the sockets are bound: issue the set-up code when no account exists yet."""
    from pagesite import create_app
    from pagesite.config import InvalidSetting
    from pagesite.extensions import db, get_redis
    from pagesite.services import auth

    try:
        app = create_app()
    except InvalidSetting as e:  # one line for the operator, and stop rather than serve a broken app
        print(e, file=sys.stderr, flush=True)
        sys.exit(3)
    try:
        with app.app_context():
            code = auth.issue_setup_code()
            db.engine.dispose()  # the forked workers open their own connections
            get_redis().close()
    except Exception as e:  # the database may not be migrated yet: say so, keep serving
        server.log.warning("could not check for a first account: %s", e)
        return
    if code:
        where = ", ".join(f"http://{address}/setup" for address in _addresses(server))
        print(f"\n  pagesite has no account yet. Open {where}\n"
              f"  and enter this one-time set-up code:  {code}\n", file=sys.stderr, flush=True)


def _addresses(server):
    for listener in server.LISTENERS:
        host, port = listener.sock.getsockname()[:2]
        yield f"{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
