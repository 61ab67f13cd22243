"""One error shape for every service: a status, a stable code and a message.

Every rejection is ``{"error": {"code": ..., "message": ...}}`` with a 4xx
status. FastAPI's own validation errors echo the input back, and an input
may hold a plate or a key, so they are replaced by messages that name the
field and the problem only.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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

__all__ = ["ApiError", "install_error_handlers"]

log = logging.getLogger(__name__)


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


def install_error_handlers(app: FastAPI) -> None:
    """Map every error family to its JSON shape."""

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
