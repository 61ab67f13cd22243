from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import EPOCH, NOW, flip, plate_text
from tests.vectors import keys
from underseal import bundle as bundle_module
from underseal.bundle import BundleHeader, HotlistBundle, build_bundle, open_bundle, seal_bundle
from underseal.epochs import epoch_end
from underseal.errors import (
    DecryptionFailed,
    Expired,
    InvalidSignature,
    Malformed,
    NotYetValid,
    Rollback,
    UndersealError,
    WrongRecipient,
)
from underseal.plates import fold
from underseal.tokens import HMAC_SHA256, TokenKey

AUTHORITY = keys.signing("hotlist authority")
CAMERA = keys.box("camera")
KEY = keys.token_key()


def make(plates: list[str], *, serial: int = 5, key: TokenKey = KEY) -> HotlistBundle:
    return build_bundle(
        ((key.token(p), i.to_bytes(8, "big")) for i, p in enumerate(plates)),
        camera_id="cam-1", serial=serial, epoch=EPOCH,
        not_before=NOW - 60, not_after=NOW + 3_600, token_key=key,
    )  # fmt: skip


def load(sealed: bytes, **overrides: object) -> HotlistBundle:
    args: dict[str, object] = {
        "camera_id": "cam-1", "camera_key": CAMERA, "authority": AUTHORITY.verify_key,
        "now": NOW, "min_serial": 0,
    }  # fmt: skip
    args.update(overrides)
    return open_bundle(sealed, **args)  # type: ignore[arg-type]


@given(st.sets(plate_text, max_size=40), st.lists(plate_text, max_size=20))
def test_matches_exactly_the_hotlist(hotlist: set[str], reads: list[str]) -> None:
    sealed = seal_bundle(make(sorted(hotlist)), authority=AUTHORITY, camera=CAMERA.public_key)
    opened = load(sealed)
    folded = {fold(p) for p in hotlist}
    assert len(opened) == len(folded)
    for plate in [*hotlist, *reads]:
        assert (opened.match(plate) is not None) == (fold(plate) in folded)


def test_a_hit_carries_its_reference_and_serial() -> None:
    opened = load(seal_bundle(make(["7ABC123", "5XYZ999"]), authority=AUTHORITY,
                              camera=CAMERA.public_key))  # fmt: skip
    hit = opened.match("7abc-123")
    assert hit is not None
    assert hit.ref == (0).to_bytes(8, "big")
    assert hit.serial == 5
    assert hit.token == KEY.token("7ABC123")
    # Look-alike characters fold together: an OCR read of 7A8C1Z3 still hits.
    assert opened.match("7A8C1Z3") is not None
    assert opened.match("7ABC124") is None


def test_tokens_straddling_two_entries_do_not_match() -> None:
    tokens = sorted([bytes([0, 0]) + b"A" * 14, bytes([0, 0]) + b"B" * 14])
    header = BundleHeader(camera_id="c", serial=1, epoch=0, not_before=0, not_after=10,
                          scheme=HMAC_SHA256, count=2, ref_len=0)  # fmt: skip
    b = HotlistBundle(header=header, token_key=KEY, data=b"".join(tokens))
    assert b.lookup(tokens[0]) is not None
    assert b.lookup(b"A" * 8 + bytes([0, 0]) + b"B" * 6) is None


@pytest.fixture(scope="module")
def sealed() -> bytes:
    return seal_bundle(make(["7ABC123", "8XYZ999", "5SAM123"]), authority=AUTHORITY,
                       camera=CAMERA.public_key)  # fmt: skip


@given(st.data())
def test_any_single_bit_flip_is_rejected(sealed: bytes, data: st.DataObject) -> None:
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
    with pytest.raises(DecryptionFailed if bit >= 40 else Malformed):
        load(flip(sealed, bit))


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"min_serial": 6}, Rollback),
        ({"now": NOW + 3_600}, Expired),
        ({"now": NOW - 61}, NotYetValid),
        ({"camera_id": "cam-2"}, WrongRecipient),
        ({"camera_key": keys.box("other camera")}, DecryptionFailed),
        ({"authority": keys.signing("mallory").verify_key}, InvalidSignature),
    ],
)
def test_refusals(sealed: bytes, overrides: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        load(sealed, **overrides)


def test_an_equal_serial_reloads_after_a_restart(sealed: bytes) -> None:
    assert len(load(sealed, min_serial=5)) == 3


def _sign_and_seal(body: bytes) -> bytes:
    signature = AUTHORITY.sign(bundle_module._signed_message(body)).signature
    return bundle_module._seal_signed(body + signature, CAMERA.public_key)


def test_a_signed_but_unsorted_bundle_is_refused() -> None:
    body = make(["7ABC123", "8XYZ999"]).body()
    tokens_at = len(body) - 2 * (16 + 8)
    swapped = (
        body[:tokens_at] + body[tokens_at + 16 : tokens_at + 32] + body[tokens_at : tokens_at + 16]
    )
    swapped += body[tokens_at + 32 :]
    with pytest.raises(Malformed, match="sorted"):
        load(_sign_and_seal(swapped))


@pytest.mark.parametrize("cut", [1, 16, 40])
def test_a_signed_but_truncated_bundle_is_refused(cut: int) -> None:
    body = make(["7ABC123", "8XYZ999"]).body()
    with pytest.raises(UndersealError):
        load(_sign_and_seal(body[:-cut]))


def test_builder_checks_sizes() -> None:
    with pytest.raises(Malformed):
        build_bundle([(b"short", bytes(8))], camera_id="c", serial=1, epoch=1, not_before=0,
                     not_after=1, token_key=KEY)  # fmt: skip
    with pytest.raises(Malformed, match="window"):
        build_bundle([], camera_id="c", serial=1, epoch=1, not_before=5, not_after=5,
                     token_key=KEY)  # fmt: skip


def test_an_empty_bundle_matches_nothing() -> None:
    opened = load(seal_bundle(make([]), authority=AUTHORITY, camera=CAMERA.public_key))
    assert len(opened) == 0
    assert opened.match("7ABC123") is None


def test_builder_refuses_what_is_not_pairs() -> None:
    with pytest.raises(Malformed, match="pairs"):
        build_bundle([(b"x" * 16, bytes(8), b"extra")], camera_id="c", serial=1, epoch=1,  # type: ignore[list-item]
                     not_before=0, not_after=1, token_key=KEY)  # fmt: skip
    with pytest.raises(Malformed, match="references"):
        build_bundle([(b"x" * 16, bytes(7))], camera_id="c", serial=1, epoch=1, not_before=0,
                     not_after=1, token_key=KEY)  # fmt: skip


def test_a_multi_chunk_bundle_opens_from_a_file_and_detects_reordering(tmp_path: Path) -> None:
    hotlist = [f"{i:07d}" for i in range(6_000)]  # 6,000 x 24 bytes: three 64 KiB chunks
    sealed = seal_bundle(make(hotlist), authority=AUTHORITY, camera=CAMERA.public_key)
    path = tmp_path / "bundle.sealed"
    path.write_bytes(sealed)
    with path.open("rb") as source:
        opened = load(source)  # type: ignore[arg-type]
    assert len(opened) == 6_000
    assert opened.match("0004242") is not None
    chunk = bundle_module.CHUNK_BYTES + 17
    start = len(bundle_module.SEALED_MAGIC) + 80 + 24
    first, second = sealed[start : start + chunk], sealed[start + chunk : start + 2 * chunk]
    swapped = sealed[:start] + second + first + sealed[start + 2 * chunk :]
    with pytest.raises(DecryptionFailed):
        load(swapped)
    with pytest.raises(DecryptionFailed, match="truncated"):
        load(sealed[: start + chunk])


def _header(count: int) -> BundleHeader:
    return BundleHeader(camera_id="c", serial=1, epoch=EPOCH, not_before=NOW, not_after=NOW + 1,
                        scheme=HMAC_SHA256, count=count, ref_len=0)  # fmt: skip


def test_a_hand_built_bundle_must_be_sorted() -> None:
    tokens = sorted([b"\x01" * 16, b"\x02" * 16])
    HotlistBundle(header=_header(2), token_key=KEY, data=b"".join(tokens))
    with pytest.raises(Malformed, match="sorted"):
        HotlistBundle(header=_header(2), token_key=KEY, data=b"".join(reversed(tokens)))
    with pytest.raises(Malformed, match="sorted"):
        HotlistBundle(header=_header(2), token_key=KEY, data=tokens[0] * 2)


def test_lookup_refuses_what_is_not_a_token() -> None:
    opened = make(["7ABC123"])
    with pytest.raises(Malformed):
        opened.lookup("7ABC123" * 3)  # type: ignore[arg-type]


def test_a_window_past_the_epoch_is_refused() -> None:
    # Tokens are keyed per epoch; a window across midnight would key hits wrongly.
    with pytest.raises(Malformed, match="within the bundle's epoch"):
        BundleHeader(camera_id="c", serial=1, epoch=EPOCH, not_before=NOW,
                     not_after=epoch_end(EPOCH) + 1, scheme=HMAC_SHA256, count=0,
                     ref_len=0)  # fmt: skip


def test_camera_ids_follow_the_identifier_rule() -> None:
    for bad in ("", "has space", "x" * 65, "nul\x00", True):
        with pytest.raises(Malformed, match="camera_id"):
            BundleHeader(camera_id=bad, serial=1, epoch=EPOCH, not_before=NOW,  # type: ignore[arg-type]
                         not_after=NOW + 1, scheme=HMAC_SHA256, count=0, ref_len=0)  # fmt: skip


def test_an_oversized_bundle_is_refused_before_it_is_buffered(sealed: bytes) -> None:
    with pytest.raises(Malformed, match="larger than this camera accepts"):
        load(sealed, max_bytes=100)


class _Trickle(io.RawIOBase):
    """A raw stream that returns at most 7 bytes per read, as sockets and pipes may."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(7, len(buffer), len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_short_reads_still_open(sealed: bytes) -> None:
    assert len(load(_Trickle(sealed))) == 3  # type: ignore[arg-type]


def test_rollback_protection_cannot_be_left_out(sealed: bytes) -> None:
    with pytest.raises(TypeError, match="min_serial"):
        open_bundle(sealed, camera_id="cam-1", camera_key=CAMERA,  # type: ignore[call-arg]
                    authority=AUTHORITY.verify_key, now=NOW)  # fmt: skip
