"""Legal hold: a custodian's partial decryption of a held record, re-sealed to the case key.

A record under a warrant's legal hold must outlive its epoch key, which is
destroyed on schedule like every other. Before that, each custodian seals
its partial ``D_i = s_i·R`` (with its Chaum–Pedersen proof) to the case key
that the court signed into the warrant. After the epoch key is gone, the
holder of the case key opens ``t`` escrows, the proofs are checked against
the epoch's public commitments, and the record opens as before. Nobody
sees the record at re-sealing time, and no other record of the epoch
survives: their partials were never escrowed.
"""

from __future__ import annotations

from typing import Final

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from underseal.encoding import b64e, canonical_json, check_identifier, parse_canonical_json
from underseal.errors import DecryptionFailed, Malformed
from underseal.threshold import Partial

__all__ = ["open_escrow", "seal_escrow"]

_FIELDS: Final = frozenset({"record_id", "warrant_id", "partial"})


def seal_escrow(
    partial: Partial, *, record_id: bytes, warrant_id: str, case_key: PublicKey
) -> bytes:
    """Seal a custodian's partial for one held record to the warrant's case key."""
    body = canonical_json(
        {
            "record_id": b64e(record_id),
            "warrant_id": check_identifier(warrant_id, field="warrant id"),
            "partial": partial.to_json(),
        }
    )
    return bytes(SealedBox(case_key).encrypt(body))


def open_escrow(
    sealed: bytes, case_key: PrivateKey, *, record_id: bytes, warrant_id: str
) -> Partial:
    """Open an escrowed partial; its proof is checked when partials are combined.

    Raises:
        DecryptionFailed: not sealed to this case key.
        Malformed: not an escrow, or for another record or warrant.
    """
    try:
        body = SealedBox(case_key).decrypt(bytes(sealed))
    except (nacl.exceptions.CryptoError, TypeError, ValueError):
        raise DecryptionFailed("escrow does not open with this case key") from None
    fields = parse_canonical_json(body, what="escrow")
    if set(fields) != _FIELDS:
        raise Malformed("escrow has the wrong fields")
    if fields["record_id"] != b64e(record_id) or fields["warrant_id"] != warrant_id:
        raise Malformed("escrow is for another record or warrant")
    return Partial.from_json(fields["partial"])
