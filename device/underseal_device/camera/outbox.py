"""The durable outbox: sealed hits waiting for delivery, in SQLite, ciphertext only.

The database runs in WAL mode with ``synchronous=FULL``: a hit whose
:meth:`Outbox.put` returned is on disk and survives ``kill -9`` and power
loss. Rows are keyed by record id, so putting the same hit twice stores it
once, and a delivery that the server stored but whose answer was lost is
sent again as the same bytes (the server acknowledges it as a duplicate).
A row leaves the outbox only after the server has acknowledged it.

Each row holds the sealed record's wire bytes and the sealed alerts: nothing
a camera thief could read (the keys that open them are not on the camera).

A full disk (or the ``max_bytes`` cap) must not stop the camera or lose a
hit: a hit that cannot be written is held in memory (ciphertext only, at
most :data:`MEMORY_LIMIT` hits, shared by every connection to the outbox
through :meth:`Outbox.sibling`), delivered from there like any other, and
written to the file as soon as there is room. The process ending (a power
loss, a crash, a stop) while the disk is still full loses those hits; past
the limit a hit is refused with :class:`OutboxFull`, which the pipeline
counts.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from underseal.encoding import b64d, b64e
from underseal_device.camera.errors import OutboxFull, StateError
from underseal_device.camera.hits import SealedHit

__all__ = ["MEMORY_LIMIT", "Outbox", "PendingHit"]

log = logging.getLogger(__name__)

MEMORY_LIMIT: Final = 2_000
"""Hits held in memory while the disk is full: about 8 MB with their crops."""

_FLUSH_CHUNK: Final = 100
"""Hits written per transaction when room returns (one fsync each, not one per hit)."""

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


def _no_room(error: sqlite3.Error) -> bool:
    """Whether SQLite failed for want of space (a full disk, or the page cap), not corruption."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR}


@dataclass(slots=True)
class _Held:
    hit: SealedHit
    attempts: int = 0
    refused: str | None = None


@dataclass(slots=True)
class _Memory:
    """Hits that found no room on disk, oldest first; one per outbox file, shared by threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    held: dict[bytes, _Held] = field(default_factory=dict)
    delivered: set[bytes] = field(default_factory=set)
    """Rows acknowledged (or dropped) that a full disk kept us from deleting yet."""
    refusals: dict[bytes, str] = field(default_factory=dict)
    """Rows the server refused for good that a full disk kept us from marking yet."""


class Outbox:
    """A SQLite outbox file. One connection per thread: :meth:`sibling` opens another.

    ``max_bytes`` caps the file (SQLite's ``max_page_count``), so the outbox
    cannot fill a disk the rest of the camera needs; past it, hits wait in
    memory as on a full disk.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        max_bytes: int | None = None,
        _memory: _Memory | None = None,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self.max_bytes = max_bytes
        self._memory = _memory or _Memory()
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL").fetchone()
            self._db.execute("PRAGMA synchronous=FULL")
            # A delivered hit must leave no trace: zero deleted rows in place
            # (see ``_forget`` for the WAL, which keeps old page images).
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute(_SCHEMA)
            if max_bytes is not None:
                (page,) = self._db.execute("PRAGMA page_size").fetchone()
                self._db.execute(f"PRAGMA max_page_count = {max(2, int(max_bytes) // page)}")
        except sqlite3.DatabaseError as error:
            if _no_room(error):  # opening a WAL database writes its -wal and -shm files
                raise StateError(
                    f"outbox {self.path} cannot be opened: no room on its disk "
                    f"({getattr(error, 'sqlite_errorname', error)}); free some space"
                ) from None
            raise StateError(f"outbox {self.path} cannot be opened: {error}") from None
        self.path.chmod(0o600)

    def sibling(self) -> Outbox:
        """Another connection to this outbox, for another thread, sharing the hits in memory."""
        return Outbox(self.path, clock=self._clock, max_bytes=self.max_bytes, _memory=self._memory)

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r})"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def put(self, hit: SealedHit) -> bool:
        """Queue a hit; False if a hit with this record id was already queued.

        Durable when it returns, unless the disk is full: then the hit waits
        in memory (see :attr:`in_memory`) until :meth:`flush` finds room.

        Raises:
            OutboxFull: the disk is full and :data:`MEMORY_LIMIT` hits already wait.
        """
        self.flush()
        with self._memory.lock:
            if hit.record_id in self._memory.held:
                return False
            if not self._memory.held:
                try:
                    return self._insert(hit)
                except sqlite3.Error as error:
                    if not _no_room(error):
                        raise
                    log.warning(
                        "outbox: no room on disk (%s); hits wait in memory until there is",
                        getattr(error, "sqlite_errorname", type(error).__name__),
                    )
            if len(self._memory.held) >= MEMORY_LIMIT:
                raise OutboxFull(
                    f"the disk holding {self.path} is full and {MEMORY_LIMIT} hits already wait "
                    "in memory: this hit is lost"
                )
            if self._queued(hit.record_id):
                return False
            self._memory.held[hit.record_id] = _Held(hit)
            return True

    def _insert(self, hit: SealedHit, attempts: int = 0, refused: str | None = None) -> bool:
        alerts = json.dumps([[d, b64e(a)] for d, a in hit.alerts])
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO outbox (record_id, epoch, record, alerts, queued_at, "
            "attempts, refused) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (hit.record_id, hit.epoch, hit.record, alerts, self._clock(), attempts, refused),
        )
        return cursor.rowcount == 1

    def _queued(self, record_id: bytes) -> bool:
        sql = "SELECT 1 FROM outbox WHERE record_id = ?"
        return self._db.execute(sql, (record_id,)).fetchone() is not None

    @property
    def in_memory(self) -> int:
        """Hits waiting in memory for room on disk (lost if the process ends before that)."""
        return len(self._memory.held)

    def flush(self) -> int:
        """Write hits waiting in memory to the file, oldest first, while there is room.

        Returns how many were written.
        """
        memory = self._memory
        if not (memory.held or memory.delivered or memory.refusals):  # the common case: no lock
            return 0
        written = 0
        with memory.lock:
            try:
                self._delete(list(memory.delivered))
                memory.delivered.clear()
                with self._transaction():
                    for record_id, code in memory.refusals.items():
                        sql = "UPDATE outbox SET refused = ? WHERE record_id = ?"
                        self._db.execute(sql, (code, record_id))
                memory.refusals.clear()
            except sqlite3.Error as error:
                if not _no_room(error):
                    raise
                return 0  # still no room: nothing else would fit either
            waiting = list(memory.held.items())
            size = _FLUSH_CHUNK
            while waiting:
                chunk = waiting[:size]
                try:
                    with self._transaction():
                        for _, held in chunk:
                            self._insert(held.hit, held.attempts, held.refused)
                except sqlite3.Error as error:
                    if not _no_room(error):
                        raise
                    if size == 1:
                        break
                    size = 1  # room for some: write them one by one
                    continue
                for record_id, _ in chunk:
                    del memory.held[record_id]
                waiting = waiting[len(chunk) :]
                written += len(chunk)
            if written and not memory.held:
                log.warning("outbox: room on disk again; every hit held in memory is written")
        return written

    def pending(self, limit: int = 100) -> list[PendingHit]:
        """The oldest hits not yet acknowledged (and not refused by the server).

        Hits on disk come first, then those waiting in memory (they are newer).
        """
        self.flush()
        # Under the lock: a hit another thread's flush moves to disk is seen once.
        with self._memory.lock:
            gone = self._memory.delivered | self._memory.refusals.keys()
            held = [h for h in self._memory.held.values() if h.refused is None]
            rows = self._db.execute(
                "SELECT record_id, epoch, record, alerts, attempts, refused FROM outbox "
                "WHERE refused IS NULL ORDER BY queued_at, record_id LIMIT ?",
                (limit + len(gone),),
            ).fetchall()
        found = [self._row(row) for row in rows if bytes(row[0]) not in gone][:limit]
        found += [PendingHit(h.hit, h.attempts, None) for h in held[: limit - len(found)]]
        return found

    def refused(self) -> list[PendingHit]:
        """Hits the server refused for good (kept for the operator; see ``retry_refused``)."""
        rows = self._db.execute(
            "SELECT record_id, epoch, record, alerts, attempts, refused FROM outbox "
            "WHERE refused IS NOT NULL ORDER BY queued_at, record_id"
        ).fetchall()
        with self._memory.lock:
            held = [h for h in self._memory.held.values() if h.refused is not None]
            marked = dict(self._memory.refusals)
        pending = (
            self._db.execute(
                "SELECT record_id, epoch, record, alerts, attempts, refused FROM outbox "
                "WHERE refused IS NULL ORDER BY queued_at, record_id"
            ).fetchall()
            if marked
            else []
        )
        unmarked = [
            PendingHit(p.hit, p.attempts, marked[p.hit.record_id])
            for p in map(self._row, pending)
            if p.hit.record_id in marked
        ]
        return (
            [self._row(row) for row in rows]
            + unmarked
            + [PendingHit(h.hit, h.attempts, h.refused) for h in held]
        )

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
        """Remove delivered hits (the server stored them); returns how many were removed.

        On a full disk even a delete can fail: the rows then stay, are sent
        again later, and the server acknowledges them as duplicates.
        """
        removed = self._release(record_ids)
        try:
            return removed + self._delete(record_ids)
        except sqlite3.Error as error:
            if not _no_room(error):
                raise
        # Not sent again while this process lives; after a restart they would be,
        # and the server would acknowledge them as duplicates.
        log.warning("outbox: no room on disk to remove hits that left the queue; removed later")
        on_disk = [r for r in record_ids if self._queued(r)]
        with self._memory.lock:
            self._memory.delivered.update(on_disk)
        return removed + len(on_disk)

    def _delete(self, record_ids: list[bytes]) -> int:
        """Delete these rows in one transaction; how many there were."""
        deleted = 0
        if record_ids:
            with self._transaction():
                for record_id in record_ids:
                    sql = "DELETE FROM outbox WHERE record_id = ?"
                    deleted += self._db.execute(sql, (record_id,)).rowcount
        if deleted:
            self._forget()
        return deleted

    def _release(self, record_ids: list[bytes]) -> int:
        with self._memory.lock:
            return sum(self._memory.held.pop(r, None) is not None for r in record_ids)

    def attempted(self, record_ids: list[bytes]) -> None:
        """Count one more failed delivery attempt (advisory: skipped on a full disk)."""
        with self._memory.lock:
            for record_id in record_ids:
                if record_id in self._memory.held:
                    self._memory.held[record_id].attempts += 1
        try:
            with self._transaction():
                for record_id in record_ids:
                    self._db.execute(
                        "UPDATE outbox SET attempts = attempts + 1 WHERE record_id = ?",
                        (record_id,),
                    )
        except sqlite3.Error as error:
            if not _no_room(error):
                raise

    def refuse(self, record_id: bytes, code: str) -> None:
        """Mark a hit the server refused for good (it is no longer sent).

        On a full disk the mark waits in memory and is written with the rest.
        """
        with self._memory.lock:
            if record_id in self._memory.held:
                self._memory.held[record_id].refused = code
                return
            try:
                sql = "UPDATE outbox SET refused = ? WHERE record_id = ?"
                self._db.execute(sql, (code, record_id))
            except sqlite3.Error as error:
                if not _no_room(error):
                    raise
                self._memory.refusals[record_id] = code

    def drop(self, record_id: bytes) -> None:
        """Delete a hit that can never be delivered (its epoch's key is destroyed)."""
        self.acknowledge([record_id])  # the same leaving of the queue, full disk included

    def _forget(self) -> None:
        """Push deletions into the database file and empty the WAL.

        The WAL still holds the page images written when a hit was queued;
        a checkpoint copies the zeroed pages into the database file and
        TRUNCATE cuts the WAL to zero bytes. (What the storage device keeps
        of freed blocks is beyond SQLite: run cameras on encrypted storage.)
        """
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as error:
            if not _no_room(error):
                raise

    def retry_refused(self) -> int:
        """Put refused hits back in the queue (after the operator fixed the cause)."""
        with self._memory.lock:
            held = [h for h in self._memory.held.values() if h.refused is not None]
            for h in held:
                h.refused = None
            marked = len(self._memory.refusals)
            self._memory.refusals.clear()
        sql = "UPDATE outbox SET refused = NULL WHERE refused IS NOT NULL"
        return len(held) + marked + self._db.execute(sql).rowcount

    def depth(self) -> int:
        """Hits waiting (refused ones and those in memory included)."""
        (n,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(n) - len(self._memory.delivered) + self.in_memory

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            if kind is None:
                self._db.execute("COMMIT")
                return
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        if self._db.in_transaction:  # SQLite may have rolled back already (a full disk)
            self._db.execute("ROLLBACK")
