"""The durable outbox: sealed hits waiting for delivery, in SQLite, ciphertext only.

The database runs in WAL mode with ``synchronous=FULL``: a hit whose
:meth:`Outbox.put` returned is on disk and survives ``kill -9`` and power
loss. Rows are keyed by record id, so putting the same hit twice stores it
once, and a delivery that the server stored but whose answer was lost is
sent again as the same bytes (the server acknowledges it as a duplicate).
A row leaves the outbox only after the server has acknowledged it.

Each row holds the sealed record's wire bytes and the sealed alerts: nothing
a camera thief could read (the keys that open them are not on the camera).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from underseal.encoding import b64d, b64e
from underseal_device.camera.errors import StateError
from underseal_device.camera.hits import SealedHit

__all__ = ["Outbox", "PendingHit"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS outbox (
    record_id   BLOB PRIMARY KEY,
    epoch       INTEGER NOT NULL,
    record      BLOB NOT NULL,
    alerts      TEXT NOT NULL,
    queued_at   REAL NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    refused     TEXT
) WITHOUT ROWID
"""


@dataclass(frozen=True, slots=True)
class PendingHit:
    """A queued hit as read back from the outbox."""

    hit: SealedHit
    attempts: int
    refused: str | None

    def __repr__(self) -> str:
        return f"PendingHit({self.hit!r}, attempts={self.attempts}, refused={self.refused})"


class Outbox:
    """A SQLite outbox file. One connection per thread: open one Outbox per thread."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL").fetchone()
            self._db.execute("PRAGMA synchronous=FULL")
            # A delivered hit must leave no trace: zero deleted rows in place
            # (see ``_forget`` for the WAL, which keeps old page images).
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise StateError(f"outbox {self.path} cannot be opened: {error}") from None
        self.path.chmod(0o600)

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r})"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def put(self, hit: SealedHit) -> bool:
        """Queue a hit durably; False if a hit with this record id was already queued."""
        alerts = json.dumps([[d, b64e(a)] for d, a in hit.alerts])
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO outbox (record_id, epoch, record, alerts, queued_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (hit.record_id, hit.epoch, hit.record, alerts, self._clock()),
        )
        return cursor.rowcount == 1

    def pending(self, limit: int = 100) -> list[PendingHit]:
        """The oldest hits not yet acknowledged (and not refused by the server)."""
        rows = self._db.execute(
            "SELECT record_id, epoch, record, alerts, attempts, refused FROM outbox "
            "WHERE refused IS NULL ORDER BY queued_at, record_id LIMIT ?",
            (limit,),
        ).fetchall()
        return [self._row(row) for row in rows]

    def refused(self) -> list[PendingHit]:
        """Hits the server refused for good (kept for the operator; see ``retry_refused``)."""
        rows = self._db.execute(
            "SELECT record_id, epoch, record, alerts, attempts, refused FROM outbox "
            "WHERE refused IS NOT NULL ORDER BY queued_at, record_id"
        ).fetchall()
        return [self._row(row) for row in rows]

    @staticmethod
    def _row(row: tuple[bytes, int, bytes, str, int, str | None]) -> PendingHit:
        record_id, epoch, record, alerts, attempts, refused = row
        hit = SealedHit(
            record_id=bytes(record_id),
            epoch=epoch,
            record=bytes(record),
            alerts=tuple((d, b64d(a, field="sealed alert")) for d, a in json.loads(alerts)),
        )
        return PendingHit(hit, attempts, refused)

    def acknowledge(self, record_ids: list[bytes]) -> int:
        """Remove delivered hits (the server stored them); returns how many were removed."""
        with self._transaction():
            removed = 0
            for record_id in record_ids:
                removed += self._db.execute(
                    "DELETE FROM outbox WHERE record_id = ?", (record_id,)
                ).rowcount
        if removed:
            self._forget()
        return removed

    def attempted(self, record_ids: list[bytes]) -> None:
        """Count one more failed delivery attempt for these hits."""
        with self._transaction():
            for record_id in record_ids:
                self._db.execute(
                    "UPDATE outbox SET attempts = attempts + 1 WHERE record_id = ?", (record_id,)
                )

    def refuse(self, record_id: bytes, code: str) -> None:
        """Mark a hit the server refused for good (it is no longer sent)."""
        self._db.execute("UPDATE outbox SET refused = ? WHERE record_id = ?", (code, record_id))

    def drop(self, record_id: bytes) -> None:
        """Delete a hit that can never be delivered (its epoch's key is destroyed)."""
        if self._db.execute("DELETE FROM outbox WHERE record_id = ?", (record_id,)).rowcount:
            self._forget()

    def _forget(self) -> None:
        """Push deletions into the database file and empty the WAL.

        The WAL still holds the page images written when a hit was queued;
        a checkpoint copies the zeroed pages into the database file and
        TRUNCATE cuts the WAL to zero bytes. (What the storage device keeps
        of freed blocks is beyond SQLite: run cameras on encrypted storage.)
        """
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    def retry_refused(self) -> int:
        """Put refused hits back in the queue (after the operator fixed the cause)."""
        sql = "UPDATE outbox SET refused = NULL WHERE refused IS NOT NULL"
        return self._db.execute(sql).rowcount

    def depth(self) -> int:
        """Hits waiting (refused ones included)."""
        (n,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(n)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
