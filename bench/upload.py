"""Upload: a large MP4 through POST /api/attachment on gunicorn, against a bare
receiver on the same gunicorn that hashes and writes the same request body to
the same storage (``bench/baseline_wsgi.py``, POST /api/bench/raw-upload); plus
how much memory the web worker that received it grew (an upload must stream,
never sit in memory). On local storage and on S3 (moto's server, in this
process, on 127.0.0.1)."""

import http.client
import json
import os
import threading
import time
import uuid

import psutil

from .common import api_token, median

MB = 1024 * 1024


def make_mp4(path, size):
    """A file of ``size`` bytes that sniffs as MP4: an ftyp box (isom) then one mdat box."""
    ftyp = (24).to_bytes(4, "big") + b"ftyp" + b"isom" + (512).to_bytes(4, "big") + b"isomiso2"
    mdat_size = size - len(ftyp)
    block = os.urandom(MB)
    with open(path, "wb") as f:
        f.write(ftyp + mdat_size.to_bytes(4, "big") + b"mdat")
        left = mdat_size - 8
        while left > 0:
            f.write(block[:min(left, MB)])
            left -= MB


def post_file(url, token, path, filename="clip.mp4", alt_text="A benchmark clip", target="/api/attachment"):
    """Stream ``path`` as multipart/form-data without holding it in memory; (status, body)."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"alt_text\"\r\n\r\n{alt_text}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    host, port = url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    conn.putrequest("POST", target)
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + os.path.getsize(path) + len(tail)))
    conn.endheaders()
    conn.send(head)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MB), b""):
            conn.send(chunk)
    conn.send(tail)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


class RssWatch:
    """Peak resident memory of each gunicorn worker while something runs."""

    def __init__(self, master_pid):
        self.workers = psutil.Process(master_pid).children()
        self.before = {p.pid: p.memory_info().rss for p in self.workers}
        self.peak = dict(self.before)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            for p in self.workers:
                try:
                    self.peak[p.pid] = max(self.peak[p.pid], p.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def growth(self):
        return max(self.peak[pid] - self.before[pid] for pid in self.before)


BUCKET = "pagesite-bench"


def _s3():
    """moto's S3 server on 127.0.0.1 with an empty bucket; (server, endpoint, client)."""
    from tests.s3_server import start

    return start(BUCKET)


def _empty(client):
    """moto keeps objects in memory: drop them between runs."""
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])


def run(ctx, db):
    rows = []
    for storage in ("local", "s3"):
        rows += _run(ctx, db, storage)
    return rows


def _run(ctx, db, storage):
    size = (20 if ctx.quick else 100) * MB
    repeats = 2 if ctx.quick else 5
    server = client = None
    settings = {}
    if storage == "s3":
        server, endpoint, client = _s3()
        settings = {"STORAGE": "s3", "S3_BUCKET": BUCKET, "S3_PREFIX": "bench", "S3_ENDPOINT_URL": endpoint}
    try:
        app = ctx.fresh(db, **settings)
        token, _ = api_token(app)
        os.makedirs(os.environ["PAGESITE_UPLOAD_DIR"], exist_ok=True)
        source = os.path.join(ctx.tmp, "clip.mp4")
        make_mp4(source, size)
        small = os.path.join(ctx.tmp, "small.mp4")
        make_mp4(small, MB)

        web = ctx.gunicorn(module="bench.baseline_wsgi:app")
        # Warm both workers up (imports, first connections) before measuring.
        for target in ["/api/attachment", "/api/bench/raw-upload"] * 3:
            status, body = post_file(web.url, token, small, target=target)
            if status != 201:
                raise RuntimeError(f"{target} answered {status}: {body[:500]!r}")

        base_times, upload_times, growths = [], [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            status, body = post_file(web.url, token, source, target="/api/bench/raw-upload")
            base_times.append(time.perf_counter() - t0)
            if status != 201 or json.loads(body)["size"] < size:
                raise RuntimeError(f"the baseline answered {status}: {body[:500]!r}")

            with RssWatch(web.pid) as watch:
                t0 = time.perf_counter()
                status, body = post_file(web.url, token, source)
                upload_times.append(time.perf_counter() - t0)
            if status != 201:
                raise RuntimeError(f"upload answered {status}: {body[:500]!r}")
            growths.append(watch.growth())
            if client is not None:
                _empty(client)
        ctx.stop(web)
    finally:
        if server is not None:
            server.stop()

    # Best of each, measured alternately: on a shared machine the fastest run
    # is the one least disturbed by others, for the baseline as for the upload.
    rate, base = size / MB / min(upload_times), size / MB / min(base_times)
    growth = max(growths) / MB
    return [
        {"bench": "upload", "db": db, "metric": f"{size // MB} MB MP4 to {storage}, MB/s (best of {repeats})",
         "value": rate, "unit": " MB/s", "baseline": base,
         "baseline_label": "bare receiver: hash + write body, same gunicorn and storage", "ratio": rate / base,
         "goal": "ratio >= 0.8", "met": rate / base >= 0.8,
         "notes": f"medians: upload {size / MB / median(upload_times):.0f} MB/s, "
                  f"baseline {size / MB / median(base_times):.0f} MB/s"},
        {"bench": "upload", "db": db, "metric": f"web worker peak RSS growth ({storage})", "value": growth,
         "unit": " MB", "goal": "< 32 MB", "met": growth < 32},
    ]
