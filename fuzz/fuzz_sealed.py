"""Sealed records (``SealedRecord.from_bytes``), as the records server and custodians receive them.

Parsed, then checked against the camera's key, then opened with the epoch
secret (a record whose bytes parse must still fail only with the error family).
"""

from __future__ import annotations

import os

from fuzz.harness import Target, run
from fuzz.keys import CAMERA, EPOCH, signing
from underseal.errors import UndersealError
from underseal.sealed import RecordHeader, SealedRecord, open_record, seal_record
from underseal.threshold import EpochSecret

DEVICE = signing("device")
SECRET = EpochSecret(EPOCH, b"\x07" + bytes(31))  # a fixed scalar below the group order


def seeds() -> list[bytes]:
    out = []
    for evidence in (b"", b"evidence", b"{}" * 100):
        record = seal_record(
            header=RecordHeader(
                record_id=os.urandom(16), camera_id=CAMERA, epoch=EPOCH, match_token=os.urandom(16)
            ),
            evidence=evidence,
            epoch_key=SECRET.public_key(),
            device=DEVICE,
        )
        out.append(record.to_bytes())
    return out


def check(data: bytes) -> None:
    record = SealedRecord.from_bytes(data)
    record.verify(DEVICE.verify_key)
    open_record(record, SECRET)


TARGET = Target("sealed_record", check, seeds, (UndersealError,))

if __name__ == "__main__":
    run(TARGET)
