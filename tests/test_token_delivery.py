from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.public import PublicKey, SealedBox
from nacl.signing import SigningKey

from tests.helpers import EPOCH, flip, plate_text
from tests.vectors import keys
from underseal import domains
from underseal.encoding import b64e, canonical_json
from underseal.errors import DecryptionFailed, InvalidSignature, Malformed, UndersealError
from underseal.token_delivery import open_token_key, seal_token_key
from underseal.tokens import HARDENED, HMAC_SHA256, TokenKey, TokenScheme

DEALER = keys.signing("dealer")
ALICE = keys.box("custodian alice")
BOB = keys.box("custodian bob")
KEY = keys.token_key()


def sealed_to_alice(key: TokenKey = KEY, *, epoch: int = EPOCH) -> bytes:
    return seal_token_key(key, epoch=epoch, recipient=ALICE.public_key, dealer=DEALER)


def open_as_alice(sealed: bytes, *, epoch: int = EPOCH) -> TokenKey:
    return open_token_key(sealed, ALICE, dealer=DEALER.verify_key, epoch=epoch)


def fields(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "epoch": EPOCH,
        "key": b64e(KEY.secret_bytes()),
        "scheme": KEY.scheme.to_json(),
        "recipient": b64e(bytes(ALICE.public_key)),
    }
    body.update(changes)
    return body


def deliver(
    body: bytes,
    *,
    to: PublicKey = ALICE.public_key,
    signer: SigningKey = DEALER,
    label: bytes = domains.TOKEN_KEY_DELIVERY,
) -> bytes:
    """A hand-built delivery, for inputs the real sealer never makes."""
    return bytes(SealedBox(to).encrypt(body + signer.sign(label + body).signature))


@pytest.mark.parametrize("scheme", [HMAC_SHA256, HARDENED])
def test_round_trip(scheme: TokenScheme) -> None:
    key = keys.token_key(scheme)
    opened = open_as_alice(sealed_to_alice(key))
    assert opened.scheme == scheme
    assert opened.secret_bytes() == key.secret_bytes()
    for plate in ("7ABC123", "5XYZ999"):
        assert opened.token(plate) == key.token(plate)
    assert opened.token("7ABC123") != opened.token("7ABC124")


@given(st.binary(min_size=32, max_size=32), plate_text)
def test_round_trip_of_any_key(secret: bytes, plate: str) -> None:
    key = TokenKey(secret)
    assert open_as_alice(sealed_to_alice(key)).token(plate) == key.token(plate)


def test_sealing_is_randomised() -> None:
    first, second = sealed_to_alice(), sealed_to_alice()
    assert first != second
    assert open_as_alice(first).secret_bytes() == open_as_alice(second).secret_bytes()


def test_the_hand_built_delivery_matches_the_real_one() -> None:
    # The adversarial inputs below are only meaningful if this builder is right.
    opened = open_as_alice(deliver(canonical_json(fields())))
    assert opened.secret_bytes() == KEY.secret_bytes()
    assert opened.scheme == KEY.scheme


def test_the_wrong_recipient_key_cannot_open() -> None:
    with pytest.raises(DecryptionFailed):
        open_token_key(sealed_to_alice(), BOB, dealer=DEALER.verify_key, epoch=EPOCH)


def test_another_dealer_is_refused() -> None:
    forged = seal_token_key(
        KEY, epoch=EPOCH, recipient=ALICE.public_key, dealer=keys.signing("mallory")
    )
    with pytest.raises(InvalidSignature, match="registered dealer"):
        open_as_alice(forged)
    with pytest.raises(InvalidSignature):
        open_token_key(sealed_to_alice(), ALICE, dealer=keys.signing("x").verify_key, epoch=EPOCH)


@pytest.mark.parametrize(
    "label", [domains.KEY_SHARE, domains.WARRANT_SIGNATURE, domains.BUNDLE_SIGNATURE, b""]
)
def test_a_dealer_signature_for_another_purpose_is_refused(label: bytes) -> None:
    with pytest.raises(InvalidSignature):
        open_as_alice(deliver(canonical_json(fields()), label=label))


@pytest.mark.parametrize("other", [EPOCH - 1, EPOCH + 1, 0])
def test_another_epoch_is_refused(other: int) -> None:
    with pytest.raises(Malformed, match="another epoch"):
        open_as_alice(sealed_to_alice(epoch=other))
    with pytest.raises(Malformed, match="another epoch"):
        open_as_alice(sealed_to_alice(), epoch=other)


def test_a_key_forwarded_to_another_custodian_is_refused() -> None:
    # Signed by the dealer for Alice, then sealed to Bob (as Alice could, if
    # she kept the signed body): Bob opens it but must not accept it.
    forwarded = deliver(canonical_json(fields()), to=BOB.public_key)
    with pytest.raises(Malformed, match="another recipient"):
        open_token_key(forwarded, BOB, dealer=DEALER.verify_key, epoch=EPOCH)


@given(st.data())
def test_any_single_bit_flip_is_rejected(data: st.DataObject) -> None:
    sealed = sealed_to_alice()
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
    with pytest.raises(DecryptionFailed):
        open_as_alice(flip(sealed, bit))


@pytest.mark.parametrize("cut", [0, 1, 31, 32, 47, 48, 49, -1, -16])
def test_a_truncated_delivery_is_rejected(cut: int) -> None:
    sealed = sealed_to_alice()
    with pytest.raises(DecryptionFailed):
        open_as_alice(sealed[:cut])


def test_appended_bytes_are_rejected() -> None:
    with pytest.raises(DecryptionFailed):
        open_as_alice(sealed_to_alice() + b"\x00")


@pytest.mark.parametrize("plain", [b"", b"short", bytes(63)])
def test_a_plaintext_shorter_than_a_signature_is_refused(plain: bytes) -> None:
    with pytest.raises(InvalidSignature):
        open_as_alice(bytes(SealedBox(ALICE.public_key).encrypt(plain)))


@pytest.mark.parametrize(
    "body",
    [
        canonical_json({k: v for k, v in fields().items() if k != "scheme"}),
        canonical_json({k: v for k, v in fields().items() if k != "recipient"}),
        canonical_json(fields(extra=1)),
        canonical_json(fields(key=b64e(bytes(31)))),
        canonical_json(fields(key=b64e(bytes(33)))),
        canonical_json(fields(key=b64e(KEY.secret_bytes()) + "==")),
        canonical_json(fields(scheme={"mode": "sha1", "opslimit": 0, "memlimit": 0})),
        canonical_json(fields(scheme={"mode": "hmac-sha256", "opslimit": 1, "memlimit": 0})),
        canonical_json(fields(scheme={"mode": "hmac-sha256"})),
        canonical_json(fields(epoch=str(EPOCH))),
        canonical_json(fields(recipient=b64e(bytes(ALICE.public_key)).lower())),
        canonical_json(fields()).replace(b":", b": "),
        canonical_json(fields()) + b"\n",
        b"[]",
        b"not json",
    ],
)
def test_a_dealer_signed_but_malformed_body_is_refused(body: bytes) -> None:
    with pytest.raises(Malformed):
        open_as_alice(deliver(body))


@pytest.mark.parametrize("epoch", [-1, True, 1 << 53])
def test_the_sealer_checks_the_epoch(epoch: int) -> None:
    with pytest.raises(Malformed, match="epoch"):
        sealed_to_alice(epoch=epoch)


def test_the_opened_key_never_shows_its_bytes() -> None:
    opened = open_as_alice(sealed_to_alice(keys.token_key(HARDENED)))
    secret = opened.secret_bytes()
    spellings = [secret.hex(), secret.hex().upper(), b64e(secret), repr(secret), str(secret)]
    for text in (repr(opened), str(opened), f"{opened}", repr([opened])):
        assert "<secret>" in text or "TokenKey" in text
        for spelling in spellings:
            assert spelling not in text
    with pytest.raises(TypeError):
        pickle.dumps(opened)


def test_errors_never_quote_the_key() -> None:
    secret = b64e(KEY.secret_bytes())
    attempts: list[Callable[[], object]] = [
        lambda: open_token_key(sealed_to_alice(), BOB, dealer=DEALER.verify_key, epoch=EPOCH),
        lambda: open_as_alice(sealed_to_alice(), epoch=EPOCH + 1),
        lambda: open_as_alice(deliver(canonical_json(fields()), signer=keys.signing("m"))),
        lambda: open_as_alice(deliver(canonical_json(fields(extra=secret)))),
        lambda: open_as_alice(deliver(canonical_json(fields(key=secret + "AA")))),
        lambda: open_token_key(
            deliver(canonical_json(fields()), to=BOB.public_key),
            BOB,
            dealer=DEALER.verify_key,
            epoch=EPOCH,
        ),
    ]
    for attempt in attempts:
        with pytest.raises(UndersealError) as caught:
            attempt()
        assert caught.value.__cause__ is None
        assert secret not in str(caught.value)
        assert KEY.secret_bytes().hex() not in str(caught.value)
