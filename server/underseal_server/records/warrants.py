"""Warrants: an investigator asks, a court signs or denies, the server finds records by token.

The server never opens a record. It finds the records in a warrant's scope
by their match tokens (tokens of the scope's plates under each day's token
key) and hands the investigator ciphertexts, which only t custodians'
partial decryptions can open. Each custodian checks the warrant and the
scope again on its own. Every step is an audit entry with who, when, the
case and the purpose; the plates queried are sealed to the oversight key
(California Civil Code §1798.90.52 asks for the query terms in the log),
never written in clear.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from nacl.signing import VerifyKey
from pydantic import Field
from sqlalchemy import delete
from sqlmodel import Session, col, select

from underseal.encoding import b64d, b64e, canonical_json
from underseal.epochs import epoch_of
from underseal.errors import Malformed
from underseal.warrant import MAX_PLATES, MAX_RECORDS_LIMIT, Warrant, WarrantScope, verify_warrant
from underseal_server import auditlog
from underseal_server.api_errors import ApiError
from underseal_server.db import session_scope
from underseal_server.identity import Principal
from underseal_server.oversight import sealed_terms
from underseal_server.records.camera_api import token_key_of
from underseal_server.records.models import (
    Court,
    EpochKey,
    HeldEscrow,
    Record,
    RecordHold,
    WarrantRequest,
)
from underseal_server.records.state import CourtCaller, Investigator, Server, ServerState
from underseal_server.retention import expired_epochs_before
from underseal_server.schemas import Identifier, Strict

__all__ = ["in_scope", "router"]

router = APIRouter(prefix="/v1", tags=["warrants"])


class RequestIn(Strict):
    id: Identifier
    case: str = Field(min_length=1, max_length=500)
    purpose: str = Field(min_length=1, max_length=500)
    plates: list[str] = Field(min_length=1, max_length=MAX_PLATES)
    time_from: int = Field(ge=0, lt=1 << 40)
    time_to: int = Field(ge=0, lt=1 << 40)
    cameras: list[Identifier] | None = None
    max_records: int = Field(ge=1, le=MAX_RECORDS_LIMIT)
    legal_hold: bool = False


class RequestOut(Strict):
    id: str
    investigator: str
    case: str
    purpose: str
    status: str
    requested_at: int
    court_id: str | None
    decided_at: int | None
    denial: str | None
    draft: str
    warrant: str | None
    records_released: int


class GrantIn(Strict):
    warrant: str = Field(max_length=1 << 20)


class DenyIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


class SearchOut(Strict):
    warrant_id: str
    records: list[str]
    certificates: dict[str, str]
    truncated: bool


def _sealed_terms(server: ServerState, terms: dict[str, object]) -> dict[str, str]:
    return sealed_terms(server.settings.oversight_box_key, terms)


def _out(row: WarrantRequest) -> RequestOut:
    return RequestOut(
        **row.model_dump(exclude={"draft", "warrant"}),
        draft=b64e(row.draft),
        warrant=None if row.warrant is None else b64e(row.warrant),
    )


def _get(session: Session, request_id: str) -> WarrantRequest:
    row = session.get(WarrantRequest, request_id)
    if row is None:
        raise ApiError(404, "not_found", "no warrant request with this id")
    return row


@router.post("/warrant-requests", status_code=201)
def file_request(body: RequestIn, server: Server, investigator: Investigator) -> RequestOut:
    """File a request for a warrant; a court will sign or deny it."""
    now = server.clock()
    try:
        scope = WarrantScope(
            plates=tuple(body.plates),
            time_from=body.time_from,
            time_to=body.time_to,
            cameras=None if body.cameras is None else tuple(body.cameras),
            purpose=body.purpose,
        )
    except ValueError:
        raise ApiError(
            422,
            "invalid_scope",
            "scope plates must be canonical and unique, and the window must end after it starts",
        ) from None
    draft = {
        "case": body.case,
        "scope": scope.model_dump(mode="python"),
        "max_records": body.max_records,
        "legal_hold": body.legal_hold,
    }
    row = WarrantRequest(
        id=body.id,
        investigator=investigator.id,
        case=body.case,
        purpose=body.purpose,
        draft=canonical_json(draft),
        requested_at=now,
        status="requested",
    )
    with session_scope(server.engine) as session:
        if session.get(WarrantRequest, body.id) is not None:
            raise ApiError(409, "exists", "a warrant request with this id exists")
        session.add(row)
        auditlog.append(
            session,
            kind="warrant.request",
            actor=investigator.id,
            now=now,
            details={
                "request": body.id,
                "agency": investigator.agency,
                "purpose": body.purpose,
                "plates": len(body.plates),
                **_sealed_terms(server, {"plates": body.plates, "case": body.case}),
            },
        )
    return _out(row)


@router.get("/warrant-requests")
def list_requests(
    server: Server,
    caller: CourtCaller,
    status: Annotated[str | None, Query(pattern="^(requested|granted|denied)$")] = None,
) -> list[RequestOut]:
    """Requests for the court to decide (courts with an enrolled key only)."""
    with session_scope(server.engine, write=False) as session:
        _court_key(session, caller)
        query = select(WarrantRequest)
        if status is not None:
            query = query.where(WarrantRequest.status == status)
        rows = session.exec(query.order_by(col(WarrantRequest.requested_at))).all()
    return [_out(r) for r in rows]


@router.get("/warrant-requests/{request_id}")
def get_request(request_id: Identifier, server: Server, investigator: Investigator) -> RequestOut:
    """The investigator's own request and, once granted, its signed warrant."""
    with session_scope(server.engine) as session:
        row = _get(session, request_id)
    if row.investigator != investigator.id:
        raise ApiError(404, "not_found", "no warrant request with this id")
    return _out(row)


def _court_key(session: Session, court: Principal) -> dict[str, VerifyKey]:
    row = session.get(Court, court.id)
    if row is None:
        raise ApiError(403, "unknown_court", "this court account has no enrolled signing key")
    return {row.id: VerifyKey(row.verify_key)}


@router.post("/warrant-requests/{request_id}/grant")
def grant(request_id: Identifier, body: GrantIn, server: Server, court: CourtCaller) -> RequestOut:
    """File the court's signed warrant for a request (its id must be the request's)."""
    now = server.clock()
    with session_scope(server.engine) as session:
        row = _get(session, request_id)
        if row.status != "requested":
            raise ApiError(409, "decided", "this request was already decided")
        data = b64d(body.warrant, field="warrant")
        warrant = verify_warrant(data, courts=_court_key(session, court), now=now)
        if warrant.id != row.id:
            raise ApiError(422, "wrong_warrant", "the warrant's id is not the request's id")
        if warrant.investigator != row.investigator:
            raise ApiError(422, "wrong_warrant", "the warrant names another investigator")
        row.status, row.court_id, row.decided_at, row.warrant = "granted", court.id, now, data
        session.add(row)
        auditlog.append(
            session,
            kind="warrant.grant",
            actor=court.id,
            now=now,
            details={
                "request": row.id,
                "purpose": warrant.scope.purpose,
                "not_after": warrant.not_after,
                "max_records": warrant.max_records,
                "legal_hold": warrant.legal_hold,
                "plates": len(warrant.scope.plates),
                **_sealed_terms(server, {"case": warrant.case}),
            },
        )
    return _out(row)


@router.post("/warrant-requests/{request_id}/deny")
def deny(request_id: Identifier, body: DenyIn, server: Server, court: CourtCaller) -> RequestOut:
    """Deny a request, with the court's reason."""
    now = server.clock()
    with session_scope(server.engine) as session:
        row = _get(session, request_id)
        if row.status != "requested":
            raise ApiError(409, "decided", "this request was already decided")
        _court_key(session, court)
        row.status, row.court_id, row.decided_at, row.denial = "denied", court.id, now, body.reason
        session.add(row)
        auditlog.append(
            session,
            kind="warrant.deny",
            actor=court.id,
            now=now,
            details={"request": row.id, "reason": body.reason},
        )
    return _out(row)


def in_scope(
    session: Session, warrant: Warrant, limit: int, *, horizon: int
) -> tuple[list[Record], bool]:
    """The first ``limit`` records in the warrant's scope, and whether the scope holds more.

    In scope: token, day and camera; first: oldest, by epoch, time received
    and record id. Epochs below ``horizon`` are past retention: never
    searched, even before the scheduled run has deleted them. At most
    ``limit + 1`` records are loaded, however many the scope holds.
    """
    scope = warrant.scope
    first, last = max(epoch_of(scope.time_from), horizon), epoch_of(scope.time_to - 1)
    epochs = session.exec(
        select(EpochKey)
        .where(
            col(EpochKey.epoch) >= first,
            col(EpochKey.epoch) <= last,
            col(EpochKey.token_key).is_not(None),
        )
        .order_by(col(EpochKey.epoch))
    ).all()
    found: list[Record] = []
    for epoch in epochs:
        # One record more than the limit tells whether the scope holds more.
        wanted = limit + 1 - len(found)
        if wanted <= 0:
            break
        key = token_key_of(epoch)
        tokens = [key.token(p) for p in scope.plates]
        query = select(Record).where(
            Record.epoch == epoch.epoch, col(Record.match_token).in_(tokens)
        )
        if scope.cameras is not None:
            query = query.where(col(Record.camera_id).in_(scope.cameras))
        query = query.order_by(col(Record.received_at), col(Record.record_id)).limit(wanted)
        found.extend(session.exec(query).all())
    return found[:limit], len(found) > limit


@router.post("/warrants/{warrant_id}/search")
def search(warrant_id: Identifier, server: Server, investigator: Investigator) -> SearchOut:
    """The sealed records in scope of a granted warrant (at most its record limit)."""
    now = server.clock()
    with session_scope(server.engine) as session:
        row = _get(session, warrant_id)
        if row.investigator != investigator.id:
            raise ApiError(404, "not_found", "no warrant request with this id")
        if row.status != "granted" or row.warrant is None or row.court_id is None:
            raise ApiError(409, "not_granted", "this request has no granted warrant")
        court = session.get(Court, row.court_id)
        assert court is not None
        try:
            warrant = verify_warrant(
                row.warrant, courts={court.id: VerifyKey(court.verify_key)}, now=now
            )
        except Malformed as error:
            raise ApiError(500, "corrupt", error.message) from None
        horizon = expired_epochs_before(now, server.settings.retention)
        records, truncated = in_scope(session, warrant, warrant.max_records, horizon=horizon)
        epochs = {r.epoch for r in records}
        certificates = {
            str(e.epoch): b64e(e.certificate)
            for e in session.exec(select(EpochKey).where(col(EpochKey.epoch).in_(epochs))).all()
        }
        row.records_released = max(row.records_released, len(records))
        session.add(row)
        auditlog.append(
            session,
            kind="warrant.search",
            actor=investigator.id,
            now=now,
            details={
                "warrant": warrant.id,
                "agency": investigator.agency,
                "purpose": warrant.scope.purpose,
                "records": len(records),
                "legal_hold": warrant.legal_hold,
                **_sealed_terms(
                    server,
                    {
                        "plates": list(warrant.scope.plates),
                        "case": warrant.case,
                        "records": [b64e(r.record_id) for r in records],
                    },
                ),
            },
        )
    return SearchOut(
        warrant_id=warrant.id,
        records=[b64e(r.data) for r in records],
        certificates=certificates,
        truncated=truncated,
    )


# --- legal hold --------------------------------------------------------------------------


class EscrowIn(Strict):
    record_id: str = Field(max_length=32)
    custodian_index: int = Field(ge=1, le=64)
    sealed: str = Field(max_length=4096)


class EscrowsIn(Strict):
    escrows: list[EscrowIn] = Field(min_length=1, max_length=64 * 1000)


class EscrowsOut(Strict):
    stored: int


class HeldOut(Strict):
    warrant_id: str
    records: list[str]
    escrows: dict[str, dict[str, str]]
    certificates: dict[str, str]


def _granted_hold(session: Session, warrant_id: str, investigator_id: str) -> WarrantRequest:
    row = _get(session, warrant_id)
    if row.investigator != investigator_id:
        raise ApiError(404, "not_found", "no warrant request with this id")
    if row.status != "granted" or row.warrant is None:
        raise ApiError(409, "not_granted", "this request has no granted warrant")
    return row


@router.post("/warrants/{warrant_id}/escrows")
def store_escrows(
    warrant_id: Identifier, body: EscrowsIn, server: Server, investigator: Investigator
) -> EscrowsOut:
    """Hold records under a legal-hold warrant, with custodians' escrowed partials (all or none).

    The investigator's client sends escrows only for records that opened and
    that the exact scope covers; each must also be in the warrant's search
    scope here. A record is held from its first escrow on.
    """
    now = server.clock()
    with session_scope(server.engine) as session:
        row = _granted_hold(session, warrant_id, investigator.id)
        court = session.get(Court, row.court_id or "")
        assert court is not None
        assert row.warrant is not None
        warrant = verify_warrant(
            row.warrant, courts={court.id: VerifyKey(court.verify_key)}, now=now
        )
        if not warrant.legal_hold:
            raise ApiError(409, "no_legal_hold", "this warrant does not order a legal hold")
        horizon = expired_epochs_before(now, server.settings.retention)
        allowed = {
            r.record_id for r in in_scope(session, warrant, warrant.max_records, horizon=horizon)[0]
        }
        held = set(
            session.exec(
                select(RecordHold.record_id).where(RecordHold.warrant_id == warrant_id)
            ).all()
        )
        stored = 0
        for number, escrow in enumerate(body.escrows):
            record_id = b64d(escrow.record_id, size=16, field="record_id")
            if record_id not in allowed:
                raise ApiError(
                    422, "not_in_scope", f"escrow {number} is for a record outside the warrant"
                )
            if record_id not in held:
                session.add(RecordHold(record_id=record_id, warrant_id=warrant_id, held_at=now))
                held.add(record_id)
            exists = session.exec(
                select(HeldEscrow).where(
                    HeldEscrow.record_id == record_id,
                    HeldEscrow.warrant_id == warrant_id,
                    HeldEscrow.custodian_index == escrow.custodian_index,
                )
            ).first()
            if exists is None:
                session.add(
                    HeldEscrow(
                        record_id=record_id,
                        warrant_id=warrant_id,
                        custodian_index=escrow.custodian_index,
                        sealed=b64d(escrow.sealed, field="escrow"),
                        received_at=now,
                    )
                )
                stored += 1
        auditlog.append(
            session,
            kind="hold.escrow",
            actor=investigator.id,
            now=now,
            details={"warrant": warrant_id, "escrows": stored, "records_held": len(held)},
        )
    return EscrowsOut(stored=stored)


@router.get("/warrants/{warrant_id}/held")
def held(warrant_id: Identifier, server: Server, investigator: Investigator) -> HeldOut:
    """Records held for this warrant, their escrows, and their epochs' public certificates."""
    with session_scope(server.engine, write=False) as session:
        _granted_hold(session, warrant_id, investigator.id)
        ids = list(
            session.exec(
                select(RecordHold.record_id).where(RecordHold.warrant_id == warrant_id)
            ).all()
        )
        records = session.exec(select(Record).where(col(Record.record_id).in_(ids))).all()
        escrows: dict[str, dict[str, str]] = {b64e(i): {} for i in ids}
        for escrow in session.exec(
            select(HeldEscrow).where(HeldEscrow.warrant_id == warrant_id)
        ).all():
            escrows[b64e(escrow.record_id)][str(escrow.custodian_index)] = b64e(escrow.sealed)
        epochs = {r.epoch for r in records}
        certificates = {
            str(e.epoch): b64e(e.certificate)
            for e in session.exec(select(EpochKey).where(col(EpochKey.epoch).in_(epochs))).all()
        }
    return HeldOut(
        warrant_id=warrant_id,
        records=[b64e(r.data) for r in records],
        escrows=escrows,
        certificates=certificates,
    )


class ReleaseOut(Strict):
    warrant_id: str
    released: int


@router.post("/warrant-requests/{request_id}/release-hold")
def release_hold(request_id: Identifier, server: Server, court: CourtCaller) -> ReleaseOut:
    """End a warrant's legal hold (the court that granted it): its escrows go at once, and
    its records at the next retention run if their epoch is past retention and no other
    warrant holds them."""
    now = server.clock()
    with session_scope(server.engine) as session:
        row = _get(session, request_id)
        if row.status != "granted" or row.court_id != court.id:
            raise ApiError(403, "not_your_warrant", "only the court that granted it may release it")
        holds = session.exec(select(RecordHold).where(RecordHold.warrant_id == request_id)).all()
        for hold in holds:
            session.delete(hold)
        session.exec(delete(HeldEscrow).where(col(HeldEscrow.warrant_id) == request_id))
        auditlog.append(
            session,
            kind="hold.release",
            actor=court.id,
            now=now,
            details={"warrant": request_id, "records": len(holds)},
        )
    return ReleaseOut(warrant_id=request_id, released=len(holds))
