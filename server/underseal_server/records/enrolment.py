"""Enrolment (administrator): people and their roles, cameras, custodians, courts, dispatchers."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field
from sqlmodel import select

from underseal.encoding import b64e
from underseal_server import auditlog
from underseal_server.api_errors import ApiError
from underseal_server.db import session_scope
from underseal_server.identity import Principal, Role, issue_token
from underseal_server.records.models import Camera, Court, Custodian, Dispatcher
from underseal_server.records.state import Admin, Server
from underseal_server.schemas import Identifier, Key32, Strict, decode_key

router = APIRouter(prefix="/v1", tags=["enrolment"])


class PrincipalIn(Strict):
    id: Identifier
    role: Role = Field(strict=False)
    agency: str = Field(default="", max_length=200)


class PrincipalOut(Strict):
    id: str
    role: str
    token: str = Field(description="shown once; the server keeps only its hash")


class CameraIn(Strict):
    id: Identifier
    verify_key: Key32
    box_key: Key32
    agency: str = Field(min_length=1, max_length=200)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    direction: float = Field(ge=0, lt=360)
    field_of_view: float = Field(gt=0, le=360)
    description: str = Field(default="", max_length=500)


class CustodianIn(Strict):
    id: Identifier
    index: int = Field(ge=1, le=64)
    verify_key: Key32
    box_key: Key32
    url: str = Field(default="", max_length=500)


class CourtIn(Strict):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    verify_key: Key32


class DispatcherIn(Strict):
    id: Identifier
    box_key: Key32
    agency: str = Field(min_length=1, max_length=200)


class Enrolled(Strict):
    id: str
    kind: str


@router.post("/principals", status_code=201)
def add_principal(body: PrincipalIn, server: Server, admin: Admin) -> PrincipalOut:
    """Create a person or service account with one role; returns its token once."""
    now = server.clock()
    with session_scope(server.engine) as session:
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


@router.post("/cameras", status_code=201)
def add_camera(body: CameraIn, server: Server, admin: Admin) -> Enrolled:
    """Enrol a camera: its two public keys, location, field of view and owner."""
    now = server.clock()
    with session_scope(server.engine) as session:
        if session.get(Camera, body.id) is not None:
            raise ApiError(409, "exists", "a camera with this id is already enrolled")
        fields = body.model_dump(exclude={"verify_key", "box_key"})
        session.add(
            Camera(
                **fields,
                verify_key=decode_key(body.verify_key),
                box_key=decode_key(body.box_key),
                enrolled_at=now,
            )
        )
        auditlog.append(
            session,
            kind="enrol.camera",
            actor=admin.id,
            now=now,
            details={
                **{k: f"{v:.6f}" if isinstance(v, float) else v for k, v in fields.items()},
                "verify_key": body.verify_key,
                "box_key": body.box_key,
            },
        )
    return Enrolled(id=body.id, kind="camera")


@router.post("/custodians", status_code=201)
def add_custodian(body: CustodianIn, server: Server, admin: Admin) -> Enrolled:
    """Enrol a key custodian with its share index."""
    now = server.clock()
    with session_scope(server.engine) as session:
        if session.get(Custodian, body.id) is not None:
            raise ApiError(409, "exists", "a custodian with this id is already enrolled")
        if session.exec(select(Custodian).where(Custodian.index == body.index)).first():
            raise ApiError(409, "exists", "another custodian has this share index")
        session.add(
            Custodian(
                id=body.id,
                index=body.index,
                verify_key=decode_key(body.verify_key),
                box_key=decode_key(body.box_key),
                url=body.url,
                enrolled_at=now,
            )
        )
        auditlog.append(
            session, kind="enrol.custodian", actor=admin.id, now=now, details=body.model_dump()
        )
    return Enrolled(id=body.id, kind="custodian")


@router.post("/courts", status_code=201)
def add_court(body: CourtIn, server: Server, admin: Admin) -> Enrolled:
    """Enrol a court's warrant-signing key."""
    now = server.clock()
    with session_scope(server.engine) as session:
        if session.get(Court, body.id) is not None:
            raise ApiError(409, "exists", "a court with this id is already enrolled")
        session.add(
            Court(
                id=body.id, name=body.name, verify_key=decode_key(body.verify_key), enrolled_at=now
            )
        )
        auditlog.append(
            session, kind="enrol.court", actor=admin.id, now=now, details=body.model_dump()
        )
    return Enrolled(id=body.id, kind="court")


@router.post("/dispatchers", status_code=201)
def add_dispatcher(body: DispatcherIn, server: Server, admin: Admin) -> Enrolled:
    """Enrol a dispatch desk's box key (cameras seal alerts to it)."""
    now = server.clock()
    with session_scope(server.engine) as session:
        if session.get(Dispatcher, body.id) is not None:
            raise ApiError(409, "exists", "a dispatcher with this id is already enrolled")
        session.add(
            Dispatcher(
                id=body.id, box_key=decode_key(body.box_key), agency=body.agency, enrolled_at=now
            )
        )
        auditlog.append(
            session, kind="enrol.dispatcher", actor=admin.id, now=now, details=body.model_dump()
        )
    return Enrolled(id=body.id, kind="dispatcher")


class CameraPublic(Strict):
    id: str
    agency: str
    latitude: float
    longitude: float
    direction: float
    field_of_view: float
    description: str
    enrolled_at: int
    active: bool
    verify_key: str


@router.get("/public/cameras")
def list_cameras(server: Server) -> list[CameraPublic]:
    """Every enrolled camera, for the public (no secrets here)."""
    with session_scope(server.engine, write=False) as session:
        cameras = session.exec(select(Camera).order_by(Camera.id)).all()
    return [
        CameraPublic(
            **c.model_dump(exclude={"verify_key", "box_key"}), verify_key=b64e(c.verify_key)
        )
        for c in cameras
    ]


@router.post("/principals/{principal_id}/disable")
def disable_principal(principal_id: Identifier, server: Server, admin: Admin) -> Enrolled:
    """Revoke an account's token at once (a leaked token, a person who left)."""
    now = server.clock()
    with session_scope(server.engine) as session:
        principal = session.get(Principal, principal_id)
        if principal is None:
            raise ApiError(404, "not_found", "no principal with this id")
        principal.disabled = True
        session.add(principal)
        auditlog.append(
            session, kind="revoke.principal", actor=admin.id, now=now, details={"id": principal_id}
        )
    return Enrolled(id=principal_id, kind="principal")


@router.post("/cameras/{camera_id}/disable")
def disable_camera(camera_id: Identifier, server: Server, admin: Admin) -> Enrolled:
    """Stop accepting a camera (stolen, decommissioned); takes effect within seconds."""
    now = server.clock()
    with session_scope(server.engine) as session:
        camera = session.get(Camera, camera_id)
        if camera is None:
            raise ApiError(404, "not_found", "no camera with this id")
        camera.active = False
        session.add(camera)
        auditlog.append(
            session, kind="revoke.camera", actor=admin.id, now=now, details={"id": camera_id}
        )
    return Enrolled(id=camera_id, kind="camera")
