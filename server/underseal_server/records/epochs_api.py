"""Epoch keys: the ceremony's output is published here; retention destroys it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as FastPath
from nacl.signing import VerifyKey
from pydantic import Field
from sqlmodel import select

from underseal.encoding import b64d, b64e, canonical_json
from underseal.epochs import EpochCertificate
from underseal.errors import Malformed
from underseal.tokens import KEY_BYTES, TokenScheme
from underseal_server import auditlog
from underseal_server.api_errors import ApiError
from underseal_server.db import session_scope
from underseal_server.records.models import Custodian, EpochKey
from underseal_server.records.state import Admin, Server
from underseal_server.schemas import Strict

router = APIRouter(prefix="/v1/epochs", tags=["epochs"])


class EpochIn(Strict):
    certificate: str = Field(max_length=16_384)
    token_key: str = Field(max_length=64)
    token_scheme: dict[str, int | str]


class EpochPublic(Strict):
    epoch: int
    certificate: str | None
    created_at: int
    destroyed_at: int | None


@router.post("", status_code=201)
def publish(body: EpochIn, server: Server, admin: Admin) -> EpochPublic:
    """Publish an epoch's certificate (endorsed by every enrolled custodian) and token key."""
    now = server.clock()
    try:
        certificate = EpochCertificate.from_bytes(b64d(body.certificate, field="certificate"))
        scheme = TokenScheme.from_json(body.token_scheme)
        key = b64d(body.token_key, size=KEY_BYTES, field="token key")
    except Malformed as error:
        raise ApiError(422, error.code, error.message) from None
    with session_scope(server.engine) as session:
        custodians = {c.id: VerifyKey(c.verify_key) for c in session.exec(select(Custodian)).all()}
        if len(custodians) < 2:
            raise ApiError(409, "no_custodians", "enrol at least two custodians first")
        certificate.verify(custodians)
        if session.get(EpochKey, certificate.epoch) is not None:
            raise ApiError(409, "exists", "this epoch already has a key; a second is refused")
        row = EpochKey(
            epoch=certificate.epoch,
            certificate=certificate.to_bytes(),
            token_key=key,
            token_scheme=canonical_json(scheme.to_json()).decode(),
            created_at=now,
        )
        session.add(row)
        auditlog.append(
            session,
            kind="epoch.publish",
            actor=admin.id,
            now=now,
            details={
                "epoch": certificate.epoch,
                "threshold": certificate.threshold,
                "public_key": b64e(certificate.commitments[0]),
                "custodians": sorted(certificate.endorsements),
            },
        )
    return _public(row)


def _public(row: EpochKey) -> EpochPublic:
    return EpochPublic(
        epoch=row.epoch,
        certificate=None if row.destroyed_at is not None else b64e(row.certificate),
        created_at=row.created_at,
        destroyed_at=row.destroyed_at,
    )


@router.get("/{epoch}")
def get_epoch(epoch: Annotated[int, FastPath(ge=0, lt=1 << 32)], server: Server) -> EpochPublic:
    """An epoch's public certificate (public: cameras and auditors fetch it)."""
    with session_scope(server.engine, write=False) as session:
        row = session.get(EpochKey, epoch)
    if row is None:
        raise ApiError(404, "not_found", "no key was published for this epoch")
    return _public(row)
