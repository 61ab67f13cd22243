"""``create_app(settings)``: one key custodian as a FastAPI app.

The custodian trusts nothing the records server says: it keeps its own
registry of courts and cameras, verifies each warrant and each record's
camera signature itself, checks the scope with the epoch's token key, and
counts the records it has answered against the warrant's limit. Refusals
are logged too (an officer fishing for records leaves a trace).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey, VerifyKey
from pydantic import Field
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from underseal.custody import partial_for_warrant
from underseal.encoding import b64d, b64e, canonical_json, parse_canonical_json
from underseal.epochs import endorse
from underseal.errors import UndersealError
from underseal.hold import seal_escrow
from underseal.sealed import SealedRecord
from underseal.threshold import KeyShare, open_share
from underseal.token_delivery import open_token_key
from underseal.tokens import TokenKey, TokenScheme
from underseal.warrant import SignedWarrant, verify_warrant
from underseal_server import auditlog
from underseal_server.api_errors import ApiError, install_error_handlers
from underseal_server.body_limit import BodyLimit
from underseal_server.clock import Clock, OffsetFileClock, system_clock
from underseal_server.custodian.models import (
    CustodianCamera,
    CustodianCourt,
    DestroyedEpoch,
    Share,
    WarrantUse,
)
from underseal_server.custodian.settings import CustodianSettings
from underseal_server.db import erase_free_space, make_engine, session_scope
from underseal_server.identity import Principal, Role, issue_token, require
from underseal_server.log_api import LogHost
from underseal_server.log_api import router as log_router
from underseal_server.migrations import migrate
from underseal_server.oversight import sealed_terms
from underseal_server.retention import expired_epochs_before
from underseal_server.scheduler import retention_lifespan
from underseal_server.schemas import Identifier, Key32, Strict, decode_key

__all__ = ["CustodianState", "app_from_environment", "create_app", "destroy_expired"]


@dataclass(frozen=True, slots=True)
class CustodianState:
    """A running custodian: settings, engine, keys, clock."""

    settings: CustodianSettings
    engine: Engine
    clock: Clock
    signing: SigningKey
    box: PrivateKey
    dealer: VerifyKey

    def __repr__(self) -> str:
        return f"CustodianState({self.settings.custodian_id!r})"


def _state(request: Request) -> CustodianState:
    state: CustodianState = request.app.state.custodian
    return state


State = Annotated[CustodianState, Depends(_state)]
Admin = Annotated[Principal, Depends(require(Role.ADMINISTRATOR))]
Investigator = Annotated[Principal, Depends(require(Role.INVESTIGATOR))]
router = APIRouter(prefix="/v1")


# --- registry ------------------------------------------------------------------------


class PrincipalIn(Strict):
    id: Identifier
    role: Role = Field(strict=False)
    agency: str = Field(default="", max_length=200)


class PrincipalOut(Strict):
    id: str
    role: str
    token: str


class KeyIn(Strict):
    id: Identifier
    verify_key: Key32


@router.post("/principals", status_code=201, tags=["registry"])
def add_principal(body: PrincipalIn, state: State, admin: Admin) -> PrincipalOut:
    """Create an administrator or investigator account; returns its token once."""
    if body.role not in {Role.ADMINISTRATOR, Role.INVESTIGATOR}:
        raise ApiError(422, "bad_role", "a custodian has administrators and investigators only")
    now = state.clock()
    with session_scope(state.engine) as session:
        token = issue_token(
            session, principal_id=body.id, role=body.role, agency=body.agency, now=now
        )
        auditlog.append(
            session,
            kind="enrol.principal",
            actor=admin.id,
            now=now,
            details={"id": body.id, "role": body.role.value, "agency": body.agency},
        )
    return PrincipalOut(id=body.id, role=body.role.value, token=token)


@router.post("/courts", status_code=201, tags=["registry"])
def add_court(body: KeyIn, state: State, admin: Admin) -> KeyIn:
    """Register a court's warrant-signing key in this custodian's own registry."""
    now = state.clock()
    with session_scope(state.engine) as session:
        if session.get(CustodianCourt, body.id) is not None:
            raise ApiError(409, "exists", "this court is already registered")
        session.add(CustodianCourt(id=body.id, verify_key=decode_key(body.verify_key)))
        auditlog.append(
            session, kind="enrol.court", actor=admin.id, now=now, details=body.model_dump()
        )
    return body


@router.post("/cameras", status_code=201, tags=["registry"])
def add_camera(body: KeyIn, state: State, admin: Admin) -> KeyIn:
    """Register a camera's record-signing key."""
    now = state.clock()
    with session_scope(state.engine) as session:
        if session.get(CustodianCamera, body.id) is not None:
            raise ApiError(409, "exists", "this camera is already registered")
        session.add(CustodianCamera(id=body.id, verify_key=decode_key(body.verify_key)))
        auditlog.append(
            session, kind="enrol.camera", actor=admin.id, now=now, details=body.model_dump()
        )
    return body


@router.post("/principals/{principal_id}/disable", tags=["registry"])
def disable_principal(principal_id: Identifier, state: State, admin: Admin) -> PrincipalIn:
    """Revoke an account's token at once."""
    now = state.clock()
    with session_scope(state.engine) as session:
        principal = session.get(Principal, principal_id)
        if principal is None:
            raise ApiError(404, "not_found", "no principal with this id")
        principal.disabled = True
        session.add(principal)
        auditlog.append(
            session, kind="revoke.principal", actor=admin.id, now=now, details={"id": principal_id}
        )
    return PrincipalIn(id=principal.id, role=Role(principal.role), agency=principal.agency)


@router.delete("/courts/{court_id}", tags=["registry"])
def remove_court(court_id: Identifier, state: State, admin: Admin) -> KeyIn:
    """Stop accepting a court's warrants (a compromised or retired key)."""
    return _remove(state, admin, court_id, "court")


@router.delete("/cameras/{camera_id}", tags=["registry"])
def remove_camera(camera_id: Identifier, state: State, admin: Admin) -> KeyIn:
    """Stop accepting a camera's records (a stolen camera)."""
    return _remove(state, admin, camera_id, "camera")


def _remove(
    state: CustodianState,
    admin: Principal,
    key_id: str,
    kind: str,
) -> KeyIn:
    now = state.clock()
    with session_scope(state.engine) as session:
        row: CustodianCourt | CustodianCamera | None = (
            session.get(CustodianCourt, key_id)
            if kind == "court"
            else session.get(CustodianCamera, key_id)
        )
        if row is None:
            raise ApiError(404, "not_found", f"no {kind} with this id")
        removed = KeyIn(id=row.id, verify_key=b64e(row.verify_key))
        session.delete(row)
        auditlog.append(
            session, kind=f"revoke.{kind}", actor=admin.id, now=now, details={"id": key_id}
        )
    return removed


# --- key ceremony ----------------------------------------------------------------------


class ShareIn(Strict):
    epoch: int = Field(ge=0, lt=1 << 32)
    sealed_share: str = Field(max_length=16_384)
    sealed_token_key: str = Field(max_length=4096)


class EndorsementOut(Strict):
    epoch: int
    custodian_id: str
    endorsement: str


@router.post("/shares", status_code=201, tags=["key ceremony"])
def accept_share(body: ShareIn, state: State, admin: Admin) -> EndorsementOut:
    """Accept this custodian's share of an epoch key and endorse the epoch public key.

    A second key for an epoch is refused: endorsing two would let a dealer
    swap the key cameras seal to.
    """
    now = state.clock()
    if body.epoch < expired_epochs_before(now, state.settings.retention):
        raise ApiError(409, "past_retention", "this epoch is already past retention")
    share = open_share(
        b64d(body.sealed_share, field="sealed share"),
        state.box,
        dealer=state.dealer,
        epoch=body.epoch,
        index=state.settings.share_index,
    )
    token_key = open_token_key(
        b64d(body.sealed_token_key, field="sealed token key"),
        state.box,
        dealer=state.dealer,
        epoch=body.epoch,
    )
    custodian_id, signature = endorse(
        share,
        custodian_id=state.settings.custodian_id,
        key=state.signing,
        min_threshold=state.settings.min_threshold,
    )
    with session_scope(state.engine) as session:
        if session.get(Share, body.epoch) or session.get(DestroyedEpoch, body.epoch):
            raise ApiError(409, "exists", "this custodian already holds a key for this epoch")
        session.add(
            Share(
                epoch=body.epoch,
                share_index=share.index,
                custodians=share.custodians,
                commitments=canonical_json({"commitments": [b64e(c) for c in share.commitments]}),
                scalar=share.scalar,
                token_key=token_key.secret_bytes(),
                token_scheme=canonical_json(token_key.scheme.to_json()).decode(),
                received_at=now,
            )
        )
        auditlog.append(
            session,
            kind="share.accept",
            actor=admin.id,
            now=now,
            details={
                "epoch": body.epoch,
                "threshold": share.threshold,
                "custodians": share.custodians,
                "public_key": b64e(share.commitments[0]),
            },
        )
    return EndorsementOut(epoch=body.epoch, custodian_id=custodian_id, endorsement=b64e(signature))


# --- warrants ----------------------------------------------------------------------------


class PartialsIn(Strict):
    warrant: str = Field(max_length=1 << 20)
    records: list[Annotated[str, Field(max_length=1 << 20)]] = Field(min_length=1, max_length=1000)


class PartialOut(Strict):
    record_id: str
    partial: dict[str, int | str]
    escrow: str | None = Field(
        default=None, description="under legal hold: this partial sealed to the case key"
    )


class PartialsOut(Strict):
    custodian_id: str
    partials: list[PartialOut]


def ct_equal_text(a: str, b: str) -> bool:
    """Compare ids without an early exit (they are not secret, but cheap to protect)."""
    return hmac.compare_digest(a.encode(), b.encode())


def _key_share(row: Share) -> tuple[KeyShare, TokenKey]:
    """The stored share and token key as the core's types."""
    commitments = parse_canonical_json(row.commitments, what="commitments")["commitments"]
    assert isinstance(commitments, list)
    share = KeyShare(
        epoch=row.epoch,
        index=row.share_index,
        custodians=row.custodians,
        commitments=tuple(b64d(c, size=32, field="commitment") for c in commitments),
        scalar=row.scalar,
    )
    scheme = TokenScheme.from_json(parse_canonical_json(row.token_scheme.encode(), what="scheme"))
    return share, TokenKey(row.token_key, scheme)


def _answer(
    session: Session, state: CustodianState, body: PartialsIn, caller: Principal
) -> PartialsOut:
    now = state.clock()
    # Requests under one warrant must not both pass its record limit (PostgreSQL
    # runs them concurrently): take the log's lock before counting.
    auditlog.lock(session)
    horizon = expired_epochs_before(now, state.settings.retention)
    courts = {c.id: VerifyKey(c.verify_key) for c in session.exec(select(CustodianCourt)).all()}
    warrant_bytes = b64d(body.warrant, field="warrant")
    # 1. The warrant is signed by a court this custodian registered, and valid now.
    warrant = verify_warrant(warrant_bytes, courts=courts, now=now)
    if not ct_equal_text(warrant.investigator, caller.id):
        raise ApiError(403, "not_your_warrant", "the warrant names another investigator")
    answers: list[PartialOut] = []
    record_ids: list[bytes] = []
    for number, text in enumerate(body.records):
        record = SealedRecord.from_bytes(b64d(text, field="record"))
        # 2. The record is its camera's (custodian's own registry).
        camera = session.get(CustodianCamera, record.header.camera_id)
        if camera is None:
            raise ApiError(403, "unknown_camera", f"record {number} names an unregistered camera")
        # 3. This custodian still holds the record's epoch share, and it is not
        # past retention (whether or not the scheduled destruction has run yet).
        if record.header.epoch < horizon:
            raise ApiError(410, "epoch_destroyed", f"record {number}: its epoch is past retention")
        row = session.get(Share, record.header.epoch)
        if row is None:
            gone = session.get(DestroyedEpoch, record.header.epoch) is not None
            raise ApiError(
                410 if gone else 404,
                "epoch_destroyed" if gone else "no_share",
                f"record {number}: "
                + ("its epoch key was destroyed" if gone else "no share is held for its epoch"),
            )
        share, token_key = _key_share(row)
        # 4. Signature, warrant, epoch and scope, checked together by the core.
        partial = partial_for_warrant(
            share,
            record,
            warrant=warrant_bytes,
            courts=courts,
            device=VerifyKey(camera.verify_key),
            token_key=token_key,
            now=now,
        )
        if record.header.record_id in record_ids:
            raise ApiError(422, "duplicate_in_batch", f"record {number} repeats a record id")
        record_ids.append(record.header.record_id)
        escrow = None
        if warrant.legal_hold and warrant.case_key is not None:
            escrow = b64e(
                seal_escrow(
                    partial,
                    record_id=record.header.record_id,
                    warrant_id=warrant.id,
                    case_key=PublicKey(b64d(warrant.case_key, size=32, field="case key")),
                )
            )
        answers.append(
            PartialOut(
                record_id=b64e(record.header.record_id), partial=partial.to_json(), escrow=escrow
            )
        )
    # 5. The warrant's record limit, counted over every request made under it.
    known = set(
        session.exec(select(WarrantUse.record_id).where(WarrantUse.warrant_id == warrant.id)).all()
    )
    new = [r for r in record_ids if r not in known]
    if len(known) + len(new) > warrant.max_records:
        raise ApiError(403, "over_limit", "the warrant's record limit would be exceeded")
    for record_id in new:
        session.add(WarrantUse(warrant_id=warrant.id, record_id=record_id, answered_at=now))
    auditlog.append(
        session,
        kind="partial.issue",
        actor=caller.id,
        now=now,
        details={
            "warrant": warrant.id,
            "court": warrant.court_id,
            "purpose": warrant.scope.purpose,
            "agency": caller.agency,
            "records": len(record_ids),
            **sealed_terms(
                state.settings.oversight_box_key,
                {"case": warrant.case, "records": [b64e(r) for r in record_ids]},
            ),
            "legal_hold": warrant.legal_hold,
        },
    )
    return PartialsOut(custodian_id=state.settings.custodian_id, partials=answers)


@router.post("/partials", tags=["warrants"])
def partials(body: PartialsIn, state: State, caller: Investigator) -> PartialsOut:
    """Partial decryptions, with proofs, for records in a valid warrant's scope; else nothing.

    All or nothing: one record out of scope refuses the whole request, and
    the refusal is logged with its reason.
    """
    try:
        with session_scope(state.engine) as session:
            return _answer(session, state, body, caller)
    except (ApiError, UndersealError) as error:
        with session_scope(state.engine) as session:
            auditlog.append(
                session,
                kind="partial.refuse",
                actor=caller.id,
                now=state.clock(),
                details={
                    "code": error.code,
                    "agency": caller.agency,
                    "records": len(body.records),
                    **_warrant_names(body.warrant),
                },
            )
        raise


def _warrant_names(text: str) -> dict[str, str]:
    """The warrant id and court a refused request claimed, if its bytes say (unverified)."""
    try:
        claimed = SignedWarrant.from_bytes(b64d(text, field="warrant")).warrant
    except UndersealError:
        return {"warrant": "(unparseable)"}
    return {"warrant": claimed.id, "court": claimed.court_id}


# --- retention ---------------------------------------------------------------------------


class DestroyOut(Strict):
    custodian_id: str
    destroyed: list[int]


def destroy_expired(state: CustodianState, *, actor: str = "retention") -> list[int]:
    """Destroy every share past retention at the custodian's clock; erase it from the files."""
    now = state.clock()
    horizon = expired_epochs_before(now, state.settings.retention)
    with session_scope(state.engine) as session:
        due = list(session.exec(select(Share.epoch).where(col(Share.epoch) < horizon)).all())
        if not due:
            return []
        session.exec(delete(Share).where(col(Share.epoch).in_(due)))
        for epoch in due:
            session.add(DestroyedEpoch(epoch=epoch, destroyed_at=now))
            auditlog.append(
                session,
                kind="share.destroy",
                actor=actor,
                now=now,
                details={"epoch": epoch, "retention_days": state.settings.retention},
            )
    erase_free_space(state.engine)
    return due


@router.post("/retention/run", tags=["retention"])
def run_retention(state: State, admin: Admin) -> DestroyOut:
    """Destroy what is past retention now (cron and the scheduler call the same code)."""
    return DestroyOut(
        custodian_id=state.settings.custodian_id, destroyed=destroy_expired(state, actor=admin.id)
    )


class EpochsOut(Strict):
    custodian_id: str
    held: list[int]
    destroyed: dict[str, int]


@router.get("/public/epochs", tags=["public"])
def epochs(state: State) -> EpochsOut:
    """Which epochs this custodian holds a share of, and when it destroyed the others."""
    with session_scope(state.engine) as session:
        held = list(session.exec(select(Share.epoch).order_by(col(Share.epoch))).all())
        gone = session.exec(select(DestroyedEpoch)).all()
    return EpochsOut(
        custodian_id=state.settings.custodian_id,
        held=held,
        destroyed={str(d.epoch): d.destroyed_at for d in gone},
    )


def create_app(
    settings: CustodianSettings, *, clock: Clock | None = None, engine: Engine | None = None
) -> FastAPI:
    """A custodian over ``settings.database_url`` (or ``engine``), on ``clock``."""
    if clock is None:
        offset = settings.unsafe_clock_offset_file
        clock = system_clock if offset is None else OffsetFileClock(offset)
    engine = make_engine(settings.database_url) if engine is None else engine
    migrate(engine, "custodian")
    auditlog.initialise(engine)
    signing = SigningKey(b64d(settings.signing_key.get_secret_value(), size=32, field="key"))
    state = CustodianState(
        settings=settings,
        engine=engine,
        clock=clock,
        signing=signing,
        box=PrivateKey(b64d(settings.box_key.get_secret_value(), size=32, field="key")),
        dealer=VerifyKey(decode_key(settings.dealer_key)),
    )
    app = FastAPI(
        lifespan=retention_lifespan(
            lambda: destroy_expired(state), settings.retention_interval_seconds
        ),
        title=f"underseal custodian {settings.custodian_id}",
        version="1",
        description="Holds one share of each live epoch key; answers warrants in scope only.",
    )
    app.state.engine = engine
    app.state.custodian = state
    app.state.log_host = LogHost(f"custodian-{settings.custodian_id}", engine, clock, signing)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=16 << 20)
    app.include_router(router)
    app.include_router(log_router)

    @app.get("/v1/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    return app


def app_from_environment() -> FastAPI:
    """The app from ``UNDERSEAL_*`` environment settings (uvicorn's factory, one per worker)."""
    return create_app(CustodianSettings())  # fields come from the environment
