"""The HTTP edge every blueprint shares: the request class, which streams
uploads straight into storage, and which requests belong to the JSON API."""

from flask import Request, current_app, request
from werkzeug.utils import cached_property

from .storage import CHUNK_SIZE, get_storage


def is_api_request():
    """Under /api (and /metrics, which scrapers read): authenticated by bearer token,
    answered with JSON and problem+json."""
    return request.path in ("/api", "/metrics") or request.path.startswith("/api/")


class UploadRequest(Request):
    """Flask's request, with uploaded files written straight into storage.

    Werkzeug would spool each file part to a temporary file elsewhere, which
    ``upload`` then copies into storage: every byte written twice. Here the
    parser writes into storage's own temporary area, hashing as it goes, and
    ``upload`` adopts the file with a rename. Files nobody adopts are deleted
    when the request closes.
    """

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return get_storage(current_app).incoming()

    @cached_property
    def stream(self):
        return ReadAhead(Request.stream.fget(self))


class ReadAhead:
    """A request body read from the server a megabyte at a time.

    Werkzeug's multipart parser reads 64 KiB at a time; gunicorn answers each
    read from a read-ahead buffer that it copies on every call, so small reads
    of a large body cost many times its size in copying.
    """

    def __init__(self, stream, chunk_size=CHUNK_SIZE):
        self._stream = stream
        self._chunk_size = chunk_size
        self._buffer = b""
        self._offset = 0

    def read(self, size=-1):
        if size is None or size < 0:
            rest = self._buffer[self._offset:] + self._stream.read()
            self._buffer, self._offset = b"", 0
            return rest
        if self._offset >= len(self._buffer):
            if size >= self._chunk_size:
                return self._stream.read(size)
            self._buffer, self._offset = self._stream.read(self._chunk_size), 0
        data = self._buffer[self._offset:self._offset + size]
        self._offset += len(data)
        return data

    def close(self):
        close = getattr(self._stream, "close", None)
        if close:
            close()
