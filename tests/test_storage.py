"""Storage backends, local directory and S3 (a real S3 HTTP endpoint), through
the one interface: save, open, url, exists, delete; failures leave nothing."""

import hashlib
import io
import os
import subprocess
import sys
import urllib.request
import uuid

import pytest

from conftest import ROOT, S3_BUCKET
from helpers import png_bytes
from pagesite.storage import LimitExceeded, NotStored, StorageError
from pagesite.storage.local import LocalStorage
from pagesite.storage.s3 import MIN_PART_SIZE, S3Storage

MB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(str(tmp_path / "uploads"))
    endpoint = request.getfixturevalue("s3_endpoint")
    return S3Storage(S3_BUCKET, prefix=f"t-{uuid.uuid4().hex[:8]}", endpoint_url=endpoint,
                     scratch_dir=str(tmp_path / "scratch"), part_size=MIN_PART_SIZE)


def keys(storage):
    if isinstance(storage, S3Storage):
        listing = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=storage.prefix + "/")
        return [item["Key"] for item in listing.get("Contents", [])]
    return [os.path.join(folder, name) for folder, _dirs, names in os.walk(storage.root)
            if not folder.startswith(storage.temp_dir) for name in names]


def pending_uploads(storage):
    if isinstance(storage, S3Storage):
        answer = storage.client.list_multipart_uploads(Bucket=storage.bucket, Prefix=storage.prefix + "/")
        return answer.get("Uploads", [])
    return os.listdir(storage.temp_dir)


class Broken(io.RawIOBase):
    """A client that hangs up after ``good`` bytes."""

    def __init__(self, good):
        self.left = good

    def readable(self):
        return True

    def read(self, size=-1):
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        size = self.left if size is None or size < 0 else min(size, self.left)
        self.left -= size
        return b"\x01" * size


@pytest.mark.parametrize("size", [0, 1000, 2 * MIN_PART_SIZE + 123])  # empty, one request, multipart
def test_save_open_exists_delete(storage, size):
    data = os.urandom(size)
    stored = storage.save(io.BytesIO(data), ".bin")
    assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    assert stored.key.endswith(".bin") and storage.exists(stored.key)
    with storage.open(stored.key) as stream:
        assert stream.read() == data
    storage.delete(stored.key)
    assert not storage.exists(stored.key)
    with pytest.raises(NotStored):
        storage.open(stored.key)
    storage.delete(stored.key)  # deleting twice is fine
    assert keys(storage) == [] and pending_uploads(storage) == []


def test_scratch_file_is_saved_with_its_own_digest(storage):
    data = png_bytes(40, 40)
    spool = storage.incoming()
    spool.write(data)
    spool.seek(0)
    stored = storage.save(spool, ".png")
    spool.close()
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    with storage.open(stored.key) as stream:
        assert stream.read() == data
    assert os.listdir(storage.temp_dir) == []


def test_over_the_limit_leaves_nothing(storage):
    with pytest.raises(LimitExceeded):
        storage.save(io.BytesIO(b"\0" * (MIN_PART_SIZE + 10)), max_bytes=MIN_PART_SIZE + 9)
    assert keys(storage) == [] and pending_uploads(storage) == []


@pytest.mark.parametrize("good", [1000, MIN_PART_SIZE + 1000])  # before and after the first part went up
def test_failed_upload_leaves_no_object(storage, good):
    with pytest.raises(ConnectionResetError):
        storage.save(Broken(good))
    assert keys(storage) == [] and pending_uploads(storage) == []


def test_url_is_presigned_and_short_lived_or_none(storage):
    data = png_bytes()
    stored = storage.save(io.BytesIO(data), ".png")
    url = storage.url(stored.key, 30, filename="ré sumé.png", content_type="image/png")
    if isinstance(storage, LocalStorage):
        assert url is None  # streamed by the web process instead
        return
    assert "X-Amz-Expires=30" in url and "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == data
        assert answer.headers["Content-Type"] == "image/png"
    # The bucket itself is private: the same object without a signature is refused.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url.split("?")[0], timeout=10)
    assert refused.value.code == 403


def test_unreachable_bucket_is_a_storage_error(s3_endpoint, tmp_path):
    storage = S3Storage("no-such-bucket", endpoint_url=s3_endpoint, scratch_dir=str(tmp_path))
    with pytest.raises(StorageError):
        storage.save(io.BytesIO(b"x"))


def test_big_upload_to_s3_keeps_memory_bounded(s3_endpoint, tmp_path):
    """64 MB streamed into a multipart upload adds well under 32 MB of RSS."""
    script = f"""
import sys, threading, time
sys.path.insert(0, {ROOT!r})
from pagesite.storage.s3 import S3Storage
def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) // 1024
class Zeros:
    left = 64 * 1024 * 1024
    def read(self, size):
        size = min(size, self.left); self.left -= size; return b"\\0" * size
storage = S3Storage({S3_BUCKET!r}, prefix="rss", endpoint_url={s3_endpoint!r}, scratch_dir={str(tmp_path)!r})
storage.client.head_bucket(Bucket={S3_BUCKET!r})  # the client and its connections loaded first
before = peak = rss()
done = False
def sample():
    global peak
    while not done:
        peak = max(peak, rss()); time.sleep(0.005)
sampler = threading.Thread(target=sample); sampler.start()
stored = storage.save(Zeros())
done = True; sampler.join()
storage.delete(stored.key)
print(stored.size, peak - before)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=os.environ)
    assert out.returncode == 0, out.stderr
    size, growth_mb = map(int, out.stdout.split())
    assert size == 64 * MB
    assert growth_mb < 32, f"RSS grew {growth_mb} MB"
    print(f"RSS growth for 64 MB: {growth_mb} MB")


def test_upload_that_storage_refuses_is_503_with_no_row_and_no_scratch(client, app, s3_endpoint, tmp_path):
    from pagesite.extensions import db
    from pagesite.models import AttachmentAsset

    broken = S3Storage("no-such-bucket", endpoint_url=s3_endpoint, scratch_dir=str(tmp_path))
    kept = app.extensions.get("pagesite_storage")
    app.extensions["pagesite_storage"] = broken
    try:
        response = client.post("/api/attachment", data={"file": (io.BytesIO(png_bytes()), "a.png")},
                               content_type="multipart/form-data")
    finally:
        app.extensions["pagesite_storage"] = kept
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "try the upload again" in response.json["detail"]
    with app.app_context():
        assert db.session.query(AttachmentAsset).count() == 0
    assert os.listdir(broken.temp_dir) == []
