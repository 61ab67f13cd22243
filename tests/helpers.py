"""Small builders shared by the core tests."""

from __future__ import annotations

import os

from hypothesis import strategies as st

from tests.vectors import keys
from underseal.sealed import RecordHeader, SealedRecord, seal_record
from underseal.threshold import EpochPublicKey

EPOCH = keys.EPOCH
NOW = keys.NOW

#: Canonical-looking plate text: 2 to 8 letters and digits.
plate_text = st.text(alphabet="ABCDEFGHJKMNPRTUVWXY0123456789", min_size=2, max_size=8)


def header(
    *, camera_id: str = "cam-1", epoch: int = EPOCH, token: bytes | None = None
) -> RecordHeader:
    return RecordHeader(
        record_id=os.urandom(16),
        camera_id=camera_id,
        epoch=epoch,
        match_token=token if token is not None else os.urandom(16),
    )


def record(
    epoch_key: EpochPublicKey, evidence: bytes = b"evidence", **kwargs: object
) -> SealedRecord:
    return seal_record(
        header=header(epoch=epoch_key.epoch, **kwargs),  # type: ignore[arg-type]
        evidence=evidence,
        epoch_key=epoch_key,
        device=keys.signing("device"),
    )


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)
