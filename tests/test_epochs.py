from __future__ import annotations

import pytest

from tests.helpers import EPOCH
from tests.vectors import keys
from underseal.epochs import EpochCertificate, endorse, epoch_end, epoch_of, epoch_start
from underseal.errors import InvalidProof, InvalidSignature, Malformed
from underseal.threshold import KeyShare, split_secret

CUSTODIANS = {f"custodian-{i}": keys.signing(f"custodian {i}") for i in range(1, 4)}
PUBLIC = {k: v.verify_key for k, v in CUSTODIANS.items()}


def certificate() -> tuple[EpochCertificate, object]:
    dealt = split_secret(keys.epoch_secret(), threshold=2, custodians=3)
    endorsements = dict(
        endorse(
            share,
            custodian_id=f"custodian-{share.index}",
            key=CUSTODIANS[f"custodian-{share.index}"],
        )
        for share in dealt.shares
    )
    return EpochCertificate(EPOCH, dealt.commitments, endorsements), dealt


def test_all_custodians_endorse_the_dealt_key() -> None:
    cert, dealt = certificate()
    parsed = EpochCertificate.from_bytes(cert.to_bytes())
    assert parsed.verify(PUBLIC, required=3) == dealt.public_key  # type: ignore[attr-defined]
    assert parsed.threshold == 2


def test_a_key_with_too_few_endorsements_is_refused() -> None:
    cert, _ = certificate()
    partial = EpochCertificate(cert.epoch, cert.commitments,
                               dict(list(cert.endorsements.items())[:2]))  # fmt: skip
    partial.verify(PUBLIC, required=2)
    with pytest.raises(InvalidSignature, match="2 valid"):
        partial.verify(PUBLIC, required=3)


def test_a_substituted_key_loses_its_endorsements() -> None:
    # A rogue server that swaps in a key it controls cannot carry the
    # custodians' signatures over to it.
    cert, _ = certificate()
    rogue = split_secret(keys.epoch_secret().__class__.generate(EPOCH), threshold=2, custodians=3)
    swapped = EpochCertificate(EPOCH, rogue.commitments, cert.endorsements)
    with pytest.raises(InvalidSignature, match="0 valid"):
        swapped.verify(PUBLIC, required=1)


def test_a_custodian_refuses_to_endorse_a_bad_share() -> None:
    dealt = split_secret(keys.epoch_secret(), threshold=2, custodians=3)
    good = dealt.shares[0]
    bad = KeyShare(
        good.epoch, good.index, good.custodians, good.commitments, dealt.shares[1].scalar
    )
    with pytest.raises(InvalidProof):
        endorse(bad, custodian_id="custodian-1", key=CUSTODIANS["custodian-1"])


def test_epoch_arithmetic() -> None:
    assert epoch_of(epoch_start(EPOCH)) == EPOCH
    assert epoch_of(epoch_end(EPOCH) - 1) == EPOCH
    assert epoch_of(epoch_end(EPOCH)) == EPOCH + 1
    with pytest.raises(Malformed):
        epoch_of(-1)


def test_malformed_certificates() -> None:
    cert, _ = certificate()
    data = cert.to_bytes()
    for bad in (data[:-1], data.replace(b'"epoch"', b'"epoc"'), b"{}"):
        with pytest.raises(Malformed):
            EpochCertificate.from_bytes(bad)


def test_required_defaults_to_every_custodian_and_cannot_be_zero() -> None:
    cert, _ = certificate()
    two = EpochCertificate(cert.epoch, cert.commitments, dict(list(cert.endorsements.items())[:2]))
    with pytest.raises(InvalidSignature, match="3 required"):
        two.verify(PUBLIC)
    for required in (0, -5):
        with pytest.raises(Malformed, match="at least one"):
            EpochCertificate(EPOCH, cert.commitments, {}).verify(PUBLIC, required=required)


def test_a_one_of_n_key_is_neither_endorsed_nor_accepted() -> None:
    # With one commitment every share is the whole secret: any custodian decrypts alone.
    dealt = split_secret(keys.epoch_secret(), threshold=1, custodians=3)
    with pytest.raises(Malformed, match="threshold is 1"):
        endorse(dealt.shares[0], custodian_id="custodian-1", key=CUSTODIANS["custodian-1"])
    signed = dict(
        endorse(s, custodian_id=f"custodian-{s.index}", key=CUSTODIANS[f"custodian-{s.index}"],
                min_threshold=1)
        for s in dealt.shares
    )  # fmt: skip
    with pytest.raises(Malformed, match="threshold is 1"):
        EpochCertificate(EPOCH, dealt.commitments, signed).verify(PUBLIC)
