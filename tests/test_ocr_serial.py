"""The serial-format prior: a read no state issues in series gives way to a nearly as likely one."""

from __future__ import annotations

import numpy as np
import pytest
from underseal_device.ocr import Recognizer
from underseal_device.ocr.recognizer import SERIAL_FLOOR, SERIAL_RATIO
from underseal_device.synth import PlateSampler

from tests.ocr_probs import steps
from underseal.plates import standard_format


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


@pytest.fixture(scope="module")
def plain() -> Recognizer:
    return Recognizer(prefer_serial=False)


def _crop(*rows: dict[str, float]) -> np.ndarray:
    """``1×1×T×C`` probabilities: one crop read by one network (see :func:`steps`)."""
    return steps(*rows)[None, None]


def _plate(text: str, at: int, alternatives: dict[str, float]) -> np.ndarray:
    """``text`` read surely, one step per character, but step ``at`` split as ``alternatives``."""
    rows = [{ch: 1.0} for ch in text]
    rows[at] = alternatives
    return _crop(*rows)


def test_an_o_among_the_digits_gives_way_to_a_nearly_as_likely_zero(
    recognizer: Recognizer, plain: Recognizer
) -> None:
    probs = _plate("5UVRO90", 4, {"O": 0.55, "0": 0.45})
    assert not standard_format("5UVRO90")
    assert standard_format("5UVR090")
    (own,) = plain.decode(probs)
    assert own.text == "5UVRO90"  # the network's greedy read
    (read,) = recognizer.decode(probs)
    assert read.text == "5UVR090"
    # The new character's confidence is what the network gave it where it read the old one.
    assert read.char_confidences == pytest.approx((1, 1, 1, 1, 0.45, 1, 1))
    assert read.confidence == pytest.approx(0.45)  # its best path's probability


def test_a_serial_reading_far_less_likely_is_not_taken(recognizer: Recognizer) -> None:
    p_zero = 0.9 * SERIAL_RATIO * 0.95  # just under the ratio to the read's probability
    (read,) = recognizer.decode(_plate("5UVRO90", 4, {"O": 0.95, "0": p_zero}))
    assert read.text == "5UVRO90"
    (read,) = recognizer.decode(_plate("5UVRO90", 4, {"O": 0.95, "0": 0.2}))
    assert read.text == "5UVR090"


def test_only_characters_the_networks_saw_there_are_tried(recognizer: Recognizer) -> None:
    # "5UVR090" fits, but no network gave a 0 at that step: the format alone changes nothing.
    (read,) = recognizer.decode(_plate("5UVRO90", 4, {"O": 1.0}))
    assert read.text == "5UVRO90"
    (read,) = recognizer.decode(_plate("5UVRO90", 4, {"O": 0.99, "0": 0.9 * SERIAL_FLOOR}))
    assert read.text == "5UVRO90"


def test_only_a_reading_of_the_same_length_may_replace_the_read(recognizer: Recognizer) -> None:
    # A weak last character: "5UVRO9" (a serial somewhere) is nearly as likely as
    # "5UVRO90" (none), but a missed or spurious character is not what a format judges:
    # only characters are replaced.
    assert standard_format("5UVRO9")
    probs = _crop(*({ch: 1.0} for ch in "5UVRO9"), {"0": 0.55})
    assert [c.text for c in recognizer._ranked(probs[0], 3, 8)][:2] == ["5UVRO90", "5UVRO9"]
    (read,) = recognizer.decode(probs)
    assert read.text == "5UVRO90"


def test_a_serial_read_is_kept_even_when_another_serial_is_close(recognizer: Recognizer) -> None:
    (read,) = recognizer.decode(_plate("7ABC123", 4, {"1": 0.5, "I": 0.5}))
    assert read.text == "7ABC123"


def test_on_rendered_plates_the_prior_only_moves_a_read_to_a_serial_close_to_it(
    recognizer: Recognizer, plain: Recognizer
) -> None:
    sampler = PlateSampler(21)
    crops = [sampler.sample_at(i).image for i in range(64)]
    reads = recognizer.recognize(crops)
    assert [r.text for r, _ in recognizer.read(crops, k=3)] == [r.text for r in reads]
    moved = 0
    for own, read in zip(plain.recognize(crops), reads, strict=True):
        assert len(read.char_confidences) == len(read.text)
        if own.text != read.text:
            moved += 1
            assert not standard_format(own.text)
            assert standard_format(read.text)
            assert len(read.text) == len(own.text)
            assert 1 <= sum(a != b for a, b in zip(own.text, read.text, strict=True)) <= 2
    assert moved < len(crops) // 4
