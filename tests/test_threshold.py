from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.public import SealedBox

from tests.helpers import EPOCH, flip
from tests.vectors import keys
from underseal import _group as group
from underseal.errors import (
    DecryptionFailed,
    InvalidProof,
    InvalidSignature,
    Malformed,
    NotEnoughShares,
)
from underseal.threshold import (
    DealtEpoch,
    EpochSecret,
    KeyShare,
    Partial,
    combine_partials,
    combine_unverified,
    open_share,
    partial_decrypt,
    seal_share,
    share_public_key,
    split_secret,
    verify_partial,
)


@st.composite
def setups(draw: st.DrawFn) -> tuple[int, int, list[int]]:
    n = draw(st.integers(1, 5))
    t = draw(st.integers(1, n))
    order = draw(st.permutations(list(range(n))))
    return t, n, order


@given(setups())
def test_any_t_partials_recover_the_shared_point(setup: tuple[int, int, list[int]]) -> None:
    t, n, order = setup
    secret = EpochSecret.generate(EPOCH)
    dealt = split_secret(secret, threshold=t, custodians=n)
    r = group.base_mul(group.random_scalar())
    partials = [partial_decrypt(dealt.shares[i], r) for i in order[:t]]
    shared = combine_partials(partials, r, commitments=dealt.commitments)
    assert shared == group.mul(group.Scalar(secret.secret_bytes()), r)


@given(setups())
def test_t_minus_one_partials_do_not(setup: tuple[int, int, list[int]]) -> None:
    t, n, order = setup
    if t < 2:
        return
    secret = EpochSecret.generate(EPOCH)
    dealt = split_secret(secret, threshold=t, custodians=n)
    r = group.base_mul(group.random_scalar())
    partials = [partial_decrypt(dealt.shares[i], r) for i in order[: t - 1]]
    expected = group.mul(group.Scalar(secret.secret_bytes()), r)
    assert combine_unverified(partials) != expected
    with pytest.raises(NotEnoughShares):
        combine_partials(partials, r, commitments=dealt.commitments)


def test_every_share_checks_against_the_commitments() -> None:
    dealt = split_secret(keys.epoch_secret(), threshold=3, custodians=5)
    for share in dealt.shares:
        share.verify()
        assert group.base_mul(group.Scalar(share.scalar)) == share_public_key(
            dealt.commitments, share.index
        )
    assert dealt.public_key.point == dealt.commitments[0]


@pytest.fixture(scope="module")
def dealt_and_r() -> tuple[DealtEpoch, bytes]:
    dealt = split_secret(keys.epoch_secret(), threshold=2, custodians=3)
    return dealt, group.base_mul(group.random_scalar())


@given(st.integers(0, 3 * 32 * 8 - 1))
def test_a_forged_partial_is_detected(dealt_and_r: tuple[DealtEpoch, bytes], bit: int) -> None:
    dealt, r = dealt_and_r
    share = dealt.shares[0]
    p = partial_decrypt(share, r)
    public = share_public_key(dealt.commitments, share.index)
    verify_partial(p, r, public)  # the honest partial verifies
    raw = bytearray(p.point + p.challenge + p.response)
    raw[bit // 8] ^= 1 << (bit % 8)
    forged = Partial(p.index, bytes(raw[:32]), bytes(raw[32:64]), bytes(raw[64:96]))
    with pytest.raises(InvalidProof):
        verify_partial(forged, r, public)


def test_a_lying_custodian_is_outvoted() -> None:
    dealt = split_secret(keys.epoch_secret(), threshold=2, custodians=3)
    r = group.base_mul(group.random_scalar())
    honest = [partial_decrypt(s, r) for s in dealt.shares]
    liar = Partial(
        1, group.base_mul(group.random_scalar()), honest[0].challenge, honest[0].response
    )
    shared = combine_partials([liar, honest[1], honest[2]], r, commitments=dealt.commitments)
    assert shared == combine_partials(honest[1:], r, commitments=dealt.commitments)
    with pytest.raises(NotEnoughShares, match="1 valid"):
        combine_partials([liar, honest[1], honest[1]], r, commitments=dealt.commitments)


def test_a_partial_for_another_record_is_refused() -> None:
    dealt = split_secret(keys.epoch_secret(), threshold=2, custodians=3)
    r1, r2 = (group.base_mul(group.random_scalar()) for _ in range(2))
    partials = [partial_decrypt(s, r1) for s in dealt.shares[:2]]
    with pytest.raises(NotEnoughShares):
        combine_partials(partials, r2, commitments=dealt.commitments)


DEALER = keys.signing("dealer")


def test_sealed_shares_open_only_for_their_custodian() -> None:
    dealt = split_secret(keys.epoch_secret(), threshold=2, custodians=3)
    custodians = [keys.box(f"custodian {i}") for i in range(3)]
    for share, custodian in zip(dealt.shares, custodians, strict=True):
        sealed = seal_share(share, custodian.public_key, dealer=DEALER)
        opened = open_share(
            sealed, custodian, dealer=DEALER.verify_key, epoch=EPOCH, index=share.index
        )
        assert opened == share
        for other in custodians:
            if other is not custodian:
                with pytest.raises(DecryptionFailed):
                    open_share(sealed, other, dealer=DEALER.verify_key, epoch=EPOCH,
                               index=share.index)  # fmt: skip
        with pytest.raises(Malformed, match="another epoch"):
            open_share(sealed, custodian, dealer=DEALER.verify_key, epoch=EPOCH + 1,
                       index=share.index)  # fmt: skip
        with pytest.raises(DecryptionFailed):
            open_share(flip(sealed, 77), custodian, dealer=DEALER.verify_key, epoch=EPOCH,
                       index=share.index)  # fmt: skip


def test_an_outsider_cannot_deal_shares() -> None:
    # SealedBox needs only the custodian's public key: without the dealer's
    # signature anyone could deal an epoch key they know and get it endorsed.
    rogue = split_secret(EpochSecret.generate(EPOCH), threshold=2, custodians=3)
    custodian = keys.box("custodian 0")
    sealed = seal_share(rogue.shares[0], custodian.public_key, dealer=keys.signing("mallory"))
    with pytest.raises(InvalidSignature, match="dealer"):
        open_share(sealed, custodian, dealer=DEALER.verify_key, epoch=EPOCH, index=1)


def test_a_share_cannot_be_forwarded_to_another_custodian() -> None:
    dealt = split_secret(keys.epoch_secret(), threshold=2, custodians=3)
    first, second = keys.box("custodian 0"), keys.box("custodian 1")
    sealed = seal_share(dealt.shares[0], first.public_key, dealer=DEALER)
    body = SealedBox(first).decrypt(sealed)
    forwarded = bytes(SealedBox(second.public_key).encrypt(body))
    with pytest.raises(Malformed, match="another custodian"):
        open_share(forwarded, second, dealer=DEALER.verify_key, epoch=EPOCH, index=1)


def test_a_bad_dealer_is_caught_by_the_share_check() -> None:
    dealt = split_secret(keys.epoch_secret(), threshold=2, custodians=3)
    good = dealt.shares[0]
    bad = KeyShare(good.epoch, good.index, good.custodians, good.commitments,
                   bytes(group.random_scalar()))  # fmt: skip
    custodian = keys.box("custodian 0")
    sealed = seal_share(bad, custodian.public_key, dealer=DEALER)
    with pytest.raises(InvalidProof):
        open_share(sealed, custodian, dealer=DEALER.verify_key, epoch=EPOCH, index=1)


@pytest.mark.parametrize(("t", "n"), [(0, 3), (4, 3), (2, 65)])
def test_bad_parameters(t: int, n: int) -> None:
    with pytest.raises(Malformed):
        split_secret(keys.epoch_secret(), threshold=t, custodians=n)


def test_all_pairs_of_three_agree() -> None:
    secret = keys.epoch_secret()
    dealt = split_secret(secret, threshold=2, custodians=3)
    r = group.base_mul(group.random_scalar())
    partials = [partial_decrypt(s, r) for s in dealt.shares]
    points = {combine_partials(list(pair), r, commitments=dealt.commitments)
              for pair in itertools.permutations(partials, 2)}  # fmt: skip
    assert points == {group.mul(group.Scalar(secret.secret_bytes()), r)}
