"""A custodian's tables: its shares (destroyed at retention), registries, warrant use."""

from __future__ import annotations

from sqlalchemy import LargeBinary, Table, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from underseal_server.auditlog import AuditEntry, AuditState
from underseal_server.identity import Principal

__all__ = ["TABLES", "CustodianCamera", "CustodianCourt", "DestroyedEpoch", "Share", "WarrantUse"]


class Share(SQLModel, table=True):
    """This custodian's share of one epoch key, and the epoch's token key for scope checks.

    Destruction deletes the row under ``secure_delete`` and vacuums, so the
    scalar leaves the database file (tests scan the file's bytes).
    """

    __tablename__ = "custodian_share"

    epoch: int = Field(primary_key=True)
    share_index: int
    custodians: int
    commitments: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    scalar: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    token_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    token_scheme: str = Field(max_length=200)
    received_at: int

    def __repr__(self) -> str:
        return f"Share(epoch={self.epoch}, index={self.share_index})"


class DestroyedEpoch(SQLModel, table=True):
    """An epoch whose share this custodian destroyed, and when (public)."""

    __tablename__ = "custodian_destroyed_epoch"

    epoch: int = Field(primary_key=True)
    destroyed_at: int


class CustodianCourt(SQLModel, table=True):
    """A court whose warrants this custodian accepts (its own registry, not the server's)."""

    __tablename__ = "custodian_court"

    id: str = Field(primary_key=True, max_length=64)
    verify_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CustodianCamera(SQLModel, table=True):
    """A camera whose record signatures this custodian checks."""

    __tablename__ = "custodian_camera"

    id: str = Field(primary_key=True, max_length=64)
    verify_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class WarrantUse(SQLModel, table=True):
    """Records answered under each warrant: the count is held against ``max_records``."""

    __tablename__ = "custodian_warrant_use"
    __table_args__ = (UniqueConstraint("warrant_id", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    warrant_id: str = Field(max_length=64, index=True)
    record_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    answered_at: int


TABLES: list[Table] = [
    t.__table__  # type: ignore[union-attr]
    for t in (
        Principal,
        AuditEntry,
        AuditState,
        Share,
        DestroyedEpoch,
        CustodianCourt,
        CustodianCamera,
        WarrantUse,
    )
]
