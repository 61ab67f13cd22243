"""One error shape for every service: a status, a stable code and a message.

Every rejection is ``{"error": {"code": ..., "message": ...}}`` with a 4xx
status. FastAPI's own validation errors echo the input back, and an input
may hold a plate or a key, so they are replaced by messages that name the
field and the problem only.

A database that cannot be reached (PostgreSQL restarting, a connection cut,
SQLite locked past its busy timeout) is a 503 ``database_unavailable`` with
``Retry-After``: a client retries, and the service recovers by itself (the
PostgreSQL pool pings each connection before use and reconnects). The log
names the error's class only: SQLAlchemy's message quotes the statement and
its parameters, which may hold a token or sealed bytes.
"""

from __future__ import annotations

import logging
import sqlite3

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from underseal.errors import (
    DecryptionFailed,
    Expired,
    InvalidProof,
    InvalidSignature,
    NotEnoughShares,
    NotYetValid,
    OutOfScope,
    Rollback,
    UndersealError,
    WrongRecipient,
)

__all__ = ["RETRY_AFTER_SECONDS", "ApiError", "install_error_handlers"]

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
"""What a 503 asks the client to wait before retrying."""


class ApiError(Exception):
    """A request the service refuses; the message must never quote a secret or a plate."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def _status_for(error: UndersealError) -> int:
    if isinstance(error, OutOfScope):
        return 403
    if isinstance(error, (InvalidSignature, WrongRecipient, DecryptionFailed, InvalidProof)):
        return 403 if isinstance(error, InvalidSignature) else 422
    if isinstance(error, (Expired, NotYetValid, Rollback)):
        return 409
    if isinstance(error, NotEnoughShares):
        return 409
    return 400


def _body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


_SQLITE_OUTAGES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
    }
)
# SQLSTATE classes: connection exception, insufficient resources, and the
# shutdowns of class 57 (admin_shutdown, crash_shutdown, cannot_connect_now).
_POSTGRES_OUTAGES = ("08", "53", "57P")


def _database_unavailable(error: DBAPIError) -> bool:
    """Whether ``error`` says the database cannot serve now (rather than refusing a statement).

    A missing table or a bad statement is a bug and stays a 500, even where the
    driver files it under OperationalError (SQLite does).
    """
    if error.connection_invalidated:
        return True
    code = getattr(error.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_OUTAGES
    sqlstate = getattr(error.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_POSTGRES_OUTAGES)
    # No code at all: psycopg could not connect (refused, timed out, reset).
    return isinstance(error, OperationalError)


def _unavailable(request: Request, cause: str) -> JSONResponse:
    log.warning(
        "database unavailable (%s) for %s %s: answered 503", cause, request.method, request.url.path
    )
    return JSONResponse(
        _body("database_unavailable", "the database is unavailable; retry later"),
        status_code=503,
        headers={"retry-after": str(RETRY_AFTER_SECONDS)},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map every error family to its JSON shape."""

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, error: DBAPIError) -> JSONResponse:
        if not _database_unavailable(error):
            raise error  # a bug, not an outage: the server's usual 500
        cause = type(error.orig).__name__ if error.orig is not None else type(error).__name__
        return _unavailable(request, cause)

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, _: PoolTimeout) -> JSONResponse:
        # Every pooled connection is busy (or stuck connecting to a database that is down).
        return _unavailable(request, "connection pool exhausted")

    @app.exception_handler(ApiError)
    async def _api(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(_body(error.code, error.message), status_code=error.status)

    @app.exception_handler(UndersealError)
    async def _core(_: Request, error: UndersealError) -> JSONResponse:
        extra: dict[str, object] = {}
        if isinstance(error, OutOfScope):
            extra["reason"] = str(error.reason)
        return JSONResponse(
            _body(error.code, error.message, **extra), status_code=_status_for(error)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("type", "")}
            for e in error.errors()
        ]
        return JSONResponse(
            _body("invalid_request", "request body or parameters are invalid", problems=problems),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        # 400 from FastAPI itself: a body that does not parse (JSON with a syntax error).
        codes = {
            400: "malformed_body",
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
        }
        return JSONResponse(
            _body(codes.get(error.status_code, "http_error"), str(error.detail)),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )
