"""A custodian answers only for a signed, in-scope record under a valid warrant."""

from __future__ import annotations

import pytest

from tests.helpers import EPOCH, NOW, header
from tests.vectors import keys
from underseal.custody import partial_for_warrant
from underseal.epochs import epoch_end, epoch_start
from underseal.errors import Expired, InvalidSignature, OutOfScope
from underseal.sealed import SealedRecord, open_record_with_shared_point, seal_record
from underseal.threshold import combine_partials, split_secret
from underseal.warrant import ScopeFailure, Warrant, WarrantScope, sign_warrant

COURT = keys.signing("court")
COURTS = {"court-1": COURT.verify_key}
DEVICE = keys.signing("device")
KEY = keys.token_key()
DEALT = split_secret(keys.epoch_secret(), threshold=2, custodians=3)


def sealed(plate: str, evidence: bytes) -> SealedRecord:
    return seal_record(
        header=header(token=KEY.token(plate)),
        evidence=evidence,
        epoch_key=DEALT.public_key,
        device=DEVICE,
    )


WARRANT = sign_warrant(
    Warrant(
        id="W-7", court_id="court-1", investigator="det-7", case="CR-7",
        issued_at=NOW - 60, not_after=NOW + 3_600,
        scope=WarrantScope(plates=("7ABC123",), time_from=epoch_start(EPOCH),
                           time_to=epoch_end(EPOCH), purpose="Stolen vehicle"),
        max_records=5,
    ),
    COURT,
).to_bytes()  # fmt: skip


def ask(share_index: int, record: SealedRecord, **changes: object) -> object:
    args: dict[str, object] = {
        "warrant": WARRANT, "courts": COURTS, "device": DEVICE.verify_key, "token_key": KEY,
        "now": NOW,
    }  # fmt: skip
    args.update(changes)
    return partial_for_warrant(DEALT.shares[share_index], record, **args)  # type: ignore[arg-type]


def test_two_custodians_open_an_in_scope_record() -> None:
    record = sealed("7ABC123", b"in scope")
    partials = [ask(0, record), ask(2, record)]
    shared = combine_partials(partials, record.ephemeral, commitments=DEALT.commitments)  # type: ignore[arg-type]
    assert open_record_with_shared_point(record, shared, DEALT.public_key) == b"in scope"


def test_an_in_scope_header_cannot_carry_another_records_point() -> None:
    # The attack a bare partial_decrypt(share, R) would allow: a rogue server
    # pairs an in-scope header with an out-of-scope record's R.
    inside, outside = sealed("7ABC123", b"in"), sealed("9ZZZ999", b"OUT OF SCOPE")
    spliced = SealedRecord(inside.header, outside.ephemeral, inside.nonce, inside.ciphertext,
                           inside.signature)  # fmt: skip
    with pytest.raises(InvalidSignature):
        ask(0, spliced)
    with pytest.raises(OutOfScope) as caught:
        ask(0, outside)
    assert caught.value.reason == ScopeFailure.PLATE


def test_refusals() -> None:
    record = sealed("7ABC123", b"x")
    with pytest.raises(Expired):
        ask(0, record, now=NOW + 3_600)
    with pytest.raises(InvalidSignature):
        ask(0, record, courts={"court-1": keys.signing("other").verify_key})
    with pytest.raises(InvalidSignature):
        ask(0, record, device=keys.signing("another camera").verify_key)
