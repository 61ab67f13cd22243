"""The audit log's public endpoints, served by the records server and by each custodian."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from nacl.signing import SigningKey
from sqlalchemy import Engine

from underseal.encoding import b64e
from underseal_server import auditlog
from underseal_server.clock import Clock
from underseal_server.db import session_scope
from underseal_server.schemas import Strict

__all__ = ["LogHost", "router"]


@dataclass(frozen=True, slots=True)
class LogHost:
    """What the log endpoints need from the service that serves them."""

    log_id: str
    engine: Engine
    clock: Clock
    key: SigningKey

    def __repr__(self) -> str:
        return f"LogHost({self.log_id!r})"


def _host(request: Request) -> LogHost:
    host: LogHost = request.app.state.log_host
    return host


Host = Annotated[LogHost, Depends(_host)]
router = APIRouter(prefix="/v1/log", tags=["audit log"])


class CheckpointOut(Strict):
    checkpoint: str
    log_key: str


class ProofOut(Strict):
    proof: list[str]


@router.get("/checkpoint")
def checkpoint(host: Host) -> CheckpointOut:
    """A freshly signed checkpoint (size, root, time) and the key that signs them."""
    with session_scope(host.engine, write=False) as session:
        signed = auditlog.checkpoint(session, log_id=host.log_id, key=host.key, now=host.clock())
    return CheckpointOut(checkpoint=b64e(signed), log_key=b64e(bytes(host.key.verify_key)))


@router.get("/entries")
def entries(
    host: Host,
    start: Annotated[int, Query(ge=0, lt=1 << 63)] = 0,  # SQL integers are 64-bit
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Entries from ``start``, exactly as hashed into the tree."""
    with session_scope(host.engine, write=False) as session:
        return auditlog.entries(session, start=start, limit=limit)


@router.get("/proof/inclusion")
def inclusion(
    host: Host, index: Annotated[int, Query(ge=0)], size: Annotated[int, Query(ge=1)]
) -> ProofOut:
    """Audit path of leaf ``index`` in the tree of ``size`` leaves."""
    with session_scope(host.engine, write=False) as session:
        path = auditlog.proof(session, kind="inclusion", first=index, size=size)
    return ProofOut(proof=[b64e(h) for h in path])


@router.get("/proof/consistency")
def consistency(
    host: Host, old: Annotated[int, Query(ge=1)], new: Annotated[int, Query(ge=1)]
) -> ProofOut:
    """Proof that the tree of ``old`` leaves is a prefix of the tree of ``new``."""
    with session_scope(host.engine, write=False) as session:
        path = auditlog.proof(session, kind="consistency", first=old, size=new)
    return ProofOut(proof=[b64e(h) for h in path])
