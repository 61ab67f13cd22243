"""Tests for underseal.plates and the jurisdiction table it compiles."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from underseal.errors import InvalidPlate, Malformed, UndersealError
from underseal.jurisdictions import JURISDICTIONS, Jurisdiction
from underseal.plates import (
    FOLD_TABLE,
    MAX_CANONICAL_LENGTH,
    MAX_RAW_LENGTH,
    SEPARATORS,
    SIGN_WORDS,
    Plausibility,
    Reason,
    canonical,
    fold,
    fold_ambiguity,
    fold_collisions,
    format_space,
    matches_format,
    plate_space,
    plausible,
    sample_plates,
    standard_format,
)

UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits
ALNUM = UPPER + DIGITS

# fmt: off
US_CODES = frozenset([
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID",
    "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO",
    "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
])
# fmt: on

# Every message canonical() may raise, and every constant detail: no input in any.
CANONICAL_MESSAGES = frozenset(
    {
        "plate text is empty once spaces, dashes and dots are removed",
        "plate text contains a character outside A-Z, 0-9, space, dash and dot",
        f"plate text is longer than {MAX_RAW_LENGTH} characters",
        f"plate text has more than {MAX_CANONICAL_LENGTH} letters and digits",
    }
)
BAD_CHARACTERS = ["!", "/", "_", "\n", "é", "ß", "Ａ", "ﬁ", "😀", "\u200b", "'", ","]


def reference_fold(text: str) -> str:
    """Fold the slow, obvious way, to check the fast path against."""
    return "".join(FOLD_TABLE.get(c, c) for c in canonical(text))


@st.composite
def mixed_plates(draw: st.DrawFn, min_size: int = 3, max_size: int = 16) -> str:
    """Canonical text with at least one letter and one digit."""
    body = draw(st.text(alphabet=ALNUM, min_size=min_size - 2, max_size=max_size - 2))
    chars = [*body, draw(st.sampled_from(UPPER)), draw(st.sampled_from(DIGITS))]
    return "".join(draw(st.permutations(chars)))


@st.composite
def with_separators(draw: st.DrawFn, plate: str, separators: str = " -.") -> str:
    """The plate with separators sprinkled in (at most MAX_RAW_LENGTH in all)."""
    out = []
    for ch in plate:
        if draw(st.booleans()):
            out.append(draw(st.sampled_from(separators)))
        out.append(ch)
    return "".join(out)


plate_like_text = st.text(alphabet=UPPER + LOWER + DIGITS + SEPARATORS, max_size=24)


# --- canonical ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7ABC123", "7ABC123"),
        ("7-abc 123", "7ABC123"),
        ("7.Abc.123", "7ABC123"),
        ("7\tABC\u00b7123", "7ABC123"),
        ("AB\u2013123\u00a045", "AB12345"),
        ("  a  ", "A"),
        ("A" * MAX_CANONICAL_LENGTH, "A" * MAX_CANONICAL_LENGTH),
    ],
)
def test_canonical_examples(raw: str, expected: str) -> None:
    assert canonical(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        " - . ",
        "ABC!23",
        "ÄBC123",
        "straße",
        "ＡＢＣ123",
        "ﬁ123",
        "AB😀12",
        "ABC\n123",
        "A" * (MAX_CANONICAL_LENGTH + 1),
        "A" + " " * MAX_RAW_LENGTH,
    ],
)
def test_canonical_rejects(raw: str) -> None:
    with pytest.raises(InvalidPlate) as caught:
        canonical(raw)
    assert isinstance(caught.value, Malformed)
    assert isinstance(caught.value, UndersealError)
    assert str(caught.value) in CANONICAL_MESSAGES
    with pytest.raises(InvalidPlate):
        fold(raw)


@pytest.mark.parametrize("value", [None, b"ABC123", 123, ["ABC"]])
def test_non_str_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        canonical(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fold(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        plausible(value)  # type: ignore[arg-type]


def test_str_subclass_is_accepted() -> None:
    class Text(str):
        pass

    assert canonical(Text("7-abc 123")) == "7ABC123"
    assert fold(Text("7-abc 123")) == "7A8C123"


@given(plate_like_text)
def test_canonical_and_fold_are_idempotent(raw: str) -> None:
    try:
        once = canonical(raw)
    except InvalidPlate:
        with pytest.raises(InvalidPlate):
            fold(raw)
        return
    assert canonical(once) == once
    assert set(once) <= set(ALNUM)
    folded = fold(raw)
    assert fold(folded) == folded
    assert fold(once) == folded
    assert folded == reference_fold(raw)


@given(st.text(max_size=80))
def test_fold_agrees_with_reference_on_any_text(raw: str) -> None:
    try:
        expected = reference_fold(raw)
    except InvalidPlate:
        with pytest.raises(InvalidPlate):
            fold(raw)
    else:
        assert fold(raw) == expected


@given(st.lists(plate_like_text, max_size=30))
def test_folding_never_increases_the_number_of_plates(raws: list[str]) -> None:
    plates = []
    for raw in raws:
        try:
            plates.append(canonical(raw))
        except InvalidPlate:
            continue
    assert len({fold(p) for p in plates}) <= len(set(plates))


# --- fold table -------------------------------------------------------------


def test_fold_table_has_the_required_classes() -> None:
    required = {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "B": "8", "S": "5", "Z": "2"}
    assert required.items() <= FOLD_TABLE.items()
    assert FOLD_TABLE["G"] == "6"  # Genetec's 6/G


def test_fold_table_is_a_fold() -> None:
    for source, target in FOLD_TABLE.items():
        assert source in UPPER
        assert target in DIGITS
        assert FOLD_TABLE.get(target, target) == target  # representatives are fixed
    assert fold("OQDILZSGB") == "000112568"
    assert fold("0123456789") == "0123456789"


# --- jurisdictions ----------------------------------------------------------


def test_all_51_jurisdictions_present() -> None:
    assert frozenset(JURISDICTIONS) == US_CODES
    assert len(JURISDICTIONS) == 51
    for code, j in JURISDICTIONS.items():
        assert isinstance(j, Jurisdiction)
        assert j.code == code
        assert j.name
        assert j.source
        assert j.examples
        assert 1 <= j.vanity_min <= j.vanity_max <= 8


@pytest.mark.parametrize("code", sorted(US_CODES))
def test_examples_are_canonical_and_match_a_format_of_their_state(code: str) -> None:
    j = JURISDICTIONS[code]
    for fmt in j.formats:
        assert format_space(fmt, j.excluded_letters) > 0
    for example in j.examples:
        assert canonical(example) == example
        assert any(matches_format(example, f, j.excluded_letters) for f in j.formats)
        assert plausible(example, code)
        assert plausible(example)
        assert plausible(example.lower(), code.lower())


def test_sampled_standard_plates_are_plausible_where_issued() -> None:
    # Guards against sign words or length rules that would reject real serials.
    for code, j in JURISDICTIONS.items():
        for plate in sample_plates(150, seed=7, jurisdiction=code):
            assert any(matches_format(plate, f, j.excluded_letters) for f in j.formats)
            verdict = plausible(plate, code)
            assert verdict.ok, (code, verdict)
            assert verdict.reason is Reason.OK
            assert plausible(plate)


def test_standard_format_is_the_series_a_state_issues_not_any_plausible_read() -> None:
    for code in JURISDICTIONS:
        for plate in sample_plates(40, seed=11, jurisdiction=code):
            assert standard_format(plate, code)
            assert standard_format(plate)
    assert standard_format("5UVR090", "CA")  # California's DLLLDDD
    assert not standard_format("5UVRO90")  # an O among the digits: no state's series
    assert plausible("5UVRO90")  # yet a personalised plate could read so
    assert not standard_format("7abc123", "CA")  # canonical text only
    assert not standard_format("7ABC 123", "CA")
    assert not standard_format("")


def test_standard_format_rejects_what_it_cannot_judge() -> None:
    with pytest.raises(KeyError):
        standard_format("7ABC123", "XX")
    with pytest.raises(TypeError):
        standard_format(b"7ABC123")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        standard_format("7ABC123", 6)  # type: ignore[arg-type]


def test_sample_is_reproducible() -> None:
    assert sample_plates(50, seed=3) == sample_plates(50, seed=3)
    assert sample_plates(50, seed=3) != sample_plates(50, seed=4)
    with pytest.raises(KeyError):
        sample_plates(1, seed=0, jurisdiction="XX")


# --- plausible ----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["CROSSWALK", "CAUTION", "DRIVEWAY", "PARKING", "ONE WAY", "cross-walk", "CROSSWALK1"],
)
@pytest.mark.parametrize("jurisdiction", [None, "CA", "NY"])
def test_sign_words_rejected(raw: str, jurisdiction: str | None) -> None:
    verdict = plausible(raw, jurisdiction)
    assert not verdict
    assert verdict.reason is Reason.SIGN_WORD


def test_every_sign_word_rejected_and_ocr_variants_too() -> None:
    for word in SIGN_WORDS:
        assert canonical(word) == word
        assert plausible(word).reason is Reason.SIGN_WORD
    # OCR confuses sign lettering the same way it confuses plates.
    for variant in ["CR0SSWALK", "5TOP", "N0PARK1NG", "XDRIVEWAY", "TOWAWAY7"]:
        assert plausible(variant).reason is Reason.SIGN_WORD


def test_vanity_stems_are_only_rejected_whole() -> None:
    assert plausible("SPEED").reason is Reason.SIGN_WORD
    for vanity in ["SPEEDY", "NOLIMIT", "MERGED", "ENTER1"]:
        assert plausible(vanity), vanity


def test_lengths() -> None:
    too_long = plausible("ABCDEFGH1")
    assert too_long.reason is Reason.TOO_LONG
    assert too_long.detail == "9 characters; no US jurisdiction issues plates longer than 8"
    texas = plausible("ABC12345", "TX")
    assert texas.reason is Reason.TOO_LONG
    assert texas.detail == "8 characters; Texas plates have at most 7"
    assert plausible("ABC12345", "NY")  # New York issues 8-character plates
    assert plausible("GOODLIFE")  # all letters, 8: a real NY/NC vanity shape
    assert plausible("A", "TX").reason is Reason.TOO_SHORT
    assert plausible("7")  # Delaware issues one-digit plates
    assert plausible("7", "DE")
    assert plausible("ABCDEFG", "AK").reason is Reason.TOO_LONG  # Alaska: 6 at most


def test_bad_input_reasons() -> None:
    assert plausible("ABC!23").reason is Reason.BAD_CHARACTERS
    assert plausible("ÄBC123", "CA").reason is Reason.BAD_CHARACTERS
    assert plausible("").reason is Reason.EMPTY
    assert plausible(" - ").reason is Reason.EMPTY
    assert plausible("A" * 17).reason is Reason.TOO_LONG
    assert plausible("A" * 1000).reason is Reason.TOO_LONG
    unknown = plausible("ABC123", "XX")
    assert unknown.reason is Reason.UNKNOWN_JURISDICTION
    assert not unknown
    with pytest.raises(TypeError):
        plausible("ABC123", 5)  # type: ignore[arg-type]


def test_standard_and_vanity_acceptance() -> None:
    standard = plausible("1ABC234", "CA")
    assert standard.ok
    assert standard.detail == "matches a standard California serial format"
    vanity = plausible("GOBEARS", "CA")
    assert vanity.ok
    assert vanity.detail == "plausible as a personalised California plate"


def test_plausibility_is_truthy_only_when_ok() -> None:
    assert bool(Plausibility(True, Reason.OK, "fine")) is True
    assert bool(Plausibility(False, Reason.TOO_LONG, "long")) is False


def test_reason_values_are_stable() -> None:
    assert {r.value for r in Reason} == {
        "ok",
        "empty",
        "bad_characters",
        "too_short",
        "too_long",
        "sign_word",
        "no_format",
        "unknown_jurisdiction",
    }


@given(st.text(max_size=100), st.sampled_from([None, "CA", "NY", "DE", "ZZ", "tx"]))
def test_plausible_never_raises_on_text(raw: str, jurisdiction: str | None) -> None:
    verdict = plausible(raw, jurisdiction)
    assert isinstance(verdict, Plausibility)
    assert verdict.ok == (verdict.reason is Reason.OK)
    assert verdict.detail


# --- no plate text in messages ----------------------------------------------


@given(st.data(), mixed_plates(), st.sampled_from([None, *sorted(US_CODES)]))
def test_details_never_contain_the_plate(
    data: st.DataObject, plate: str, jurisdiction: str | None
) -> None:
    raw = data.draw(with_separators(plate))
    for text in (plate, raw):
        detail = plausible(text, jurisdiction).detail
        assert plate not in detail.upper()
        assert raw not in detail


@given(st.data(), mixed_plates(max_size=20), st.sampled_from(BAD_CHARACTERS))
def test_errors_never_contain_the_plate(data: st.DataObject, plate: str, bad: str) -> None:
    where = data.draw(st.integers(min_value=0, max_value=len(plate)))
    raw = plate[:where] + bad + plate[where:]
    with pytest.raises(InvalidPlate) as caught:
        canonical(raw)
    message = str(caught.value)
    assert message in CANONICAL_MESSAGES
    assert plate not in message.upper()
    assert raw not in message
    assert plate not in repr(caught.value).upper()
    for text in (raw, plate):
        assert plate not in plausible(text).detail.upper()


# --- formats and spaces -------------------------------------------------------


def test_format_space() -> None:
    assert format_space("DLLLDDD") == 10 * 26**3 * 1000
    assert format_space("LLLDDDD") == 26**3 * 10**4
    assert format_space("LLLDDDD", frozenset("IOQ")) == 23**3 * 10**4
    assert format_space("AAADAA", frozenset("IOQU")) == 32**5 * 10
    assert format_space("[123456789DNO]LLDDD") == 12 * 26**2 * 1000
    assert format_space("7X") == 1


@pytest.mark.parametrize("bad", ["", "ab", "L?D", "[", "[]", "[a]", "D]"])
def test_malformed_formats_raise(bad: str) -> None:
    with pytest.raises(ValueError, match="format"):
        format_space(bad)


def test_matches_format() -> None:
    assert matches_format("1ABC234", "DLLLDDD")
    assert not matches_format("1abc234", "DLLLDDD")  # canonical text only
    assert not matches_format("1ABC2345", "DLLLDDD")
    assert not matches_format("1ABC23", "DLLLDDD")
    assert matches_format("ABC1234", "AAADAAA")
    assert not matches_format("IBC1234", "LLLDDDD", frozenset("IOQ"))
    assert matches_format("NAB234", "[123456789DNO]LLDDD")
    assert not matches_format("AAB234", "[123456789DNO]LLDDD")
    assert matches_format("7X", "7X")


def test_plate_space() -> None:
    assert plate_space("PA") == format_space("LLLDDDD")
    assert plate_space("pa") == plate_space("PA")
    assert plate_space("DE") == sum(10**k for k in range(1, 7))
    per_state = [plate_space(code) for code in JURISDICTIONS]
    everything = plate_space()
    # Exact union: overlapping formats (a dozen states issue ABC1234) count once.
    assert max(per_state) <= everything < sum(per_state)
    assert plate_space(folded=True) < everything
    assert plate_space("DE", folded=True) == plate_space("DE")  # digits do not fold
    with pytest.raises(KeyError):
        plate_space("XX")


# --- measuring the fold --------------------------------------------------------


def test_fold_collisions_small_sample() -> None:
    report = fold_collisions(20_000, seed=0)
    assert report == fold_collisions(20_000, seed=0)
    assert report.distinct <= report.sample_size
    assert report.tokens <= report.distinct
    assert 0 <= report.colliding <= report.distinct
    assert 0.0 <= report.rate < 0.05
    unfolded = fold_collisions(20_000, seed=0, table={})
    assert unfolded.colliding == 0
    assert unfolded.tokens == unfolded.distinct
    wider = fold_collisions(20_000, seed=0, table={**FOLD_TABLE, "U": "V"})
    assert wider.colliding >= report.colliding  # every extra merge costs


def test_fold_tables_are_validated() -> None:
    with pytest.raises(ValueError, match="representative"):
        fold_collisions(10, table={"A": "B", "B": "C"})
    with pytest.raises(ValueError, match="single characters"):
        fold_collisions(10, table={"a": "0"})


def test_fold_ambiguity() -> None:
    assert fold_ambiguity("DE") == 1.0  # all digits: nothing to merge
    assert fold_ambiguity("TX", table={}) == 1.0
    # ABC1234: each letter position keeps 34 ordered same-fold pairs of 26*26.
    assert math.isclose(fold_ambiguity("PA"), (34 / 26) ** 3)
    # Hawaii skips I, O and Z: in a letter position only D and Q still merge.
    assert fold_ambiguity("HI") < fold_ambiguity("VT")
    assert fold_ambiguity() > 1.0
    with pytest.raises(KeyError):
        fold_ambiguity("XX")
