"""Sealed evidence records: ECIES over edwards25519, openable only by threshold.

Sealing (camera, DESIGN §4)::

    r random, R = r·G, S = r·PK_epoch
    k = HKDF-SHA256(ikm = S ‖ R ‖ PK_epoch, info = label)
    ct = XChaCha20-Poly1305(k, nonce, evidence, aad = label ‖ header)
    sig = Ed25519(device, label ‖ lp(header) ‖ lp(R) ‖ lp(nonce) ‖ lp(ct))

``lp`` is an 8-byte length prefix. The header is all the server sees:
version, record id, camera id, epoch, match token and the size of the
sealed alert. Opening needs ``S = x·R``: from the whole epoch secret (tests,
case keys) or combined from ``t`` custodians' partials (``threshold``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Final

import nacl.bindings as sodium
import nacl.exceptions
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.signing import SigningKey, VerifyKey

from underseal import _group as group
from underseal import domains
from underseal.encoding import (
    b64d,
    b64e,
    canonical_json,
    check_identifier,
    check_uint,
    length_prefixed,
    parse_canonical_json,
)
from underseal.errors import DecryptionFailed, InvalidSignature, Malformed
from underseal.threshold import EpochPublicKey, EpochSecret
from underseal.tokens import TOKEN_BYTES

__all__ = [
    "MAX_EVIDENCE_BYTES",
    "RECORD_ID_BYTES",
    "RecordHeader",
    "SealedRecord",
    "open_record",
    "open_record_with_shared_point",
    "seal_record",
]

VERSION: Final = 1
RECORD_ID_BYTES: Final = 16
NONCE_BYTES: Final = 24
MAX_EVIDENCE_BYTES: Final = 512 * 1024
_HEADER_FIELDS: Final = frozenset(
    {"version", "record_id", "camera_id", "epoch", "match_token", "alert_size"}
)
_WIRE_FIELDS: Final = frozenset({"header", "ephemeral", "nonce", "ciphertext", "signature"})


@dataclass(frozen=True, slots=True)
class RecordHeader:
    """The cleartext part of a record: only what the server needs to store and find it."""

    record_id: bytes
    camera_id: str
    epoch: int
    match_token: bytes
    alert_size: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.record_id, bytes) or len(self.record_id) != RECORD_ID_BYTES:
            raise Malformed(f"record_id must be {RECORD_ID_BYTES} bytes")
        check_identifier(self.camera_id, field="camera_id")
        if not isinstance(self.match_token, bytes) or len(self.match_token) != TOKEN_BYTES:
            raise Malformed(f"match_token must be {TOKEN_BYTES} bytes")
        check_uint(self.epoch, field="epoch")
        check_uint(self.alert_size, field="alert_size")

    def __repr__(self) -> str:
        # The match token is a keyed hash of a plate: never print it.
        rid = self.record_id.hex()
        return f"RecordHeader(id={rid}, camera={self.camera_id!r}, epoch={self.epoch})"

    def to_json(self) -> dict[str, Any]:
        """Canonical JSON fields."""
        return {
            "version": VERSION,
            "record_id": b64e(self.record_id),
            "camera_id": self.camera_id,
            "epoch": self.epoch,
            "match_token": b64e(self.match_token),
            "alert_size": self.alert_size,
        }

    def to_bytes(self) -> bytes:
        """Canonical bytes (the AEAD associated data and the signed header)."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, value: object) -> RecordHeader:
        """Parse :meth:`to_json` output. Raises Malformed."""
        if not isinstance(value, dict) or set(value) != _HEADER_FIELDS:
            raise Malformed("record header has the wrong fields")
        if type(value["version"]) is not int or value["version"] != VERSION:
            raise Malformed("record header version is not supported")
        return cls(
            record_id=b64d(value["record_id"], size=RECORD_ID_BYTES, field="record_id"),
            camera_id=value["camera_id"],
            epoch=value["epoch"],
            match_token=b64d(value["match_token"], size=TOKEN_BYTES, field="match_token"),
            alert_size=value["alert_size"],
        )


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A record as the camera sends it and the server stores it."""

    header: RecordHeader
    ephemeral: bytes
    nonce: bytes
    ciphertext: bytes
    signature: bytes

    def __repr__(self) -> str:
        return f"SealedRecord({self.header!r}, ciphertext=<{len(self.ciphertext)} bytes>)"

    def signed_message(self) -> bytes:
        """The bytes the camera's signature covers."""
        return domains.RECORD_SIGNATURE + length_prefixed(
            self.header.to_bytes(), self.ephemeral, self.nonce, self.ciphertext
        )

    def to_bytes(self) -> bytes:
        """The canonical wire encoding."""
        return canonical_json(
            {
                "header": self.header.to_json(),
                "ephemeral": b64e(self.ephemeral),
                "nonce": b64e(self.nonce),
                "ciphertext": b64e(self.ciphertext),
                "signature": b64e(self.signature),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedRecord:
        """Parse the wire encoding (structure only: call :meth:`verify` next).

        Raises:
            Malformed: not the canonical encoding of a well-formed record.
        """
        fields = parse_canonical_json(data, what="sealed record")
        if set(fields) != _WIRE_FIELDS:
            raise Malformed("sealed record has the wrong fields")
        ciphertext = b64d(fields["ciphertext"], field="ciphertext")
        if not sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES <= len(ciphertext):
            raise Malformed("ciphertext is shorter than its authentication tag")
        record = cls(
            header=RecordHeader.from_json(fields["header"]),
            ephemeral=bytes(group.point_from_bytes(b64d(fields["ephemeral"], field="ephemeral"))),
            nonce=b64d(fields["nonce"], size=NONCE_BYTES, field="nonce"),
            ciphertext=ciphertext,
            signature=b64d(fields["signature"], size=64, field="signature"),
        )
        # One object, one encoding: the signature is checked over re-encoded
        # fields, so refuse any input that does not re-encode to itself.
        if record.to_bytes() != bytes(data):
            raise Malformed("sealed record is not in canonical form")
        return record

    def verify(self, device: VerifyKey) -> None:
        """Check the camera's signature.

        Raises:
            InvalidSignature: not signed by this camera's key, or changed since.
        """
        try:
            device.verify(self.signed_message(), self.signature)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
            raise InvalidSignature("record is not signed by the camera it names") from None


def _aead_key(shared: bytes, ephemeral: bytes, public: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=domains.RECORD_KDF)
    return hkdf.derive(shared + ephemeral + public)


def seal_record(
    *,
    header: RecordHeader,
    evidence: bytes,
    epoch_key: EpochPublicKey,
    device: SigningKey,
    unsafe_fixed_ephemeral: bytes | None = None,
    unsafe_fixed_nonce: bytes | None = None,
) -> SealedRecord:
    """Seal ``evidence`` to the epoch key and sign the result with the camera's key.

    The ``unsafe_fixed_*`` arguments exist only to reproduce test vectors:
    reusing an ephemeral scalar or nonce destroys confidentiality.

    Raises:
        Malformed: the header's epoch is not the key's, or the evidence is too large.
    """
    if header.epoch != epoch_key.epoch:
        raise Malformed("record epoch does not match the epoch key")
    if len(evidence) > MAX_EVIDENCE_BYTES:
        raise Malformed(f"evidence is larger than {MAX_EVIDENCE_BYTES} bytes")
    r = (
        group.scalar_from_bytes(unsafe_fixed_ephemeral)
        if unsafe_fixed_ephemeral is not None
        else group.random_scalar()
    )
    nonce = unsafe_fixed_nonce if unsafe_fixed_nonce is not None else os.urandom(NONCE_BYTES)
    if len(nonce) != NONCE_BYTES:
        raise Malformed(f"nonce must be {NONCE_BYTES} bytes")
    public = group.Point(epoch_key.point)
    ephemeral = group.base_mul(r)
    shared = group.mul(r, public)
    header_bytes = header.to_bytes()
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        evidence, domains.RECORD_AAD + header_bytes, nonce, _aead_key(shared, ephemeral, public)
    )
    unsigned = SealedRecord(header, ephemeral, nonce, ciphertext, b"")
    signature = device.sign(unsigned.signed_message()).signature
    return SealedRecord(header, ephemeral, nonce, ciphertext, signature)


def open_record_with_shared_point(
    record: SealedRecord, shared: bytes, epoch_key: EpochPublicKey
) -> bytes:
    """Decrypt with ``S = x·R`` (combined from partials, or from the secret).

    Raises:
        DecryptionFailed: wrong key or point, or a changed header or ciphertext.
    """
    if record.header.epoch != epoch_key.epoch:
        raise DecryptionFailed("record belongs to another epoch")
    key = _aead_key(shared, record.ephemeral, epoch_key.point)
    try:
        return bytes(
            sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                record.ciphertext,
                domains.RECORD_AAD + record.header.to_bytes(),
                record.nonce,
                key,
            )
        )
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, TypeError):
        raise DecryptionFailed("record does not open with this key") from None


def open_record(record: SealedRecord, secret: EpochSecret) -> bytes:
    """Decrypt with the whole epoch secret (tests, and case keys under legal hold).

    Raises:
        DecryptionFailed: wrong key, or a changed header or ciphertext.
    """
    try:
        shared = group.mul(group.Scalar(secret.secret_bytes()), group.Point(record.ephemeral))
    except group.GroupError:
        raise DecryptionFailed("record does not open with this key") from None
    return open_record_with_shared_point(record, shared, secret.public_key())
