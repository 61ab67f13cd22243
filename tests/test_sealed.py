from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import EPOCH, flip, record
from tests.vectors import keys
from underseal.errors import DecryptionFailed, InvalidSignature, Malformed
from underseal.sealed import SealedRecord, open_record, open_record_with_shared_point
from underseal.threshold import EpochSecret, combine_partials, partial_decrypt, split_secret

SECRET = keys.epoch_secret()
DEVICE = keys.signing("device").verify_key


@given(st.binary(max_size=2048))
def test_round_trip(evidence: bytes) -> None:
    rec = record(SECRET.public_key(), evidence)
    parsed = SealedRecord.from_bytes(rec.to_bytes())
    assert parsed == rec
    parsed.verify(DEVICE)
    assert open_record(parsed, SECRET) == evidence


def test_opens_with_t_partials_and_not_with_the_wrong_key() -> None:
    dealt = split_secret(SECRET, threshold=2, custodians=3)
    rec = record(dealt.public_key, b"crop and plate")
    partials = [partial_decrypt(s, rec.ephemeral) for s in dealt.shares[1:]]
    shared = combine_partials(partials, rec.ephemeral, commitments=dealt.commitments)
    assert open_record_with_shared_point(rec, shared, dealt.public_key) == b"crop and plate"
    with pytest.raises(DecryptionFailed):
        open_record(rec, EpochSecret.generate(EPOCH))
    with pytest.raises(DecryptionFailed):
        open_record_with_shared_point(rec, partials[0].point, dealt.public_key)


def test_another_epochs_key_does_not_open() -> None:
    other = EpochSecret(EPOCH + 1, SECRET.secret_bytes())
    with pytest.raises(DecryptionFailed, match="another epoch"):
        open_record(record(SECRET.public_key()), other)


@pytest.fixture(scope="module")
def wire() -> bytes:
    return record(SECRET.public_key(), b"x" * 64).to_bytes()


@given(st.data())
def test_any_single_bit_flip_is_rejected(wire: bytes, data: st.DataObject) -> None:
    bit = data.draw(st.integers(0, len(wire) * 8 - 1))
    with pytest.raises((Malformed, InvalidSignature, DecryptionFailed)):
        parse_verify_open(flip(wire, bit))


def parse_verify_open(data: bytes) -> bytes:
    rec = SealedRecord.from_bytes(data)
    rec.verify(DEVICE)
    return open_record(rec, SECRET)


def test_a_changed_header_fails_even_when_re_signed() -> None:
    # A hacked camera (or server) that re-signs a record under another header
    # still cannot make it open: the header is the AEAD's associated data.
    rec = record(SECRET.public_key())
    moved = SealedRecord(
        rec.header.__class__(
            record_id=rec.header.record_id, camera_id="cam-2", epoch=EPOCH,
            match_token=rec.header.match_token,
        ),
        rec.ephemeral, rec.nonce, rec.ciphertext, b"",
    )  # fmt: skip
    resigned = SealedRecord(
        moved.header, moved.ephemeral, moved.nonce, moved.ciphertext,
        keys.signing("device").sign(moved.signed_message()).signature,
    )  # fmt: skip
    resigned.verify(DEVICE)
    with pytest.raises(DecryptionFailed):
        open_record(resigned, SECRET)


def test_another_cameras_key_does_not_verify() -> None:
    with pytest.raises(InvalidSignature):
        record(SECRET.public_key()).verify(keys.signing("other device").verify_key)


def test_evidence_size_is_bounded() -> None:
    with pytest.raises(Malformed, match="larger than"):
        record(SECRET.public_key(), b"x" * (512 * 1024 + 1))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda w: w.replace(b'"ephemeral":"', b'"ephemeral":"A'),
        lambda w: w.replace(b'"version":1', b'"version":2'),
        lambda w: w[:-1],
        lambda w: w.replace(b'"alert_size":0', b'"alert_size":-1'),
    ],
)
def test_malformed_wire_is_refused(wire: bytes, mutate: object) -> None:
    with pytest.raises(Malformed):
        SealedRecord.from_bytes(mutate(wire))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("old", "new"),
    [(b'"version":1', b'"version":true'), (b'"alert_size":0', b'"alert_size":false')],
)
def test_a_second_spelling_of_a_record_is_refused(wire: bytes, old: bytes, new: bytes) -> None:
    # True == 1 in Python: without a type check this re-encodes to the signed bytes.
    with pytest.raises(Malformed):
        SealedRecord.from_bytes(wire.replace(old, new))
