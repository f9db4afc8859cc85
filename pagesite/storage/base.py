"""What every storage backend shares: results, errors, keys and the scratch file."""

import hashlib
import os
import tempfile
import uuid
from dataclasses import dataclass

CHUNK_SIZE = 1024 * 1024


class StorageError(Exception):
    """The storage backend failed (disk, network, object store)."""


class NotStored(StorageError, LookupError):
    """No bytes under this key."""


class LimitExceeded(Exception):
    pass


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str


def new_key(suffix=""):
    """A fresh key, never derived from anything a client sent."""
    name = uuid.uuid4().hex
    return f"{name[:2]}/{name}{suffix}"


def copy_hashing(chunks, write, max_bytes=None):
    """Pass ``chunks`` to ``write``, returning (size, sha256); LimitExceeded past ``max_bytes``."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise LimitExceeded(size)
        digest.update(chunk)
        write(chunk)
    return size, digest.hexdigest()


def read_chunks(stream, size=CHUNK_SIZE):
    return iter(lambda: stream.read(size), b"")


class IncomingFile:
    """A scratch file on local disk, hashed and counted as bytes are written.

    Readable and seekable too (a request parser reads it back, and the image
    checks read it). Closing it deletes the bytes unless a backend took them
    over (``take_over``).
    """

    def __init__(self, temp_dir, owner=None):
        self.owner = owner
        fd, self.temp_path = tempfile.mkstemp(dir=temp_dir)
        self._file = os.fdopen(fd, "w+b")
        self._digest = hashlib.sha256()
        self.size = 0
        self._rewritten = False  # a write not at the end: the running digest no longer holds

    def write(self, data):
        if self._file.tell() != self.size:
            self._rewritten = True
        written = self._file.write(data)
        if not self._rewritten:
            self._digest.update(data)
        self.size = max(self.size, self._file.tell())
        return written

    @property
    def sha256(self):
        if self._rewritten:
            self._file.flush()
            digest = hashlib.sha256()
            with open(self.temp_path, "rb") as f:
                for chunk in read_chunks(f):
                    digest.update(chunk)
            return digest.hexdigest()
        return self._digest.hexdigest()

    def take_over(self):
        """The path of the (flushed) bytes, now owned by the caller: closing no longer deletes them."""
        self._file.flush()
        os.fsync(self._file.fileno())
        path, self.temp_path = self.temp_path, None
        return path

    def read(self, size=-1):
        return self._file.read(size)

    def readline(self, size=-1):
        return self._file.readline(size)

    def seek(self, offset, whence=os.SEEK_SET):
        return self._file.seek(offset, whence)

    def tell(self):
        return self._file.tell()

    def flush(self):
        self._file.flush()

    def readable(self):
        return True

    def writable(self):
        return True

    def seekable(self):
        return True

    @property
    def closed(self):
        return self._file.closed

    def close(self):
        self._file.close()
        if self.temp_path:
            try:
                os.unlink(self.temp_path)
            except FileNotFoundError:
                pass
            self.temp_path = None

    def __iter__(self):
        return iter(self._file)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
