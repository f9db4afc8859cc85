"""Where attachment bytes live: a local directory (default) or an
S3-compatible bucket. Nothing outside this package sees a file path.

Every backend offers:

* ``save(stream, suffix="", max_bytes=None)`` -> ``Stored(key, size, sha256)``:
  the bytes are durable (fsynced, or a completed upload) when it returns;
  on any error nothing is left under a key;
* ``open(key)`` -> a readable binary stream (``NotStored`` if missing);
* ``url(key, expires, filename, content_type)`` -> a short-lived URL a browser
  can fetch the bytes from, or None when they must be streamed from ``open``;
* ``delete(key)``, ``exists(key)``;
* ``incoming()`` -> an ``IncomingFile`` on local scratch disk that a request
  parser writes an upload into, hashed as it arrives, for checks before saving.
"""

from .base import CHUNK_SIZE, IncomingFile, LimitExceeded, NotStored, StorageError, Stored

__all__ = ["CHUNK_SIZE", "IncomingFile", "LimitExceeded", "NotStored", "StorageError", "Stored", "get_storage"]


def get_storage(app):
    """The app's storage backend, made on first use from ``STORAGE``."""
    storage = app.extensions.get("pagesite_storage")
    if storage is None:
        storage = app.extensions["pagesite_storage"] = _make(app.config)
    return storage


def _make(config):
    kind = config["STORAGE"]
    if kind == "local":
        from .local import LocalStorage

        return LocalStorage(config["UPLOAD_DIR"])
    if kind == "s3":
        from .s3 import S3Storage

        return S3Storage(
            bucket=config["S3_BUCKET"], prefix=config["S3_PREFIX"], endpoint_url=config["S3_ENDPOINT_URL"],
            scratch_dir=config["UPLOAD_DIR"], part_size=config["S3_PART_SIZE"],
        )
    raise RuntimeError(f"PAGESITE_STORAGE must be 'local' or 's3', not {kind!r}.")
