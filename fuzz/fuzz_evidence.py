"""Evidence (``underseal.evidence.Evidence.from_bytes``): what an opened record holds."""

from __future__ import annotations

from fuzz.harness import Target, run
from fuzz.keys import CAMERA, NOW
from underseal.encoding import b64e
from underseal.errors import UndersealError
from underseal.evidence import Evidence


def seeds() -> list[bytes]:
    return [
        Evidence(
            plate=plate,
            confidence_pm=970,
            observed_at=NOW,
            camera_id=CAMERA,
            latitude_e6=39_780_000,
            longitude_e6=-89_650_000,
            hotlist_ref=b64e(bytes(8)),
            crop_jpeg=crop,
        ).to_bytes()
        for plate, crop in [("7ABC123", ""), ("A1", b64e(b"\xff\xd8\xff" + bytes(40)))]
    ]


def check(data: bytes) -> None:
    Evidence.from_bytes(data)


TARGET = Target("evidence", check, seeds, (UndersealError,))

if __name__ == "__main__":
    run(TARGET)
