"""No secret and no plate appears in a repr, str or error message of the core."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given

from tests.helpers import EPOCH, NOW, plate_text
from tests.vectors import keys
from underseal.bundle import build_bundle
from underseal.encoding import b64e
from underseal.errors import UndersealError
from underseal.plates import canonical, fold
from underseal.threshold import split_secret
from underseal.tokens import TokenKey


def forms(secret: bytes) -> list[str]:
    return [secret.hex(), b64e(secret), repr(secret)[2:-1]]


def test_keys_and_shares_hide_their_bytes() -> None:
    secret = keys.epoch_secret()
    dealt = split_secret(secret, threshold=2, custodians=3)
    token_key = keys.token_key()
    entries = [(token_key.token("7ABC123"), bytes(8))]
    b = build_bundle(
        entries, camera_id="c", serial=1, epoch=EPOCH, not_before=NOW, not_after=NOW + 1,
        token_key=token_key,
    )  # fmt: skip
    shown = " ".join(
        [
            repr(secret),
            str(secret),
            repr(token_key),
            str(token_key),
            repr(b),
            repr(b.match("7ABC123")),
        ]
        + [repr(s) for s in dealt.shares]
    )
    secrets = [secret.secret_bytes(), token_key.secret_bytes(), token_key.token("7ABC123")]
    secrets += [s.scalar for s in dealt.shares]
    for s in secrets:
        for form in forms(s):
            assert form not in shown
    assert "7ABC123" not in shown


@given(plate_text)
def test_plate_errors_never_quote_the_plate(plate: str) -> None:
    bad = plate + "é"
    for fn in (canonical, fold, TokenKey(bytes(32)).token):
        with pytest.raises(UndersealError) as caught:
            fn(bad)
        assert plate not in str(caught.value)
        assert plate not in repr(caught.value)


def test_secret_holders_do_not_pickle() -> None:
    dealt = split_secret(keys.epoch_secret(), threshold=2, custodians=3)
    for secret in (keys.token_key(), keys.epoch_secret(), dealt.shares[0]):
        with pytest.raises(TypeError, match="not picklable"):
            pickle.dumps(secret)
