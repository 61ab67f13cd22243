"""The records server's tables. Nothing here can open a record: no epoch secret, no share.

Plates appear in clear in exactly one table, the hotlist, which is the list
the agency decided to look for; reads of other plates never reach this
server, and records are ciphertext with a keyed match token.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, LargeBinary, Table, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from underseal_server.auditlog import AuditEntry, AuditState
from underseal_server.identity import Principal

__all__ = [
    "TABLES",
    "Alert",
    "BundleSerial",
    "Camera",
    "CameraHour",
    "Court",
    "Custodian",
    "EpochKey",
    "HeldEscrow",
    "HotlistEntry",
    "Record",
    "RecordHold",
    "SeenNonce",
    "WarrantRequest",
]


def _blob(nullable: bool = False) -> Column[bytes]:
    return Column(LargeBinary, nullable=nullable)


class Camera(SQLModel, table=True):
    """An enrolled camera: its keys, where it looks, and who owns it."""

    __tablename__ = "camera"

    id: str = Field(primary_key=True, max_length=64)
    verify_key: bytes = Field(sa_column=_blob())
    box_key: bytes = Field(sa_column=_blob())
    agency: str = Field(max_length=200)
    latitude: float
    longitude: float
    direction: float = Field(description="degrees clockwise from north the camera faces")
    field_of_view: float = Field(description="horizontal field of view in degrees")
    description: str = Field(default="", max_length=500)
    enrolled_at: int
    active: bool = True


class Custodian(SQLModel, table=True):
    """A key custodian: its share index and its keys (endorsements, sealed shares)."""

    __tablename__ = "custodian"

    id: str = Field(primary_key=True, max_length=64)
    index: int = Field(unique=True)
    verify_key: bytes = Field(sa_column=_blob())
    box_key: bytes = Field(sa_column=_blob())
    url: str = Field(default="", max_length=500)
    enrolled_at: int


class Court(SQLModel, table=True):
    """A court whose key signs warrants."""

    __tablename__ = "court"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    verify_key: bytes = Field(sa_column=_blob())
    enrolled_at: int


class Dispatcher(SQLModel, table=True):
    """A dispatch desk: cameras seal alerts to its box key."""

    __tablename__ = "dispatcher"

    id: str = Field(primary_key=True, max_length=64)
    box_key: bytes = Field(sa_column=_blob())
    agency: str = Field(max_length=200)
    enrolled_at: int


class EpochKey(SQLModel, table=True):
    """An epoch's endorsed public key and token key; the token key goes at retention."""

    __tablename__ = "epoch_key"

    epoch: int = Field(primary_key=True)
    certificate: bytes = Field(sa_column=_blob())
    token_key: bytes | None = Field(default=None, sa_column=_blob(nullable=True))
    token_scheme: str = Field(max_length=200)
    created_at: int
    destroyed_at: int | None = None


class HotlistEntry(SQLModel, table=True):
    """A plate the agency looks for, why, until when, and who decided."""

    __tablename__ = "hotlist_entry"

    id: str = Field(primary_key=True, max_length=64)
    plate: str = Field(max_length=16)
    reason: str = Field(max_length=32, index=True)
    case_number: str = Field(max_length=100)
    source: str = Field(max_length=100)
    expires_at: int
    entered_by: str = Field(max_length=64)
    entered_at: int
    approved_by: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16, index=True)
    ref: bytes = Field(sa_column=_blob())


class BundleSerial(SQLModel, table=True):
    """The last bundle serial issued to each camera (serials only go up)."""

    __tablename__ = "bundle_serial"

    camera_id: str = Field(primary_key=True, foreign_key="camera.id", max_length=64)
    serial: int


class Record(SQLModel, table=True):
    """A sealed record as the camera signed it; found by match token, never opened here."""

    __tablename__ = "record"

    record_id: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    camera_id: str = Field(foreign_key="camera.id", max_length=64, index=True)
    epoch: int = Field(index=True)
    match_token: bytes = Field(sa_column=Column(LargeBinary, nullable=False, index=True))
    received_at: int
    data: bytes = Field(sa_column=_blob())


class RecordHold(SQLModel, table=True):
    """A legal hold of one record by one warrant; a record with any hold outlives retention."""

    __tablename__ = "record_hold"
    __table_args__ = (UniqueConstraint("record_id", "warrant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    record_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False, index=True))
    warrant_id: str = Field(max_length=64, index=True)
    held_at: int


class HeldEscrow(SQLModel, table=True):
    """A custodian's partial for a held record, sealed to that warrant's case key."""

    __tablename__ = "held_escrow"
    __table_args__ = (UniqueConstraint("record_id", "warrant_id", "custodian_index"),)

    id: int | None = Field(default=None, primary_key=True)
    record_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False, index=True))
    warrant_id: str = Field(max_length=64, index=True)
    custodian_index: int
    sealed: bytes = Field(sa_column=_blob())
    received_at: int


class Alert(SQLModel, table=True):
    """An alert sealed to a dispatcher, kept only until its short TTL passes."""

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    dispatcher_id: str = Field(max_length=64, index=True)
    camera_id: str = Field(max_length=64)
    record_id: bytes = Field(sa_column=_blob())
    sealed: bytes = Field(sa_column=_blob())
    created_at: int
    expires_at: int = Field(index=True)
    acked_at: int | None = None


class SeenNonce(SQLModel, table=True):
    """Camera request nonces, kept until their clock window closes (replay refusal)."""

    __tablename__ = "seen_nonce"
    __table_args__ = (UniqueConstraint("camera_id", "nonce"),)

    id: int | None = Field(default=None, primary_key=True)
    camera_id: str = Field(max_length=64)
    nonce: bytes = Field(sa_column=_blob())
    expires_at: int = Field(index=True)


class CameraHour(SQLModel, table=True):
    """One camera's aggregate counts for one UTC hour: totals only, never a read or a token.

    The camera re-sends an hour while it grows; each count is kept at the
    largest value reported (see ``camera_api.report_stats``).
    """

    __tablename__ = "camera_hour"

    camera_id: str = Field(primary_key=True, foreign_key="camera.id", max_length=64)
    hour: int = Field(
        sa_column=Column(BigInteger, primary_key=True, autoincrement=False),
        description="unix seconds of the hour's first second",
    )
    day: int = Field(index=True, description="epoch day of the hour (hour // 86400)")
    frames: int
    reads: int
    passes: int
    hits: int
    uptime_seconds: int
    healthy_seconds: int
    received_at: int


class WarrantRequest(SQLModel, table=True):
    """An investigator's request, and the court's answer (a signed warrant or a denial)."""

    __tablename__ = "warrant_request"

    id: str = Field(primary_key=True, max_length=64)
    investigator: str = Field(max_length=64)
    case: str = Field(max_length=500)
    purpose: str = Field(max_length=500)
    draft: bytes = Field(sa_column=_blob())
    requested_at: int
    status: str = Field(max_length=16, index=True)
    court_id: str | None = Field(default=None, max_length=64)
    decided_at: int | None = None
    warrant: bytes | None = Field(default=None, sa_column=_blob(nullable=True))
    denial: str | None = Field(default=None, max_length=500)
    records_released: int = 0


TABLES: list[Table] = [
    t.__table__  # type: ignore[union-attr]
    for t in (
        Principal,
        AuditEntry,
        AuditState,
        Camera,
        Custodian,
        Court,
        Dispatcher,
        EpochKey,
        HotlistEntry,
        BundleSerial,
        Record,
        RecordHold,
        HeldEscrow,
        Alert,
        SeenNonce,
        WarrantRequest,
        CameraHour,
    )
]
