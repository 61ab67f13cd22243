"""Hotlist bundles (``underseal.bundle.open_bundle``), as a camera receives them.

The first byte picks the layer: odd, the input is the sealed file as it
arrives; even, the input is the signed body, which the harness signs with the
authority's key and seals to the camera, so the fuzzer reaches the header and
block parsing behind the signature.
"""

from __future__ import annotations

import os

from fuzz.harness import Target, run
from fuzz.keys import CAMERA, EPOCH, NOW, box, signing
from underseal.bundle import (
    _seal_signed,
    _signed_message,
    build_bundle,
    open_bundle,
)
from underseal.errors import UndersealError
from underseal.tokens import TokenKey

AUTHORITY = signing("authority")
CAMERA_KEY = box("camera")


def _bundle(entries: int) -> bytes:
    key = TokenKey(bytes(range(32)))
    pairs = [(key.token(f"7ABC{n:03d}"), bytes([n % 256]) * 8) for n in range(entries)]
    bundle = build_bundle(
        pairs,
        camera_id=CAMERA,
        serial=3,
        epoch=EPOCH,
        not_before=EPOCH * 86_400,
        not_after=(EPOCH + 1) * 86_400,
        token_key=key,
        ref_len=8,
    )
    return bundle.body()


def seeds() -> list[bytes]:
    out = []
    for entries in (0, 1, 5):
        body = _bundle(entries)
        out.append(b"\x00" + body)
        out.append(b"\x01" + seal_bundle_body(body))
    return out


def seal_bundle_body(body: bytes) -> bytes:
    return _seal_signed(
        body + AUTHORITY.sign(_signed_message(body)).signature, CAMERA_KEY.public_key
    )


def check(data: bytes) -> None:
    if not data:
        return
    sealed = data[1:] if data[0] & 1 else seal_bundle_body(data[1:])
    bundle = open_bundle(
        sealed,
        camera_id=CAMERA,
        camera_key=CAMERA_KEY,
        authority=AUTHORITY.verify_key,
        now=NOW,
        min_serial=1,
    )
    bundle.lookup(os.urandom(16))
    bundle.match("7ABC001")


TARGET = Target("bundle", check, seeds, (UndersealError,))

if __name__ == "__main__":
    run(TARGET)
