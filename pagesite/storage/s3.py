"""Attachment bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2...).

The bucket stays private. Browsers get a presigned GET URL that expires in
seconds (``S3_URL_EXPIRES``), so serving costs the web process one redirect,
not the bytes. Credentials come from boto3's usual sources (``AWS_*``
variables, a profile, an instance role).

Uploads stream in parts of ``part_size`` bytes while being hashed, so memory
stays bounded by about one part whatever the file's size. A failed upload is
aborted: no object, no parts left behind.
"""

import hashlib
import os
from urllib.parse import quote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import IncomingFile, LimitExceeded, NotStored, StorageError, Stored, new_key

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's floor for every part but the last


class S3Storage:
    def __init__(self, bucket, prefix="", endpoint_url=None, scratch_dir=None, part_size=8 * 1024 * 1024):
        if not bucket:
            raise RuntimeError("PAGESITE_STORAGE=s3 needs PAGESITE_S3_BUCKET.")
        self.bucket = bucket
        self.prefix = (prefix or "").strip("/")
        self.endpoint_url = endpoint_url or None
        self.part_size = max(int(part_size), MIN_PART_SIZE)
        # Uploads are checked (type, pixels, location) on local scratch before they are stored.
        self.temp_dir = os.path.join(os.path.abspath(scratch_dir), ".incoming") if scratch_dir else None
        if self.temp_dir:
            os.makedirs(self.temp_dir, exist_ok=True)
        self._pid = None
        self._client = None

    @property
    def client(self):
        # One client per process (boto3 clients are thread-safe, but not fork-safe).
        if self._client is None or self._pid != os.getpid():
            session = boto3.session.Session()
            config = Config(
                signature_version="s3v4",
                retries={"max_attempts": 4, "mode": "standard"},
                s3={"addressing_style": "path"} if self.endpoint_url else {},
            )
            self._client = session.client(
                "s3", endpoint_url=self.endpoint_url, region_name=session.region_name or "us-east-1", config=config
            )
            self._pid = os.getpid()
        return self._client

    def _object(self, key):
        return f"{self.prefix}/{key}" if self.prefix else key

    def incoming(self):
        return IncomingFile(self.temp_dir)

    def save(self, stream, suffix="", max_bytes=None):
        """Upload ``stream`` under a new key, hashing as it goes; complete on return."""
        key = new_key(suffix)
        name = self._object(key)
        digest = hashlib.sha256()
        size = 0

        def next_part():
            nonlocal size
            part = _read_exactly(stream, self.part_size)
            size += len(part)
            if max_bytes is not None and size > max_bytes:
                raise LimitExceeded(size)
            digest.update(part)
            return part

        try:
            part = next_part()
            if len(part) < self.part_size:  # small: one request, all or nothing
                self.client.put_object(Bucket=self.bucket, Key=name, Body=part)
                return Stored(key, size, digest.hexdigest())
            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
        except (BotoCoreError, ClientError) as e:
            raise StorageError(f"could not store the upload in bucket {self.bucket}: {e}") from e
        try:
            parts = []
            while part:
                answer = self.client.upload_part(
                    Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=len(parts) + 1, Body=part
                )
                parts.append({"PartNumber": len(parts) + 1, "ETag": answer["ETag"]})
                part = None  # let it go before the next one is read: one part in memory
                part = next_part()
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException as error:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
            except (BotoCoreError, ClientError):
                pass  # the bucket's lifecycle rule for incomplete uploads is the backstop
            if isinstance(error, (BotoCoreError, ClientError)):
                raise StorageError(f"could not store the upload in bucket {self.bucket}: {error}") from error
            raise
        return Stored(key, size, digest.hexdigest())

    def open(self, key):
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._object(key))["Body"]
        except ClientError as e:
            if _missing(e):
                raise NotStored(key) from None
            raise StorageError(f"could not read {key} from bucket {self.bucket}: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"could not read {key} from bucket {self.bucket}: {e}") from e

    def url(self, key, expires, filename=None, content_type=None):
        # The object store answers with this Cache-Control: the bytes are the signed-in caller's,
        # kept by no shared cache, and by their browser no longer than the URL works.
        params = {"Bucket": self.bucket, "Key": self._object(key),
                  "ResponseCacheControl": f"private, max-age={int(expires)}"}
        if content_type:
            params["ResponseContentType"] = content_type
        if filename:
            params["ResponseContentDisposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires))

    @property
    def origin(self):
        """scheme://host[:port] that presigned URLs point at (for the page's CSP)."""
        parts = urlsplit(self.url("origin", 60))
        return f"{parts.scheme}://{parts.netloc}"

    def exists(self, key):
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(key))
            return True
        except ClientError as e:
            if _missing(e):
                return False
            raise StorageError(f"could not look up {key} in bucket {self.bucket}: {e}") from e

    def delete(self, key):
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._object(key))
        except (BotoCoreError, ClientError) as e:
            raise StorageError(f"could not delete {key} from bucket {self.bucket}: {e}") from e


def _missing(error):
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


def _read_exactly(stream, size):
    """Up to ``size`` bytes, in one buffer (no second copy): short only at the end of the stream."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = stream.read(min(size - len(buffer), 1024 * 1024))
        if not chunk:
            break
        buffer += chunk
    return buffer
