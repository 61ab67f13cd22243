"""What a key custodian computes for a warrant: a partial decryption, only in scope.

A custodian must not be handed a bare ephemeral point ``R``: a rogue server
could pair an in-scope header with an out-of-scope record's ``R``. So the
custodian takes the whole sealed record, checks the camera's signature (which
binds ``R`` to the header), verifies the warrant itself, checks the scope,
and only then computes ``s_i·R`` with its proof.
"""

from __future__ import annotations

from collections.abc import Mapping

from nacl.signing import VerifyKey

from underseal.errors import Malformed
from underseal.sealed import SealedRecord
from underseal.threshold import KeyShare, Partial, partial_decrypt
from underseal.tokens import TokenKey
from underseal.warrant import check_scope, verify_warrant

__all__ = ["partial_for_warrant"]


def partial_for_warrant(
    share: KeyShare,
    record: SealedRecord,
    *,
    warrant: bytes,
    courts: Mapping[str, VerifyKey],
    device: VerifyKey,
    token_key: TokenKey,
    now: int,
) -> Partial:
    """Verify everything a custodian can verify, then answer with ``D_i`` and its proof.

    ``device`` is the registered key of the camera the record names, and
    ``token_key`` the token key of the record's epoch, both from the
    custodian's own registry. Counting records against ``max_records`` is
    the custodian service's job (it holds the count).

    Raises:
        Malformed: the record is for another epoch than the share.
        InvalidSignature: the record is not signed by its camera, or the
            warrant not by a registered court.
        Expired, NotYetValid: the warrant is not valid at ``now``.
        OutOfScope: the warrant does not cover the record.
    """
    # 1. The record is the camera's own (this binds R to the header).
    record.verify(device)
    # 2. The warrant is a court's, and valid now.
    verified = verify_warrant(warrant, courts=courts, now=now)
    # 3. The share belongs to the record's epoch.
    if record.header.epoch != share.epoch:
        raise Malformed("record belongs to another epoch than this share")
    # 4. The warrant covers the record.
    check_scope(verified, record.header, token_key=token_key)
    return partial_decrypt(share, record.ephemeral)
