"""Camera requests signed with the device key: who sent it, when, and never twice.

A camera proves each HTTP request with four headers. The signature covers
the ``CAMERA_REQUEST`` label and the canonical JSON of the camera id, the
method, the path (with its query), the timestamp, a random nonce and the
SHA-256 of the body, so a signature for one request never authorises
another. The receiver checks the clock window here; remembering nonces
until their window closes (to refuse a replay inside it) is its job, since
only it holds state.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from underseal import domains
from underseal.encoding import b64d, b64e, canonical_json, check_identifier
from underseal.errors import Expired, InvalidSignature, Malformed, NotYetValid

__all__ = [
    "CAMERA_HEADER",
    "MAX_SKEW",
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignedRequest",
    "sign_request",
    "verify_request",
]

CAMERA_HEADER: Final = "x-underseal-camera"
TIMESTAMP_HEADER: Final = "x-underseal-timestamp"
NONCE_HEADER: Final = "x-underseal-nonce"
SIGNATURE_HEADER: Final = "x-underseal-signature"
NONCE_BYTES: Final = 16
MAX_SKEW: Final = 300
"""Seconds a request's timestamp may differ from the receiver's clock."""

_MAX_TIMESTAMP: Final = 1 << 40


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A verified request's identity: the receiver keeps ``nonce`` until ``expires``."""

    camera_id: str
    timestamp: int
    nonce: bytes
    expires: int


def _message(
    *, camera_id: str, method: str, path: str, timestamp: int, nonce: bytes, body: bytes
) -> bytes:
    fields = {
        "body_sha256": b64e(hashlib.sha256(body).digest()),
        "camera_id": camera_id,
        "method": method.upper(),
        "nonce": b64e(nonce),
        "path": path,
        "timestamp": timestamp,
    }
    return domains.CAMERA_REQUEST + canonical_json(fields)


def sign_request(
    key: SigningKey,
    *,
    camera_id: str,
    method: str,
    path: str,
    body: bytes,
    now: int,
    nonce: bytes | None = None,
) -> dict[str, str]:
    """The headers that prove this request came from ``camera_id`` at ``now``.

    ``path`` is the request target as the server will see it (path and
    query). ``nonce`` is random unless a test fixes it.
    """
    check_identifier(camera_id, field="camera_id")
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise Malformed(f"nonce must be {NONCE_BYTES} bytes")
    message = _message(
        camera_id=camera_id, method=method, path=path, timestamp=now, nonce=nonce, body=body
    )
    return {
        CAMERA_HEADER: camera_id,
        TIMESTAMP_HEADER: str(now),
        NONCE_HEADER: b64e(nonce),
        SIGNATURE_HEADER: b64e(key.sign(message).signature),
    }


def verify_request(
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    body: bytes,
    key_for: Callable[[str], VerifyKey | None],
    now: int,
    max_skew: int = MAX_SKEW,
) -> SignedRequest:
    """Check a camera's signed request; ``key_for`` looks up a registered camera's key.

    ``headers`` must be case-insensitive (as Starlette's and httpx's are) or
    use the lower-case names above.

    Raises:
        Malformed: a header is missing or badly formed.
        InvalidSignature: unknown camera, or the signature does not verify.
        Expired, NotYetValid: the timestamp is outside ``now ± max_skew``.
    """
    # 1. Parse the four headers.
    try:
        camera_id = headers[CAMERA_HEADER]
        stamp = headers[TIMESTAMP_HEADER]
        nonce_text = headers[NONCE_HEADER]
        signature_text = headers[SIGNATURE_HEADER]
    except KeyError:
        raise Malformed("request is not signed: camera signature headers are missing") from None
    check_identifier(camera_id, field="camera_id")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 13 or stamp != str(int(stamp)):
        raise Malformed("request timestamp must be decimal unix seconds")
    timestamp = int(stamp)
    if timestamp >= _MAX_TIMESTAMP:
        raise Malformed("request timestamp is out of range")
    nonce = b64d(nonce_text, size=NONCE_BYTES, field="nonce")
    signature = b64d(signature_text, size=64, field="signature")
    # 2. The camera is registered and signed exactly this request.
    key = key_for(camera_id)
    if key is None:
        raise InvalidSignature("request is not signed by a registered camera")
    message = _message(
        camera_id=camera_id, method=method, path=path, timestamp=timestamp, nonce=nonce, body=body
    )
    try:
        key.verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise InvalidSignature("request signature does not verify under the camera's key") from None
    # 3. Fresh: inside the clock window (the receiver refuses a nonce seen in it).
    if timestamp > now + max_skew:
        raise NotYetValid("request is dated in the future beyond the allowed clock skew")
    if timestamp < now - max_skew:
        raise Expired("request is too old (outside the allowed clock skew)")
    return SignedRequest(camera_id, timestamp, nonce, timestamp + max_skew)
