"""API throughput under wrk: POST /api/pages (text only) and GET /api/pages/{id}
on gunicorn as the Procfile runs it (WEB_CONCURRENCY=2 sync workers), against
GET /api/providers, the API's most trivial endpoint (authenticated, no database
query beyond the token check), in the same app and server."""

import os
import re
import shutil
import subprocess

import requests

from .common import api_token

POST_SCRIPT = """\
wrk.method = "POST"
wrk.body = '{"text": "A page written by the pagesite benchmark."}'
wrk.headers["Content-Type"] = "application/json"
"""
CONNECTIONS = 4  # a little more than the two workers, so neither waits for wrk


def wrk(url, token, seconds, script=None):
    """(requests/s, p50 ms, non-2xx count) from one wrk run."""
    args = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency",
            "-H", f"Authorization: Bearer {token}", url]
    if script:
        args[1:1] = ["-s", script]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p50_ms = float(p50.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p50.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*", out)
    return rate, p50_ms, int(errors.group(1)) if errors else 0, socket_errors.group(0) if socket_errors else ""


def run(ctx, db):
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    seconds = 1 if ctx.quick else 10
    app = ctx.fresh(db)
    token, _ = api_token(app)
    workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
    web = ctx.gunicorn(workers=workers)
    page = requests.post(web.url + "/api/pages", json={"text": "The page GET reads."},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    page.raise_for_status()
    script = os.path.join(ctx.tmp, "post_page.lua")
    with open(script, "w") as f:
        f.write(POST_SCRIPT)

    wrk(web.url + "/api/providers", token, 1)  # warm-up
    base, base_p50, base_errors, _ = wrk(web.url + "/api/providers", token, seconds)
    if base_errors:
        raise RuntimeError(f"{base_errors} baseline requests failed")
    result = []
    for label, url, lua in (("GET /api/pages/{id}", f"{web.url}/api/pages/{page.json()['id']}", None),
                            ("POST /api/pages", f"{web.url}/api/pages", script)):
        rate, p50, errors, socket_errors = wrk(url, token, seconds, lua)
        if errors:
            raise RuntimeError(f"{label}: {errors} requests failed")
        result.append({
            "bench": "api", "db": db, "metric": f"{label} requests/s ({workers} workers, {CONNECTIONS} conns)",
            "value": rate, "unit": "/s", "baseline": base, "baseline_label": "GET /api/providers",
            "ratio": rate / base, "goal": "ratio >= 0.4", "met": rate / base >= 0.4,
            "notes": f"p50 {p50:.1f} ms (baseline {base_p50:.1f} ms) {socket_errors}".strip(),
        })
    return result
