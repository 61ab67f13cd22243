"""Every domain-separation label the core uses, in one place to audit.

Each hash, KDF, MAC and signature input starts with one of these labels, so
that bytes produced for one purpose can never be replayed as another (a
bundle signature is never a valid warrant signature, a token is never a KDF
output). Labels are ``underseal/<purpose>/v1``; a change of construction
bumps the version and so changes every derived byte.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "API_TOKEN",
    "AUDIT_CHECKPOINT",
    "AUDIT_ENTRY",
    "BUNDLE_SIGNATURE",
    "CAMERA_REQUEST",
    "DLEQ_CHALLENGE",
    "DLEQ_NONCE",
    "EPOCH_ENDORSEMENT",
    "KEY_SHARE",
    "PLATE_TOKEN",
    "PLATE_TOKEN_ARGON2_SALT",
    "RECORD_AAD",
    "RECORD_KDF",
    "RECORD_SIGNATURE",
    "TOKEN_KEY_DELIVERY",
    "WARRANT_SIGNATURE",
]


def _label(purpose: str) -> bytes:
    # A trailing NUL ends the label, so no label is a prefix of another's input.
    return f"underseal/{purpose}/v1".encode("ascii") + b"\x00"


PLATE_TOKEN: Final = _label("plate-token")
PLATE_TOKEN_ARGON2_SALT: Final = _label("plate-token-argon2id-salt")
BUNDLE_SIGNATURE: Final = _label("hotlist-bundle-signature")
RECORD_KDF: Final = _label("record-kdf")
RECORD_AAD: Final = _label("record-aad")
RECORD_SIGNATURE: Final = _label("record-signature")
DLEQ_CHALLENGE: Final = _label("dleq-challenge")
DLEQ_NONCE: Final = _label("dleq-nonce")
KEY_SHARE: Final = _label("key-share-signature")
EPOCH_ENDORSEMENT: Final = _label("epoch-endorsement")
WARRANT_SIGNATURE: Final = _label("warrant-signature")
AUDIT_ENTRY: Final = _label("audit-entry")
AUDIT_CHECKPOINT: Final = _label("audit-checkpoint-signature")
CAMERA_REQUEST: Final = _label("camera-request-signature")
API_TOKEN: Final = _label("api-token-hash")
TOKEN_KEY_DELIVERY: Final = _label("token-key-delivery")
