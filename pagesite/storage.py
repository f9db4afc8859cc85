"""Where attachment bytes live. Today a local directory; the small interface
(``receive`` a stream or ``adopt`` an ``incoming`` file, ``open``/``path``/
``delete`` by key) is what an object store would implement later."""

import hashlib
import os
import tempfile
import uuid

CHUNK_SIZE = 1024 * 1024


class LimitExceeded(Exception):
    pass


class PendingFile:
    """Bytes received into a temporary file, not yet visible under a key."""

    def __init__(self, storage, temp_path, size, sha256):
        self.storage = storage
        self.temp_path = temp_path
        self.size = size
        self.sha256 = sha256

    def rehash(self):
        """Recompute size and digest after the bytes were rewritten in place."""
        digest = hashlib.sha256()
        with open(self.temp_path, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
                digest.update(chunk)
        self.size = os.path.getsize(self.temp_path)
        self.sha256 = digest.hexdigest()

    def commit(self, suffix=""):
        """Atomically move the bytes to a fresh generated key; returns the key."""
        name = uuid.uuid4().hex
        key = f"{name[:2]}/{name}{suffix}"
        final = self.storage.path(key)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(self.temp_path, final)
        self.temp_path = None
        return key

    def discard(self):
        if self.temp_path and os.path.exists(self.temp_path):
            os.unlink(self.temp_path)
        self.temp_path = None


class IncomingFile:
    """A file being written into storage's temporary area, hashed and counted
    as the bytes arrive, so adopting it later costs no second pass.

    Readable and seekable too (a request parser reads it back). Closing it
    deletes the bytes unless storage has adopted them.
    """

    def __init__(self, storage):
        self.storage = storage
        fd, self.temp_path = tempfile.mkstemp(dir=storage.temp_dir)
        self._file = os.fdopen(fd, "w+b")
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self._digest.update(data)
        self.size += len(data)
        return self._file.write(data)

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


class LocalStorage:
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.temp_dir = os.path.join(self.root, ".incoming")
        os.makedirs(self.temp_dir, exist_ok=True)

    def receive(self, chunks, max_bytes):
        """Write ``chunks`` to a temp file on the same disk, hashing as they pass.

        Never holds more than one chunk in memory. Raises LimitExceeded (and
        leaves nothing behind) once more than ``max_bytes`` arrive.
        """
        digest = hashlib.sha256()
        size = 0
        fd, temp_path = tempfile.mkstemp(dir=self.temp_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise LimitExceeded(size)
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            os.unlink(temp_path)
            raise
        return PendingFile(self, temp_path, size, digest.hexdigest())

    def incoming(self):
        """A new IncomingFile: bytes written to it can later be adopted with no copy."""
        return IncomingFile(self)

    def adopt(self, incoming, max_bytes):
        """Take over the bytes of an IncomingFile of this storage, as receive() would
        have stored them; None when ``incoming`` is anything else.

        Raises LimitExceeded (and the bytes are dropped) past ``max_bytes``.
        """
        if not isinstance(incoming, IncomingFile) or incoming.storage is not self or not incoming.temp_path:
            return None
        if incoming.size > max_bytes:
            incoming.close()
            raise LimitExceeded(incoming.size)
        incoming.flush()
        pending = PendingFile(self, incoming.temp_path, incoming.size, incoming._digest.hexdigest())
        incoming.temp_path = None  # the PendingFile owns the bytes now
        return pending

    def path(self, key):
        # Keys are generated by us, but never let one escape the root.
        full = os.path.abspath(os.path.join(self.root, key))
        if not full.startswith(self.root + os.sep):
            raise ValueError("storage key outside the upload directory")
        return full

    def open(self, key):
        return open(self.path(key), "rb")

    def delete(self, key):
        try:
            os.unlink(self.path(key))
        except FileNotFoundError:
            pass


def get_storage(app):
    storage = app.extensions.get("pagesite_storage")
    if storage is None:
        storage = app.extensions["pagesite_storage"] = LocalStorage(app.config["UPLOAD_DIR"])
    return storage
