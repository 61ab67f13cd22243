"""A reading's CTC probability is the sum over every alignment, checked by enumerating them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from underseal_device.ocr.ctc import best_path_probabilities, sequence_probabilities
from underseal_device.ocr.recognizer import ctc_greedy

ALPHABET = "AB"


def _brute_force(probs: np.ndarray, text: str) -> tuple[float, float]:
    """The sum and the largest of the probabilities of the paths that collapse to ``text``."""
    total = best = 0.0
    steps, classes = probs.shape
    for path in itertools.product(range(classes), repeat=steps):
        if ctc_greedy(list(path), [0.0] * steps, ALPHABET)[0] == text:
            p = float(np.prod([probs[t, c] for t, c in enumerate(path)]))
            total, best = total + p, max(best, p)
    return total, best


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, list[str]]:
    members = draw(st.integers(1, 2))
    steps = draw(st.integers(1, 5))
    raw = draw(
        st.lists(st.floats(0.0, 1.0), min_size=members * steps * 3, max_size=members * steps * 3)
    )
    probs = np.array(raw, np.float64).reshape(members, steps, 3) + 1e-3
    probs /= probs.sum(axis=2, keepdims=True)
    texts = draw(st.lists(st.text(ALPHABET, max_size=4), min_size=1, max_size=4))
    return probs.astype(np.float32), texts


@settings(max_examples=150, deadline=None)
@given(cases())
def test_the_forward_algorithm_sums_and_maximises_every_alignment(
    case: tuple[np.ndarray, list[str]],
) -> None:
    probs, texts = case
    total = sequence_probabilities(probs, texts, ALPHABET)
    best = best_path_probabilities(probs, texts, ALPHABET)
    assert total.shape == best.shape == (len(probs), len(texts))
    for m, member in enumerate(probs.astype(np.float64)):
        for p, text in enumerate(texts):
            want_total, want_best = _brute_force(member, text)
            assert total[m, p] == pytest.approx(want_total, rel=1e-9, abs=1e-12)
            assert best[m, p] == pytest.approx(want_best, rel=1e-9, abs=1e-12)


def test_the_best_path_of_the_greedy_read_is_the_greedy_path() -> None:
    probs = np.random.default_rng(5).dirichlet(np.ones(3) * 0.3, size=(1, 12)).astype(np.float32)
    classes = probs[0].argmax(axis=1)
    text = ctc_greedy(classes.tolist(), [0.0] * 12, ALPHABET)[0]
    greedy = float(np.prod(probs[0].max(axis=1).astype(np.float64)))
    assert best_path_probabilities(probs, [text], ALPHABET)[0, 0] == pytest.approx(greedy)


def test_every_reading_of_a_crop_sums_to_one() -> None:
    probs = np.random.default_rng(3).dirichlet(np.ones(3), size=(1, 4)).astype(np.float32)
    texts = sorted({ctc_greedy(list(p), [0.0] * 4, ALPHABET)[0]
                    for p in itertools.product(range(3), repeat=4)})  # fmt: skip
    assert sequence_probabilities(probs, texts, ALPHABET).sum() == pytest.approx(1.0)


def test_long_crops_do_not_underflow() -> None:
    # 32 steps each at probability 0.01 would underflow float32 without rescaling.
    probs = np.full((1, 32, 3), 0.01, np.float32)
    probs[0, :, 0] = 0.98
    got = sequence_probabilities(probs, ["", "A", "AB"], ALPHABET)[0]
    assert got[0] == pytest.approx(0.98**32, rel=1e-5)
    assert 0 < got[2] < got[1] < got[0]


def test_a_reading_too_long_for_the_steps_has_probability_zero() -> None:
    probs = np.full((1, 2, 3), 1 / 3, np.float32)
    assert sequence_probabilities(probs, ["AA", "ABA"], ALPHABET)[0].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("shape", "texts", "message"),
    [((2, 3), ["A"], "M×T×C"), ((1, 2, 4), ["A"], "M×T×C"), ((1, 2, 3), ["AC"], "alphabet")],
)
def test_bad_input_is_a_clear_error(shape: tuple[int, ...], texts: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sequence_probabilities(np.ones(shape, np.float32), texts, ALPHABET)
