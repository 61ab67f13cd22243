from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.helpers import NOW, plate_text
from underseal.encoding import IDENTIFIER_PATTERN, b64e, canonical_json, parse_canonical_json
from underseal.errors import Malformed
from underseal.evidence import MAX_CROP_BYTES, Evidence

PLATE = "7ABC123"


def fields(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "plate": PLATE, "confidence_pm": 912, "observed_at": NOW, "camera_id": "cam-1",
        "latitude_e6": 37_804_363, "longitude_e6": -122_271_111,
        "hotlist_ref": b64e(bytes(range(16))), "crop_jpeg": b64e(b"\xff\xd8\xff\xe0 jpeg"),
    }  # fmt: skip
    values.update(changes)
    return values


def evidence(**changes: object) -> Evidence:
    return Evidence(**fields(**changes))  # type: ignore[arg-type]


def test_round_trip() -> None:
    e = evidence()
    data = e.to_bytes()
    assert Evidence.from_bytes(data) == e
    assert Evidence.from_bytes(data).plate == PLATE


def test_to_bytes_is_canonical_json_of_exactly_the_fields() -> None:
    data = evidence().to_bytes()
    assert parse_canonical_json(data) == fields()
    assert data == canonical_json(fields())
    assert data.startswith(b'{"camera_id":"cam-1","confidence_pm":912,')


def test_evidence_is_frozen() -> None:
    e = evidence()
    with pytest.raises(ValidationError):
        e.plate = "5XYZ999"  # type: ignore[misc]
    assert e.plate == PLATE


evidences = st.builds(
    Evidence,
    plate=st.from_regex(r"[A-Z0-9]{1,10}", fullmatch=True),
    confidence_pm=st.integers(0, 1000),
    observed_at=st.integers(0, (1 << 40) - 1),
    camera_id=st.from_regex(IDENTIFIER_PATTERN.strip("^$"), fullmatch=True),
    latitude_e6=st.integers(-90_000_000, 90_000_000),
    longitude_e6=st.integers(-180_000_000, 180_000_000),
    hotlist_ref=st.binary(max_size=48).map(b64e),
    crop_jpeg=st.binary(max_size=256).map(b64e),
)


@given(evidences)
def test_round_trip_of_any_valid_evidence(e: Evidence) -> None:
    data = e.to_bytes()
    assert parse_canonical_json(data, what="evidence") == e.model_dump()
    assert Evidence.from_bytes(data) == e
    assert Evidence.from_bytes(data).to_bytes() == data
    # The camera id may spell like a plate, so check the whole text.
    shown = f"Evidence(camera={e.camera_id!r}, observed_at={e.observed_at})"
    assert repr(e) == str(e) == f"{e}" == shown


def test_the_largest_values_are_accepted() -> None:
    e = evidence(
        plate="Z" * 10, confidence_pm=1000, observed_at=(1 << 40) - 1, camera_id="c" * 64,
        latitude_e6=-90_000_000, longitude_e6=180_000_000, hotlist_ref="A" * 64,
        crop_jpeg=b64e(bytes(MAX_CROP_BYTES)),
    )  # fmt: skip
    assert Evidence.from_bytes(e.to_bytes()) == e


def refuse(data: bytes, *plates: str) -> None:
    with pytest.raises(Malformed) as caught:
        Evidence.from_bytes(data)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    for text in (str(caught.value), repr(caught.value)):
        for plate in (PLATE, *plates):
            assert plate not in text
            assert plate.lower() not in text


GOOD = evidence().to_bytes()


@pytest.mark.parametrize(
    "data",
    [
        GOOD.replace(b":", b": "),
        GOOD.replace(b",", b", "),
        b" " + GOOD,
        GOOD + b"\n",
        json.dumps(fields(), sort_keys=True, indent=1).encode(),
        json.dumps(fields(), separators=(",", ":")).encode(),  # unsorted keys
        GOOD.replace(b'"7ABC123"', b'"\\u0037ABC123"'),
        GOOD.replace(b'"confidence_pm":912', b'"confidence_pm":0912'),
        GOOD.replace(b'"confidence_pm":912', b'"confidence_pm":9.12e2'),
        GOOD.replace(b'"confidence_pm":912', b'"confidence_pm":912.0'),
        GOOD.replace(b'"latitude_e6":37804363', b'"latitude_e6":-0'),
        GOOD.replace(b'"confidence_pm":912', b'"confidence_pm":912,"confidence_pm":912'),
        GOOD.replace(b'"confidence_pm":912', b'"confidence_pm":NaN'),
        GOOD[:-1],
        b"\xef\xbb\xbf" + GOOD,
        GOOD.replace(b'"cam-1"', '"cam-\u00e9"'.encode()),
        b"[" + GOOD + b"]",
        b"",
        b"null",
    ],
)
def test_non_canonical_spellings_are_refused(data: bytes) -> None:
    assert data != GOOD
    refuse(data)


def without(name: str) -> dict[str, object]:
    return {k: v for k, v in fields().items() if k != name}


@pytest.mark.parametrize(
    "values",
    [
        fields(extra=1),
        fields(frame_jpeg=""),
        without("plate"),
        without("crop_jpeg"),
        without("hotlist_ref"),
        fields(confidence_pm=-1),
        fields(confidence_pm=1001),
        fields(confidence_pm=True),
        fields(confidence_pm="912"),
        fields(confidence_pm=None),
        fields(observed_at=-1),
        fields(observed_at=1 << 40),
        fields(observed_at=str(NOW)),
        fields(latitude_e6=90_000_001),
        fields(latitude_e6=-90_000_001),
        fields(longitude_e6=180_000_001),
        fields(longitude_e6=-180_000_001),
        fields(latitude_e6=False),
        fields(camera_id=""),
        fields(camera_id="cam 1"),
        fields(camera_id="c" * 65),
        fields(camera_id="cam-1\n"),
        fields(hotlist_ref="A" * 65),
        fields(hotlist_ref="AAA="),
        fields(hotlist_ref="AA+/"),
        fields(crop_jpeg="AAA="),
        fields(crop_jpeg="A" * (MAX_CROP_BYTES * 4 // 3 + 5)),
        fields(plate=""),
        fields(plate="7ABC1234567"),
        fields(plate=PLATE + "\n"),
        fields(plate=PLATE + " "),
        fields(plate="7AB-123"),
        fields(plate=7123),
        fields(plate=[PLATE]),
    ],
)
def test_out_of_range_or_extra_fields_are_refused(values: dict[str, object]) -> None:
    refuse(canonical_json(values))


@pytest.mark.parametrize("plate", ["7abc123", "7Abc123", "abc", "z"])
def test_lowercase_plates_are_refused_without_quoting_them(plate: str) -> None:
    refuse(canonical_json(fields(plate=plate)), plate)


# A digit at the end, so no plate is a word of the (digit-free) message by chance.
@given(plate_text.filter(lambda p: any(c.isalpha() for c in p)).map(lambda p: p.lower() + "9"))
def test_any_non_canonical_plate_is_refused_without_quoting_it(plate: str) -> None:
    refuse(canonical_json(fields(plate=plate)), plate)


@pytest.mark.parametrize("bad", ["7abc123", "7ABC 123", "7ABC123XYZW"])
def test_constructing_a_bad_evidence_never_quotes_the_plate(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        evidence(plate=bad)
    assert bad not in str(caught.value)
    assert bad not in repr(caught.value)


def test_repr_and_str_show_only_where_and_when() -> None:
    e = evidence()
    assert repr(e) == f"Evidence(camera='cam-1', observed_at={NOW})"
    for text in (repr(e), str(e), f"{e}", f"{e!r}", repr([e]), str({"e": e})):
        assert PLATE not in text
        assert str(fields()["crop_jpeg"]) not in text
