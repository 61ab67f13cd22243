"""Database engines: SQLite by default, PostgreSQL when a URL names it.

SQLite runs in WAL mode with ``secure_delete`` on, so that deleted rows
(destroyed key shares, dropped ciphertexts) are overwritten with zeros in the
file rather than left in free pages; retention then checkpoints the WAL and
vacuums (see ``erase_free_space``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Table, event, make_url, text
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

__all__ = ["create_schema", "erase_free_space", "is_sqlite", "make_engine", "session_scope"]

CONNECT_TIMEOUT_SECONDS = 10
"""PostgreSQL: give up on a connection attempt after this long (unless the URL says otherwise)."""


def is_sqlite(engine: Engine) -> bool:
    """True for SQLite engines."""
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the pragmas and pool the services rely on."""
    if url.startswith("sqlite"):
        memory = url in {"sqlite://", "sqlite:///:memory:"}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            poolclass=StaticPool if memory else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pool_pre_ping: a connection a database restart cut is noticed at checkout and
    # replaced, so the service serves again once the database is back, unrestarted.
    # connect_timeout: an unreachable database is an error (503), not a hung request.
    connect_args = (
        {}
        if "connect_timeout" in make_url(url).query
        else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    )
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args
    )


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",
        "foreign_keys=ON",
        "secure_delete=ON",
        "busy_timeout=10000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def create_schema(engine: Engine, tables: Sequence[Table]) -> None:
    """Create a service's tables (its migrations' first revision does the same)."""
    SQLModel.metadata.create_all(engine, tables=list(tables))


_WRITERS: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


def _writer_lock(engine: Engine) -> threading.RLock:
    with _WRITERS_GUARD:
        lock = _WRITERS.get(engine)
        if lock is None:
            lock = _WRITERS[engine] = threading.RLock()
        return lock


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One transaction: committed if the block ends normally, rolled back otherwise.

    On SQLite, transactions of one process take turns on a lock: SQLite
    admits one writer at a time anyway, and its busy handler retries with
    growing sleeps (up to 100 ms), which under concurrency turns into a long
    and unfair latency tail. PostgreSQL runs them concurrently. Read-only
    scopes (``write=False``) never wait: WAL readers do not block.
    """
    lock = _writer_lock(engine) if write and is_sqlite(engine) else nullcontext()
    with lock, Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def erase_free_space(engine: Engine) -> None:
    """Make deleted bytes unrecoverable from the database files.

    SQLite: ``secure_delete`` zeroes freed pages; checkpointing the WAL with
    TRUNCATE and VACUUM rewrite the file so no old page survives anywhere.
    PostgreSQL: VACUUM FULL rewrites the tables into new files; then two
    checkpoints around a WAL switch retire the WAL segments that still hold
    the deleted rows. With ``wal_recycle = off`` (required for custodians,
    see docs/server.md) retired segments are removed, not renamed for reuse.
    Replicas and base backups follow their own retention, which the
    deployment guide sets no longer than ours. Needs the ``pg_checkpoint``
    role (PostgreSQL 15+) or superuser.
    """
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        if is_sqlite(engine):
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            connection.execute(text("VACUUM"))
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        else:
            connection.execute(text("VACUUM FULL"))
            connection.execute(text("CHECKPOINT"))
            connection.execute(text("SELECT pg_switch_wal()"))
            connection.execute(text("CHECKPOINT"))
