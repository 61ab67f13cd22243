from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import httpx2
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from nacl.signing import SigningKey, VerifyKey

from tests.helpers import NOW
from tests.vectors import keys
from underseal import domains
from underseal.encoding import b64e, canonical_json
from underseal.errors import (
    Expired,
    InvalidSignature,
    Malformed,
    NotYetValid,
    UndersealError,
)
from underseal.signed_requests import (
    CAMERA_HEADER,
    MAX_SKEW,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignedRequest,
    sign_request,
    verify_request,
)

CAMERA = keys.signing("camera cam-1")
# cam-2 shares cam-1's key, so a changed camera id reaches the signature check.
CAMERAS = {"cam-1": CAMERA.verify_key, "cam-2": CAMERA.verify_key}
NONCE = bytes(range(16))
BODY = b'{"records":["secret-body-7ABC123"]}'
PATH = "/v1/records?batch=7"
HEADERS = (CAMERA_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)


def signed(
    *,
    key: SigningKey = CAMERA,
    camera_id: str = "cam-1",
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    now: int = NOW,
) -> dict[str, str]:
    return sign_request(
        key, camera_id=camera_id, method=method, path=path, body=body, now=now, nonce=NONCE
    )


def verify(
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    now: int = NOW,
) -> SignedRequest:
    return verify_request(
        headers, method=method, path=path, body=body, key_for=CAMERAS.get, now=now
    )


def noncanonical(text: str) -> str:
    """A second spelling of the same bytes: set one of the unused trailing bits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    other = text[:-1] + alphabet[alphabet.index(text[-1]) | 1]
    assert other != text
    decoded = base64.urlsafe_b64decode(other + "=" * (-len(other) % 4))
    assert decoded == base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return other


def test_round_trip() -> None:
    headers = signed()
    assert set(headers) == set(HEADERS)
    assert headers[CAMERA_HEADER] == "cam-1"
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    assert headers[NONCE_HEADER] == b64e(NONCE)
    assert verify(headers) == SignedRequest("cam-1", NOW, NONCE, NOW + MAX_SKEW)


def test_expiry_follows_the_skew_and_the_timestamp_not_the_clock() -> None:
    headers = signed(now=NOW - 4)
    result = verify_request(
        headers, method="POST", path=PATH, body=BODY, key_for=CAMERAS.get, now=NOW, max_skew=10
    )
    assert result == SignedRequest("cam-1", NOW - 4, NONCE, NOW - 4 + 10)


def test_the_nonce_is_random_unless_fixed() -> None:
    nonces = set()
    for _ in range(2):
        headers = sign_request(CAMERA, camera_id="cam-1", method="POST", path=PATH, body=BODY,
                               now=NOW)  # fmt: skip
        nonces.add(verify(headers).nonce)
    assert len(nonces) == 2
    assert all(len(n) == 16 for n in nonces)


def test_the_method_is_compared_in_upper_case() -> None:
    assert verify(signed(method="post"), method="POST").camera_id == "cam-1"
    assert verify(signed(method="POST"), method="post").camera_id == "cam-1"


def test_signer_checks_its_inputs() -> None:
    with pytest.raises(Malformed, match="nonce must be 16 bytes"):
        sign_request(CAMERA, camera_id="cam-1", method="GET", path="/", body=b"", now=NOW,
                     nonce=bytes(15))  # fmt: skip
    with pytest.raises(Malformed, match="camera_id"):
        signed(camera_id="cam 1")


@pytest.mark.parametrize("missing", HEADERS)
def test_every_header_is_required(missing: str) -> None:
    headers = signed()
    del headers[missing]
    with pytest.raises(Malformed, match="missing"):
        verify(headers)


def arabic_indic(text: str) -> str:
    return "".join(chr(0x660 + int(c)) for c in text)


def fullwidth(text: str) -> str:
    return "".join(chr(0xFF10 + int(c)) for c in text)


@pytest.mark.parametrize(
    "stamp",
    [
        "",
        "0" + str(NOW),
        "00",
        "+" + str(NOW),
        "-" + str(NOW),
        " " + str(NOW),
        str(NOW) + " ",
        str(NOW) + "\n",
        str(NOW) + ".0",
        "1e9",
        "0x10",
        "1_000",
        arabic_indic(str(NOW)),
        fullwidth(str(NOW)),
        "²",
        "1" * 14,
        "9" * 40,
    ],
)
def test_badly_spelled_timestamps_are_malformed(stamp: str) -> None:
    headers = signed()
    headers[TIMESTAMP_HEADER] = stamp
    with pytest.raises(Malformed, match="timestamp"):
        verify(headers)


@pytest.mark.parametrize("stamp", [1 << 40, (1 << 40) + 1, 9_999_999_999_999])
def test_timestamps_past_2_to_the_40_are_malformed_even_when_signed(stamp: int) -> None:
    with pytest.raises(Malformed, match="out of range"):
        verify(signed(now=stamp), now=stamp)


@pytest.mark.parametrize("stamp", [0, (1 << 40) - 1])
def test_the_timestamp_range_is_inclusive_below_2_to_the_40(stamp: int) -> None:
    assert verify(signed(now=stamp), now=stamp).timestamp == stamp


GOOD = signed()


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (NONCE_HEADER, ""),
        (NONCE_HEADER, b64e(bytes(15))),
        (NONCE_HEADER, b64e(bytes(17))),
        (NONCE_HEADER, GOOD[NONCE_HEADER] + "=="),
        (NONCE_HEADER, base64.b64encode(b"\xfb" * 16).decode().rstrip("=")),
        (NONCE_HEADER, noncanonical(GOOD[NONCE_HEADER])),
        (NONCE_HEADER, GOOD[NONCE_HEADER][:-1] + "é"),
        (SIGNATURE_HEADER, ""),
        (SIGNATURE_HEADER, GOOD[SIGNATURE_HEADER][:-2]),
        (SIGNATURE_HEADER, GOOD[SIGNATURE_HEADER] + "AA"),
        (SIGNATURE_HEADER, GOOD[SIGNATURE_HEADER] + "=="),
        (SIGNATURE_HEADER, GOOD[SIGNATURE_HEADER] + "A"),
        (SIGNATURE_HEADER, base64.b64encode(b"\xfb" * 64).decode().rstrip("=")),
        (SIGNATURE_HEADER, noncanonical(GOOD[SIGNATURE_HEADER])),
        (SIGNATURE_HEADER, " " + GOOD[SIGNATURE_HEADER]),
        (CAMERA_HEADER, ""),
        (CAMERA_HEADER, "cam 1"),
        (CAMERA_HEADER, "-cam-1"),
        (CAMERA_HEADER, "c" * 65),
    ],
)
def test_badly_formed_headers_are_malformed(header: str, value: str) -> None:
    headers = dict(GOOD)
    headers[header] = value
    with pytest.raises(Malformed):
        verify(headers)


def test_an_unknown_camera_is_an_invalid_signature() -> None:
    asked: list[str] = []

    def key_for(camera_id: str) -> VerifyKey | None:
        asked.append(camera_id)
        return None

    with pytest.raises(InvalidSignature, match="registered camera"):
        verify_request(signed(), method="POST", path=PATH, body=BODY, key_for=key_for, now=NOW)
    assert asked == ["cam-1"]


def test_a_signature_by_another_key_is_refused() -> None:
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify(signed(key=keys.signing("another camera")))


@pytest.mark.parametrize(
    ("change", "request_"),
    [
        ({}, {"method": "PUT"}),
        ({}, {"method": "GET"}),
        ({}, {"path": "/v1/records?batch=8"}),
        ({}, {"path": "/v1/records"}),
        ({}, {"path": "/v1/records?batch=7&x=1"}),
        ({}, {"path": "/v1/records/?batch=7"}),
        ({}, {"body": b""}),
        ({}, {"body": BODY + b" "}),
        ({}, {"body": BODY[:-1]}),
        ({CAMERA_HEADER: "cam-2"}, {}),
        ({TIMESTAMP_HEADER: str(NOW + 1)}, {}),
        ({TIMESTAMP_HEADER: str(NOW - 1)}, {}),
        ({NONCE_HEADER: b64e(bytes(16))}, {}),
        ({NONCE_HEADER: b64e(NONCE[::-1])}, {}),
    ],
)
def test_any_change_breaks_the_signature(change: dict[str, str], request_: dict[str, Any]) -> None:
    headers = {**signed(), **change}
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify(headers, **request_)


methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])


@given(st.binary(max_size=512), st.binary(max_size=512), st.text(), st.text(), methods, methods)
def test_a_signature_covers_exactly_its_request(
    body: bytes, other_body: bytes, path: str, other_path: str, method: str, other_method: str
) -> None:
    headers = signed(body=body, path=path, method=method)
    assert verify(headers, body=body, path=path, method=method).camera_id == "cam-1"
    assume((body, path, method) != (other_body, other_path, other_method))
    with pytest.raises(InvalidSignature):
        verify(headers, body=other_body, path=other_path, method=other_method)


def request_message(label: bytes) -> bytes:
    fields = {
        "body_sha256": b64e(hashlib.sha256(BODY).digest()),
        "camera_id": "cam-1",
        "method": "POST",
        "nonce": b64e(NONCE),
        "path": PATH,
        "timestamp": NOW,
    }
    return label + canonical_json(fields)


def test_a_signature_under_another_domain_label_does_not_verify() -> None:
    headers = signed()
    # The hand-built message is the real one under the right label...
    right = CAMERA.sign(request_message(domains.CAMERA_REQUEST)).signature
    assert b64e(right) == headers[SIGNATURE_HEADER]
    # ...and the same fields signed for another purpose do not pass.
    for label in (domains.WARRANT_SIGNATURE, domains.RECORD_SIGNATURE, b""):
        headers[SIGNATURE_HEADER] = b64e(CAMERA.sign(request_message(label)).signature)
        with pytest.raises(InvalidSignature):
            verify(headers)


def test_the_clock_window_is_closed_at_max_skew() -> None:
    headers = signed()
    assert verify(headers, now=NOW + MAX_SKEW).timestamp == NOW
    assert verify(headers, now=NOW - MAX_SKEW).timestamp == NOW
    with pytest.raises(Expired):
        verify(headers, now=NOW + MAX_SKEW + 1)
    with pytest.raises(NotYetValid):
        verify(headers, now=NOW - MAX_SKEW - 1)


def test_a_forgery_learns_nothing_about_the_clock() -> None:
    # The signature is checked before the window: an old forged request is a
    # bad signature, not an expired one.
    headers = signed(key=keys.signing("forger"))
    for now in (NOW + 10 * MAX_SKEW, NOW - 10 * MAX_SKEW):
        with pytest.raises(InvalidSignature):
            verify(headers, now=now)


@pytest.mark.parametrize("spell", [str.upper, str.title, str.lower])
def test_case_insensitive_headers_work(spell: Callable[[str], str]) -> None:
    headers = httpx2.Headers({spell(k): v for k, v in signed().items()})
    assert verify(headers) == SignedRequest("cam-1", NOW, NONCE, NOW + MAX_SKEW)


def test_a_plain_dict_must_use_lower_case_names() -> None:
    with pytest.raises(Malformed, match="missing"):
        verify({k.title(): v for k, v in signed().items()})


@pytest.mark.parametrize("repeated", HEADERS)
def test_a_repeated_header_is_refused(repeated: str) -> None:
    good = signed()
    headers = httpx2.Headers([*good.items(), (repeated, good[repeated])])
    with pytest.raises((Malformed, InvalidSignature)):
        verify(headers)


def test_errors_never_quote_the_body_or_the_signature() -> None:
    good = signed()
    cases: list[tuple[dict[str, str], dict[str, Any]]] = [
        ({}, {"body": b"other"}),
        ({}, {"now": NOW + 10 * MAX_SKEW}),
        ({}, {"now": NOW - 10 * MAX_SKEW}),
        ({SIGNATURE_HEADER: good[SIGNATURE_HEADER] + "A"}, {}),
        ({SIGNATURE_HEADER: good[SIGNATURE_HEADER][:-4]}, {}),
        ({SIGNATURE_HEADER: b64e(bytes(64))}, {}),
        ({NONCE_HEADER: good[NONCE_HEADER] + "A"}, {}),
        ({TIMESTAMP_HEADER: good[SIGNATURE_HEADER]}, {}),
        ({CAMERA_HEADER: good[SIGNATURE_HEADER]}, {}),
        ({CAMERA_HEADER: "unknown"}, {}),
    ]
    secrets = [BODY.decode(), "secret-body-7ABC123", "7ABC123", good[SIGNATURE_HEADER],
               good[SIGNATURE_HEADER][:16], good[NONCE_HEADER]]  # fmt: skip
    for change, request_ in cases:
        with pytest.raises(UndersealError) as caught:
            verify({**good, **change}, **request_)
        assert caught.value.__cause__ is None
        for text in (str(caught.value), repr(caught.value), caught.value.message):
            for secret in secrets:
                assert secret not in text
