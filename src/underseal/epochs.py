"""Epochs (UTC days) and the custodians' endorsement of each epoch public key.

A camera seals hits to whatever epoch public key it is given, so that key
must not come from the records server alone: a rogue server could hand out
a key it holds and read every record. Each custodian, after opening and
checking its share against the dealer's commitments, signs the epoch
public key with the commitments; the camera accepts a key only with the
endorsements it requires (by default all custodians). This strengthens
DESIGN §3.2, which says only that a "signed epoch public key" is published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from underseal import _group as group
from underseal import domains
from underseal.encoding import (
    b64d,
    b64e,
    canonical_json,
    check_identifier,
    check_uint,
    parse_canonical_json,
)
from underseal.errors import InvalidSignature, Malformed
from underseal.threshold import MAX_CUSTODIANS, EpochPublicKey, KeyShare

__all__ = [
    "DEFAULT_MIN_THRESHOLD",
    "SECONDS_PER_EPOCH",
    "EpochCertificate",
    "endorse",
    "epoch_end",
    "epoch_of",
    "epoch_start",
]

SECONDS_PER_EPOCH: Final = 86_400
#: Fewest custodians that must agree to decrypt, unless a deployment says otherwise.
DEFAULT_MIN_THRESHOLD: Final = 2


def epoch_of(unix_seconds: int) -> int:
    """The epoch (UTC day number) that contains ``unix_seconds``."""
    if unix_seconds < 0:
        raise Malformed("time must not be before 1970")
    return unix_seconds // SECONDS_PER_EPOCH


def epoch_start(epoch: int) -> int:
    """First second of ``epoch``."""
    return epoch * SECONDS_PER_EPOCH


def epoch_end(epoch: int) -> int:
    """First second after ``epoch``."""
    return (epoch + 1) * SECONDS_PER_EPOCH


@dataclass(frozen=True, slots=True)
class EpochCertificate:
    """An epoch public key, its share commitments, and custodians' signatures over them."""

    epoch: int
    commitments: tuple[bytes, ...]
    endorsements: Mapping[str, bytes]

    @property
    def threshold(self) -> int:
        """How many custodians must agree to decrypt: the number of commitments."""
        return len(self.commitments)

    def body(self) -> bytes:
        """The canonical bytes every custodian signs."""
        return canonical_json(
            {"epoch": self.epoch, "commitments": [b64e(c) for c in self.commitments]}
        )

    def public_key(self) -> EpochPublicKey:
        """The epoch public key (the first commitment)."""
        return EpochPublicKey(self.epoch, self.commitments[0])

    def to_bytes(self) -> bytes:
        """Canonical wire encoding."""
        return canonical_json(
            {
                "epoch": self.epoch,
                "commitments": [b64e(c) for c in self.commitments],
                "endorsements": {k: b64e(v) for k, v in self.endorsements.items()},
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> EpochCertificate:
        """Parse the wire encoding. Raises Malformed."""
        f = parse_canonical_json(data, what="epoch certificate")
        if set(f) != {"epoch", "commitments", "endorsements"}:
            raise Malformed("epoch certificate has the wrong fields")
        commitments, endorsements = f["commitments"], f["endorsements"]
        if not isinstance(commitments, list) or not 1 <= len(commitments) <= MAX_CUSTODIANS:
            raise Malformed("epoch certificate needs 1 to 64 commitments")
        if not isinstance(endorsements, dict) or len(endorsements) > MAX_CUSTODIANS:
            raise Malformed("epoch certificate endorsements must be an object")
        epoch = check_uint(f["epoch"], field="epoch")
        cert = cls(
            epoch=epoch,
            commitments=tuple(
                bytes(group.point_from_bytes(b64d(c, size=32, field="commitment")))
                for c in commitments
            ),
            endorsements={
                check_identifier(k, field="custodian id"): b64d(v, size=64, field="endorsement")
                for k, v in endorsements.items()
            },
        )
        if cert.to_bytes() != data:
            raise Malformed("epoch certificate is not in canonical form")
        return cert

    def verify(
        self,
        custodians: Mapping[str, VerifyKey],
        *,
        required: int | None = None,
        min_threshold: int = DEFAULT_MIN_THRESHOLD,
    ) -> EpochPublicKey:
        """Check that ``required`` known custodians (default: all) endorsed this key.

        Raises:
            Malformed: ``required`` below 1, or a threshold below ``min_threshold``
                (a 1-of-n key lets any single custodian decrypt alone).
            InvalidSignature: fewer valid endorsements than required.
        """
        required = len(custodians) if required is None else required
        if required < 1:
            raise Malformed("at least one custodian endorsement must be required")
        if self.threshold < min_threshold:
            raise Malformed(
                f"epoch key threshold is {self.threshold}; policy needs {min_threshold}"
            )
        message = domains.EPOCH_ENDORSEMENT + self.body()
        valid = 0
        for custodian_id, signature in self.endorsements.items():
            key = custodians.get(custodian_id)
            if key is None:
                continue
            try:
                key.verify(message, signature)
            except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
                continue
            valid += 1
        if valid < required:
            raise InvalidSignature(
                f"epoch key has {valid} valid custodian endorsements; {required} required"
            )
        return self.public_key()


def endorse(
    share: KeyShare,
    *,
    custodian_id: str,
    key: SigningKey,
    min_threshold: int = DEFAULT_MIN_THRESHOLD,
) -> tuple[str, bytes]:
    """Custodian side: check the share, then sign the epoch key it belongs to.

    The share must come from :func:`underseal.threshold.open_share`, which
    checks the dealer's signature. The custodian service must also refuse to
    endorse a second key for an epoch it has already endorsed (that is state,
    kept by the service, not by this function).

    Raises:
        Malformed: the share's threshold is below ``min_threshold``.
        InvalidProof: the share does not match the commitments.
    """
    if share.threshold < min_threshold:
        raise Malformed(f"epoch key threshold is {share.threshold}; policy needs {min_threshold}")
    share.verify()
    unsigned = EpochCertificate(share.epoch, share.commitments, {})
    return custodian_id, key.sign(domains.EPOCH_ENDORSEMENT + unsigned.body()).signature
