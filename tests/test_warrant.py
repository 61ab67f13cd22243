from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import EPOCH, NOW, flip, header, plate_text
from tests.vectors import keys
from underseal.epochs import epoch_end, epoch_start
from underseal.errors import (
    Expired,
    InvalidSignature,
    Malformed,
    NotYetValid,
    OutOfScope,
    UndersealError,
)
from underseal.warrant import (
    ScopeFailure,
    SignedWarrant,
    Warrant,
    WarrantScope,
    check_scope,
    sign_warrant,
    verify_warrant,
)

COURT = keys.signing("court")
COURTS = {"alameda-superior": COURT.verify_key}
KEY = keys.token_key()


def warrant(**changes: object) -> Warrant:
    fields: dict[str, object] = {
        "id": "W-1", "court_id": "alameda-superior", "investigator": "det-1", "case": "CR-1",
        "issued_at": NOW - 60, "not_after": NOW + 86_400,
        "scope": WarrantScope(plates=("7ABC123", "5XYZ999"), time_from=epoch_start(EPOCH - 2),
                              time_to=epoch_end(EPOCH), cameras=("cam-1", "cam-2"),
                              purpose="Robbery investigation"),
        "max_records": 10, "legal_hold": False,
    }  # fmt: skip
    fields.update(changes)
    return Warrant(**fields)  # type: ignore[arg-type]


def test_round_trip() -> None:
    signed = sign_warrant(warrant(), COURT).to_bytes()
    assert verify_warrant(signed, courts=COURTS, now=NOW) == warrant()
    assert SignedWarrant.from_bytes(signed).to_bytes() == signed


@pytest.fixture(scope="module")
def signed() -> bytes:
    return sign_warrant(warrant(), COURT).to_bytes()


@given(st.data())
def test_any_single_bit_flip_is_rejected(signed: bytes, data: st.DataObject) -> None:
    bit = data.draw(st.integers(0, len(signed) * 8 - 1))
    with pytest.raises((Malformed, InvalidSignature)):
        verify_warrant(flip(signed, bit), courts=COURTS, now=NOW)


def test_time_and_court_checks(signed: bytes) -> None:
    with pytest.raises(Expired):
        verify_warrant(signed, courts=COURTS, now=NOW + 86_400)
    with pytest.raises(NotYetValid):
        verify_warrant(signed, courts=COURTS, now=NOW - 3_600)
    with pytest.raises(InvalidSignature, match="not registered"):
        verify_warrant(signed, courts={}, now=NOW)
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify_warrant(signed, courts={"alameda-superior": keys.signing("x").verify_key}, now=NOW)


def test_scope_reasons() -> None:
    w = warrant()
    check_scope(w, header(camera_id="cam-2", token=KEY.token("7ABC123")), token_key=KEY)
    check_scope(w, header(epoch=EPOCH - 2, token=KEY.token("5XYZ999")), token_key=KEY)
    cases = [
        (header(camera_id="cam-9", token=KEY.token("7ABC123")), ScopeFailure.CAMERA),
        (header(epoch=EPOCH - 3, token=KEY.token("7ABC123")), ScopeFailure.TIME),
        (header(epoch=EPOCH + 1, token=KEY.token("7ABC123")), ScopeFailure.TIME),
        (header(token=KEY.token("7ABC124")), ScopeFailure.PLATE),
        (header(token=keys.token_key().__class__(bytes(32)).token("7ABC123")), ScopeFailure.PLATE),
    ]
    for h, reason in cases:
        with pytest.raises(OutOfScope) as caught:
            check_scope(w, h, token_key=KEY)
        assert caught.value.reason == reason


def test_any_camera_when_none_named() -> None:
    scope = warrant().scope.model_copy(update={"cameras": None})
    check_scope(warrant(scope=scope), header(camera_id="cam-77", token=KEY.token("7ABC123")),
                token_key=KEY)  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [
        {"not_after": NOW - 120},
        {"max_records": 0},
        {"max_records": 10_001},
        {"id": "has space"},
        {"case": ""},
    ],
)
def test_bad_warrants_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        warrant(**changes)


@given(plate_text.map(lambda p: p.lower() + "-"))
def test_plates_must_be_canonical_and_errors_never_quote_them(plate: str) -> None:
    good = sign_warrant(warrant(), COURT).to_bytes()
    bad = good.replace(b'"7ABC123"', f'"{plate}"'.encode())
    with pytest.raises(Malformed) as caught:
        verify_warrant(bad, courts=COURTS, now=NOW)
    assert plate not in str(caught.value)
    assert plate.upper() not in str(caught.value)


def test_repr_and_str_hide_the_plates() -> None:
    w = warrant()
    for text in (repr(w), str(w), repr(w.scope), str(w.scope), repr(sign_warrant(w, COURT))):
        assert "7ABC123" not in text


def test_errors_are_one_family() -> None:
    assert issubclass(OutOfScope, UndersealError)


def test_the_time_window_is_half_open() -> None:
    # [start of day E, start of day E+1) covers day E and not a second more.
    scope = warrant().scope.model_copy(
        update={"time_from": epoch_start(EPOCH), "time_to": epoch_end(EPOCH)}
    )
    w = warrant(scope=scope)
    token = KEY.token("7ABC123")
    check_scope(w, header(epoch=EPOCH, token=token), token_key=KEY)
    for day in (EPOCH - 1, EPOCH + 1):
        with pytest.raises(OutOfScope) as caught:
            check_scope(w, header(epoch=day, token=token), token_key=KEY)
        assert caught.value.reason == ScopeFailure.TIME


@pytest.mark.parametrize("default", [b',"legal_hold":false', b'"cameras":null,'])
def test_leaving_out_a_default_is_a_second_spelling(default: bytes) -> None:
    scope = warrant().scope.model_copy(update={"cameras": None})
    signed = sign_warrant(warrant(scope=scope), COURT).to_bytes()
    assert default in signed
    verify_warrant(signed, courts=COURTS, now=NOW)
    with pytest.raises(Malformed, match="canonical"):
        verify_warrant(signed.replace(default, b""), courts=COURTS, now=NOW)


def test_validation_errors_do_not_quote_plates() -> None:
    with pytest.raises(ValueError, match="validation error") as caught:
        WarrantScope(plates=("7ABC123", "7ABC123"), time_from=0, time_to=1, purpose="x")
    assert "7ABC123" not in str(caught.value)
    with pytest.raises(ValueError, match="validation error") as caught:
        warrant(max_records=0)
    assert "7ABC123" not in str(caught.value)


def test_covers_is_the_exact_check_after_opening() -> None:
    scope = warrant().scope
    at = epoch_start(EPOCH) + 100
    assert scope.covers(plate="7abc 123", observed_at=at, camera_id="cam-1")
    # Same folded token, different plate: reached by the token search, not covered.
    assert not scope.covers(plate="7A8C1Z3", observed_at=at, camera_id="cam-1")
    assert not scope.covers(plate="7ABC123", observed_at=scope.time_to, camera_id="cam-1")
    assert not scope.covers(plate="7ABC123", observed_at=at, camera_id="cam-9")
    assert not scope.covers(plate="not a plate!", observed_at=at, camera_id="cam-1")
