from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from underseal.encoding import b64d, b64e, canonical_json, length_prefixed, parse_canonical_json
from underseal.errors import Malformed

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_round_trip_is_exact(value: dict[str, object]) -> None:
    data = canonical_json(value)
    assert parse_canonical_json(data) == value
    assert canonical_json(parse_canonical_json(data)) == data


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(), min_size=1, max_size=6))
def test_any_other_spelling_is_refused(value: dict[str, int]) -> None:
    spaced = json.dumps(value, sort_keys=True).encode()
    if spaced != canonical_json(value):
        with pytest.raises(Malformed):
            parse_canonical_json(spaced)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"a":1,"a":2}', "duplicate"),
        (b'{"a":1.0}', "float"),
        (b'{"a":NaN}', "float"),
        (b"[1]", "JSON object"),
        (b'{"b":1,"a":2}', "canonical"),
        (b"\xff", "ASCII"),
        (b'{"a":' + b"9" * 5000 + b"}", "ASCII JSON"),
    ],
)
def test_parse_refuses(data: bytes, why: str) -> None:
    with pytest.raises(Malformed, match=why):
        parse_canonical_json(data)


@pytest.mark.parametrize("value", [0.5, b"bytes", bytearray(b"x"), {1: 2}, object()])
def test_what_has_no_canonical_encoding_is_refused(value: object) -> None:
    with pytest.raises(Malformed):
        canonical_json({"x": value})


@given(st.binary(max_size=64))
def test_b64_round_trip(data: bytes) -> None:
    assert b64d(b64e(data)) == data


@pytest.mark.parametrize("text", ["AB=", "A", "AB+/", "AB!", "AF"])
def test_b64_refuses_non_canonical(text: str) -> None:
    # "AF" decodes to one byte with non-zero trailing bits: a second spelling of "AA".
    with pytest.raises(Malformed):
        b64d(text)


def test_b64_checks_size() -> None:
    with pytest.raises(Malformed, match="must be 4 bytes"):
        b64d(b64e(b"abc"), size=4)


@given(st.lists(st.binary(max_size=8), max_size=4), st.lists(st.binary(max_size=8), max_size=4))
def test_length_prefixing_is_injective(a: list[bytes], b: list[bytes]) -> None:
    if a != b:
        assert length_prefixed(*a) != length_prefixed(*b)
