"""Upload: a large MP4 through POST /api/attachment on gunicorn, against a
plain copy of the same bytes to the same disk (dd); plus how much memory the web
worker that received it grew (an upload must stream, never sit in memory)."""

import http.client
import os
import subprocess
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


def post_file(url, token, path, filename="clip.mp4", alt_text="A benchmark clip"):
    """Stream ``path`` as multipart/form-data without holding it in memory; (status, body)."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"alt_text\"\r\n\r\n{alt_text}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    host, port = url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    conn.putrequest("POST", "/api/attachment")
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


def run(ctx, db):
    size = (20 if ctx.quick else 100) * MB
    repeats = 2 if ctx.quick else 5
    app = ctx.fresh(db)
    token, _ = api_token(app)
    upload_dir = os.environ["PAGESITE_UPLOAD_DIR"]
    os.makedirs(upload_dir, exist_ok=True)
    source = os.path.join(ctx.tmp, "clip.mp4")
    make_mp4(source, size)
    small = os.path.join(ctx.tmp, "small.mp4")
    make_mp4(small, MB)

    web = ctx.gunicorn()
    # Warm both workers up (imports, first connections) before measuring.
    for _ in range(6):
        status, body = post_file(web.url, token, small)
        if status != 201:
            raise RuntimeError(f"upload answered {status}: {body[:500]!r}")

    copy_times, upload_times, growths = [], [], []
    for _ in range(repeats):
        target = os.path.join(upload_dir, f"baseline-{uuid.uuid4().hex}")
        t0 = time.perf_counter()
        subprocess.run(["dd", f"if={source}", f"of={target}", "bs=1M"], check=True, capture_output=True)
        copy_times.append(time.perf_counter() - t0)
        os.unlink(target)

        with RssWatch(web.pid) as watch:
            t0 = time.perf_counter()
            status, body = post_file(web.url, token, source)
            upload_times.append(time.perf_counter() - t0)
        if status != 201:
            raise RuntimeError(f"upload answered {status}: {body[:500]!r}")
        growths.append(watch.growth())

    # Best of each, measured alternately: on a shared machine the fastest run
    # is the one least disturbed by others, for the copy as for the upload.
    rate, base = size / MB / min(upload_times), size / MB / min(copy_times)
    growth = max(growths) / MB
    return [
        {"bench": "upload", "db": db, "metric": f"{size // MB} MB MP4, MB/s (best of {repeats})", "value": rate,
         "unit": " MB/s", "baseline": base, "baseline_label": "dd bs=1M, same disk", "ratio": rate / base,
         "goal": "ratio >= 0.5", "met": rate / base >= 0.5,
         "notes": f"medians: upload {size / MB / median(upload_times):.0f} MB/s, "
                  f"dd {size / MB / median(copy_times):.0f} MB/s"},
        {"bench": "upload", "db": db, "metric": "web worker peak RSS growth", "value": growth, "unit": " MB",
         "goal": "< 32 MB", "met": growth < 32},
    ]
