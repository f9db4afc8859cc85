"""Key rotation: every encrypted column re-encrypted under the first ``PAGESITE_ENCRYPTION_KEY`` key.

The columns are found by their type (``encryption.Encrypted``), so one added
later is rotated too. Rows are read by primary key in batches, each batch its
own transaction, and each row is written only if it still holds the value
read (a channel reconnected meanwhile keeps its new credentials). A value
already under the first key is left as it is, so running it twice, or again
after a crash part way, re-encrypts only what is left. A value no configured
key can read is reported, not fatal: the rest are rotated all the same.
"""

from dataclasses import dataclass, field

from sqlalchemy import select, update

from .. import encryption
from ..encryption import CredentialsUnreadable
from ..extensions import db

BATCH_SIZE = 500


@dataclass
class Rotation:
    rotated: dict = field(default_factory=dict)  # "table.column" -> values re-encrypted
    current: int = 0  # values already under the first key
    unreadable: list = field(default_factory=list)  # (table, column, primary key) no configured key can read

    @property
    def total(self):
        return sum(self.rotated.values())


def rotate_all(batch_size=BATCH_SIZE):
    """Re-encrypt every ``Encrypted`` column of every table under the first key; a Rotation."""
    report = Rotation()
    for table, column in encryption.encrypted_columns(db.metadata):
        [key] = table.primary_key.columns
        # Setting a column to itself keeps an ``onupdate`` (updated_at) from moving: nothing changed for users.
        unchanged = {c.name: c for c in table.columns if c.onupdate is not None and c is not column}
        name = f"{table.name}.{column.name}"
        report.rotated[name] = 0
        last = None
        while True:
            query = select(key, column).where(column.is_not(None)).order_by(key).limit(batch_size)
            if last is not None:
                query = query.where(key > last)
            rows = db.session.execute(query).all()
            if not rows:
                break
            for row_key, value in rows:
                if not value or encryption.under_first_key(value):
                    report.current += 1
                    continue
                try:
                    new = encryption.rotate(value)
                except CredentialsUnreadable:
                    report.unreadable.append((table.name, column.name, row_key))
                    continue
                written = db.session.execute(
                    update(table).where(key == row_key, column == value).values({column.name: new, **unchanged}))
                report.rotated[name] += written.rowcount
            db.session.commit()  # one transaction per batch
            last = rows[-1][0]
    return report
