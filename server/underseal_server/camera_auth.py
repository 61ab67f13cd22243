"""Verifying camera-signed requests: signature, clock window, and one use per nonce."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fastapi import Request
from nacl.signing import VerifyKey

from underseal.signed_requests import CAMERA_HEADER, SignedRequest, verify_request
from underseal_server.api_errors import ApiError

__all__ = ["MAX_BODY", "read_body", "verify_camera"]

MAX_BODY: Final = 64 << 20


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes without buffering more."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError(413, "too_large", f"request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def verify_camera(
    request: Request, body: bytes, *, key_for: Callable[[str], VerifyKey | None], now: int
) -> SignedRequest:
    """Check the camera's signature over this exact request (nonce reuse is the caller's check).

    Raises:
        ApiError: 401 ``unauthorized`` when the request carries no camera signature.
    """
    if CAMERA_HEADER not in request.headers:
        raise ApiError(401, "unauthorized", "camera requests must be signed with the device key")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return verify_request(
        request.headers, method=request.method, path=target, body=body, key_for=key_for, now=now
    )
