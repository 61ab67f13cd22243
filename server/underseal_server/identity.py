"""People and services that call the APIs: roles, bearer tokens stored only as hashes.

A token is shown once, when it is issued; the database keeps
``SHA-256(label ‖ token)``. A leaked database therefore yields no usable
token, and looking a token up by its hash costs the same whether or not it
exists.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from enum import StrEnum
from typing import Final

from fastapi import Request
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, select

from underseal import domains
from underseal.encoding import IDENTIFIER_PATTERN, b64e, check_identifier
from underseal_server.api_errors import ApiError

__all__ = [
    "Principal",
    "Role",
    "authenticate",
    "issue_token",
    "require",
]

TOKEN_PREFIX: Final = "ust_"  # noqa: S105 - a public prefix that makes leaked tokens greppable


class Role(StrEnum):
    """Who may call what: each role gets exactly the endpoints it needs."""

    ADMINISTRATOR = "administrator"
    HOTLIST_OFFICER = "hotlist_officer"
    HOTLIST_APPROVER = "hotlist_approver"
    # The NCIC/state feed's service account: the only way round a second approver.
    HOT_FILE_IMPORTER = "hot_file_importer"
    DISPATCHER = "dispatcher"
    INVESTIGATOR = "investigator"
    COURT = "court"
    CUSTODIAN = "custodian"
    AUDITOR = "auditor"


class Principal(SQLModel, table=True):
    """A person or service with a bearer token (cameras sign requests instead)."""

    __tablename__ = "principal"

    id: str = Field(primary_key=True, regex=IDENTIFIER_PATTERN, max_length=64)
    role: str = Field(max_length=32)
    agency: str = Field(default="", max_length=200)
    token_hash: bytes = Field(unique=True, index=True)
    created_at: int
    disabled: bool = False

    def __repr__(self) -> str:
        return f"Principal(id={self.id!r}, role={self.role!r})"


def _hash(token: str) -> bytes:
    return hashlib.sha256(domains.API_TOKEN + token.encode("utf-8")).digest()


def issue_token(session: Session, *, principal_id: str, role: Role, agency: str, now: int) -> str:
    """Create a principal and return its token (the only time it is ever visible).

    Raises:
        ApiError: 409 ``exists`` if the id is taken.
    """
    check_identifier(principal_id, field="principal id")
    if session.get(Principal, principal_id) is not None:
        raise ApiError(409, "exists", "a principal with this id already exists")
    token = TOKEN_PREFIX + b64e(os.urandom(32))
    session.add(
        Principal(
            id=principal_id, role=role.value, agency=agency, token_hash=_hash(token), created_at=now
        )
    )
    return token


def authenticate(engine: Engine, authorization: str | None) -> Principal:
    """The principal a ``Bearer`` token belongs to.

    Raises:
        ApiError: 401 ``unauthorized`` for a missing, unknown or disabled token.
    """
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(401, "unauthorized", "a bearer token is required")
    token = authorization.removeprefix("Bearer ").strip()
    with Session(engine) as session:
        found = session.exec(select(Principal).where(Principal.token_hash == _hash(token))).first()
    if found is None or found.disabled:
        raise ApiError(401, "unauthorized", "the bearer token is not valid")
    return found


def require(*roles: Role) -> Callable[[Request], Principal]:
    """A dependency admitting only ``roles``; others get 403 ``forbidden``."""
    allowed = {r.value for r in roles}

    def dependency(request: Request) -> Principal:
        principal = authenticate(request.app.state.engine, request.headers.get("authorization"))
        if principal.role not in allowed:
            raise ApiError(403, "forbidden", "this role may not call this endpoint")
        return principal

    return dependency
