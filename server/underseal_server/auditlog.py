"""The append-only audit log each service keeps: RFC 6962 Merkle tree, signed checkpoints.

An entry is appended in the same transaction as the change it records, so
a change without its entry (or the other way round) cannot be committed.
The tree's frontier is stored beside the entries; appending locks it, which
orders appends across processes on PostgreSQL as SQLite's writer lock does.
Entries never hold a plate, token or secret in clear: the caller passes
only identifiers, counts, reasons and sealed blobs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy import Engine, LargeBinary
from sqlalchemy.exc import IntegrityError
from sqlmodel import Column, Field, Session, SQLModel, select

from underseal.encoding import canonical_json, parse_canonical_json
from underseal.merkle import (
    Checkpoint,
    Frontier,
    consistency_proof,
    entry_leaf,
    inclusion_proof,
    sign_checkpoint,
)
from underseal_server.api_errors import ApiError

__all__ = [
    "AuditEntry",
    "AuditState",
    "append",
    "checkpoint",
    "entries",
    "initialise",
    "lock",
    "proof",
]


class AuditEntry(SQLModel, table=True):
    """One leaf: ``data`` is the canonical JSON that was hashed."""

    __tablename__ = "audit_entry"

    seq: int = Field(primary_key=True)
    time: int = Field(index=True)
    kind: str = Field(max_length=64, index=True)
    actor: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AuditState(SQLModel, table=True):
    """The single row holding the tree's frontier (size and O(log n) subtree roots)."""

    __tablename__ = "audit_state"

    id: int = Field(default=1, primary_key=True)
    frontier: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


def initialise(engine: Engine) -> None:
    """Create the frontier row once, so that every append finds a row to lock.

    Without it, two first-ever appends on PostgreSQL would both insert it.
    """
    with Session(engine) as session:
        if session.get(AuditState, 1) is None:
            session.add(AuditState(id=1, frontier=Frontier().to_bytes()))
            try:
                session.commit()
            except IntegrityError:  # another process created it first
                session.rollback()


def lock(session: Session) -> None:
    """Take the log's lock now: a transaction that must not interleave with another's
    (a custodian counting records against a warrant's limit) serialises on it."""
    session.exec(select(AuditState).where(AuditState.id == 1).with_for_update()).first()


def append(session: Session, *, kind: str, actor: str, now: int, details: Mapping[str, Any]) -> int:
    """Append an entry in ``session``'s transaction; returns its index."""
    state = session.exec(select(AuditState).where(AuditState.id == 1).with_for_update()).first()
    frontier = Frontier() if state is None else Frontier.from_bytes(state.frontier)
    seq = frontier.size
    entry = {"seq": seq, "time": now, "kind": kind, "actor": actor, "details": dict(details)}
    leaf = entry_leaf(entry)
    frontier.append(leaf)
    session.add(
        AuditEntry(seq=seq, time=now, kind=kind, actor=actor, data=canonical_json(entry), leaf=leaf)
    )
    if state is None:
        session.add(AuditState(id=1, frontier=frontier.to_bytes()))
    else:
        state.frontier = frontier.to_bytes()
        session.add(state)
    return seq


def _frontier(session: Session) -> Frontier:
    state = session.get(AuditState, 1)
    return Frontier() if state is None else Frontier.from_bytes(state.frontier)


def checkpoint(session: Session, *, log_id: str, key: SigningKey, now: int) -> bytes:
    """A freshly signed checkpoint of the whole log."""
    frontier = _frontier(session)
    return sign_checkpoint(
        Checkpoint(log_id=log_id, size=frontier.size, root=frontier.root(), timestamp=now), key
    ).to_bytes()


def entries(session: Session, *, start: int, limit: int) -> list[dict[str, Any]]:
    """Entries ``start .. start+limit-1`` as the JSON that was hashed."""
    rows = session.exec(
        select(AuditEntry)
        .where(AuditEntry.seq >= start)
        .order_by(AuditEntry.seq)  # type: ignore[arg-type]
        .limit(limit)
    ).all()
    return [json.loads(parse_and_keep(row.data)) for row in rows]


def parse_and_keep(data: bytes) -> bytes:
    """Check stored bytes still parse as canonical JSON (a corrupt row is an error)."""
    parse_canonical_json(data, what="audit entry")
    return data


def _leaves(session: Session, size: int) -> Sequence[bytes]:
    rows = session.exec(
        select(AuditEntry.leaf).where(AuditEntry.seq < size).order_by(AuditEntry.seq)  # type: ignore[arg-type]
    ).all()
    return list(rows)


def proof(session: Session, *, kind: str, first: int, size: int) -> list[bytes]:
    """An inclusion proof of leaf ``first`` or a consistency proof from size ``first``.

    Raises:
        ApiError: 400 ``bad_range`` when the numbers do not fit the log.
    """
    current = _frontier(session).size
    if not 0 < size <= current:
        raise ApiError(400, "bad_range", "tree size must be between 1 and the log's size")
    leaves = _leaves(session, size)
    if kind == "inclusion":
        if not 0 <= first < size:
            raise ApiError(400, "bad_range", "leaf index must be below the tree size")
        return inclusion_proof(leaves, first)
    if not 0 < first <= size:
        raise ApiError(400, "bad_range", "old size must be between 1 and the new size")
    return consistency_proof(leaves, first)
