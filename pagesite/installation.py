"""Which installation this is, and the Redis queue that belongs to it.

An installation is one database. Its id (a random UUID, one row in
``installation``) tells it apart from any other database, a reset one
included. Two installations pointed at the same Redis queue would take each
other's jobs and run them against the wrong database (schedule 12 of one is
not schedule 12 of the other), so a queue belongs to one installation: the key
``pagesite:queue-owner:<PAGESITE_QUEUE>`` names it. The first worker or
scheduler takes it (SET NX); the others of the same installation find their
own id there; those of another refuse to start. Running processes take it
again with every heartbeat, so a Redis wipe does not leave it unowned.
"""

import uuid

from flask import current_app
from sqlalchemy import CheckConstraint, Integer, String, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .config import without_password
from .extensions import db, get_redis
from .timeutil import UTCDateTime, utcnow

OWNER_PREFIX = "pagesite:queue-owner:"
_CACHE = "pagesite_installation_id"
ADOPT_COMMAND = "flask --app wsgi pagesite adopt-queue"


class Installation(db.Model):
    """The one row that says which installation this database is."""

    __tablename__ = "installation"
    __table_args__ = (CheckConstraint("singleton = 1", name="one_row"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a random UUID
    # Always 1, and unique: a second row cannot exist, so processes racing to make the first agree.
    singleton: Mapped[int] = mapped_column(Integer, default=1, unique=True)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


def current_id():
    """This installation's id, read once per process (it never changes); made now if the row is missing."""
    cache = current_app.extensions
    if _CACHE not in cache:
        cache[_CACHE] = _read_or_create()
    return cache[_CACHE]


def _read_or_create():
    # Connections of its own: whatever the caller's session is doing is left alone.
    found = _read()
    if found is None:
        try:
            with db.engine.begin() as connection:
                connection.execute(insert(Installation).values(id=str(uuid.uuid4()), singleton=1, created_at=utcnow()))
        except IntegrityError:
            pass  # another process made it first: its id is the one
        found = _read()
    return found


def _read():
    with db.engine.connect() as connection:
        return connection.scalar(select(Installation.id))


class QueueOwnedElsewhere(Exception):
    """The queue belongs to another installation; the message is the one line for the operator."""


class QueueHold:
    """This installation's hold on its queue. Made in an app context; usable from any thread after."""

    def __init__(self, connection=None):
        config = current_app.config
        self.connection = connection or get_redis()
        self.queue = config["QUEUE"]
        self.redis_url = without_password(config["REDIS_URL"])
        self.installation_id = current_id()
        self.key = OWNER_PREFIX + self.queue

    def owner(self):
        value = self.connection.get(self.key)
        return value.decode() if value is not None else None

    def keep(self):
        """Take the queue if no one holds it; raise QueueOwnedElsewhere if another installation does."""
        pipe = self.connection.pipeline()  # MULTI: the GET sees the SET's outcome, nothing between
        pipe.set(self.key, self.installation_id, nx=True)
        pipe.get(self.key)
        owner = pipe.execute()[1].decode()
        if owner != self.installation_id:
            raise QueueOwnedElsewhere(self.refusal(owner))

    def adopt(self):
        """Make the queue this installation's whatever held it; returns the previous owner (None if none)."""
        pipe = self.connection.pipeline()
        pipe.get(self.key)
        pipe.set(self.key, self.installation_id)
        previous = pipe.execute()[0]
        return previous.decode() if previous is not None else None

    def refusal(self, owner):
        return (f'the queue "{self.queue}" (PAGESITE_QUEUE) on {self.redis_url} (REDIS_URL) belongs to another '
                f"pagesite installation ({owner}; this one is {self.installation_id}): give this installation a "
                f"Redis database of its own (another REDIS_URL), or, if this installation's database was reset "
                f"and the queue was its own, take the queue over with `{ADOPT_COMMAND}`")
