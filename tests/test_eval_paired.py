"""The paired comparison ``make eval-ocr --model`` prints: fixed, broken and McNemar's p."""

from __future__ import annotations

import math

import pytest

from bench.eval_ocr import paired


def test_fixed_and_broken_count_only_the_items_that_changed() -> None:
    before = [True, True, False, False, True]
    after = [True, False, True, True, False]
    fixed, broken, _ = paired(before, after)
    assert (fixed, broken) == (2, 2)


def test_the_exact_p_matches_the_binomial_tails() -> None:
    # 9 fixed, 1 broken: P(X <= 1) for X ~ Bin(10, 1/2) is 11/1024, doubled.
    before = [False] * 9 + [True] + [True] * 50
    after = [True] * 9 + [False] + [True] * 50
    _, _, p = paired(before, after)
    assert p == pytest.approx(22 / 1024)
    # Stop 16's figures: 42 fixed, 33 broken is within noise.
    _, _, p = paired([False] * 42 + [True] * 33, [True] * 42 + [False] * 33)
    assert p == pytest.approx(0.356, abs=0.001)


def test_no_change_is_p_one() -> None:
    assert paired([True, False], [True, False]) == (0, 0, 1.0)
    fixed, broken, p = paired([False] * 3, [True] * 3)
    assert (fixed, broken) == (3, 0)
    assert p == pytest.approx(2 / 8)
    assert not math.isnan(p)


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="zip"):
        paired([True], [True, False])
