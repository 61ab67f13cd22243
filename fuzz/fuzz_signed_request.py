"""Camera signed requests (``signed_requests.verify_request``), as the server receives them.

The input is split into the four signature headers, the path and the body
(NUL-separated). Odd first byte: the headers as given; even: the timestamp,
nonce and signature are replaced by a valid signature over the fuzzed path
and body, so the fuzzer reaches the checks after the signature.
"""

from __future__ import annotations

from fuzz.harness import Target, run
from fuzz.keys import CAMERA, NOW, signing
from underseal.errors import UndersealError
from underseal.signed_requests import (
    CAMERA_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign_request,
)
from underseal.signed_requests import verify_request as verify

DEVICE = signing("device")
NAMES = (CAMERA_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)


def _key_for(camera_id: str) -> object:
    return DEVICE.verify_key if camera_id == CAMERA else None


def seeds() -> list[bytes]:
    out = []
    for path, body in [("/v1/camera/config", b""), ("/v1/camera/records", b'{"records":[]}')]:
        headers = sign_request(
            DEVICE, camera_id=CAMERA, method="POST", path=path, body=body, now=NOW
        )
        fields = [headers[name].encode() for name in NAMES] + [path.encode(), body]
        out.append(b"\x01" + b"\x00".join(fields))
        out.append(b"\x00" + b"\x00".join(fields))
    return out


def check(data: bytes) -> None:
    if not data:
        return
    parts = data[1:].split(b"\x00", 5)
    parts += [b""] * (6 - len(parts))
    texts = [part.decode("utf-8", "replace") for part in parts[:5]]
    path, body = texts[4], parts[5]
    headers = {name: value for name, value in zip(NAMES, texts[:4], strict=True) if value}
    if not data[0] & 1 and texts[0]:
        try:
            signed = sign_request(
                DEVICE, camera_id=texts[0], method="POST", path=path, body=body, now=NOW
            )
        except UndersealError:
            signed = {}
        headers.update({k: v for k, v in signed.items() if k != CAMERA_HEADER})
    verify(headers, method="POST", path=path, body=body, key_for=_key_for, now=NOW)  # type: ignore[arg-type]


TARGET = Target("signed_request", check, seeds, (UndersealError,))

if __name__ == "__main__":
    run(TARGET)
