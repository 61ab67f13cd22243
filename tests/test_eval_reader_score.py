"""How ``make eval`` scores a reader on one scene: recall, precision, exact and folded reads."""

from __future__ import annotations

import itertools

import numpy as np

from bench.eval_reader import Item, score

_FRAME = np.zeros((48, 64, 3), np.uint8)


def _items() -> list[Item]:
    return [Item(f"scene{i}", _FRAME, (10, 10, 40, 22), "7ABC012") for i in range(4)]


def test_a_read_counts_when_its_box_overlaps_and_its_text_matches() -> None:
    answers = itertools.cycle(
        [
            [((10, 10, 40, 22), "7ABC012")],  # right
            [((30, 12, 60, 24), "7ABC012")],  # overlaps a little: read, but not found
            [((10, 10, 40, 22), "7A8CO12")],  # look-alikes: only after folding
            [((0, 30, 8, 40), "7ABC012"), ((10, 10, 40, 22), "")],  # right text, wrong place
        ]
    )
    s = score(lambda _frame: next(answers), _items(), speed_frames=1)
    assert s.n == 4
    assert s.recall == 0.75  # boxes at IoU >= 0.5: scenes 1, 3 and 4
    assert s.precision == 3 / 5
    assert s.exact == 0.5  # scenes 1 and 2
    assert s.folded == 0.75  # and scene 3
    assert s.overlapped == 1.0  # scene 4 through its second box
    # Best-overlapping boxes: 30x12 (true size) three times, and 30x12 shifted once.
    assert (s.width_ratio, s.height_ratio) == (1.0, 1.0)


def test_box_size_is_the_best_overlapping_box_over_the_truth() -> None:
    answers = iter(
        [
            [((0, 0, 64, 48), ""), ((13, 13, 37, 19), "")],  # the smaller overlaps more
            [((4, 7, 46, 25), "7ABC012")],  # 42x18 against 30x12, IoU 0.48: not found
            [((0, 30, 8, 40), "7ABC012")],  # no overlap: not counted in the ratio
            [],
        ]
    )
    s = score(lambda _frame: next(answers, []), _items(), speed_frames=1)
    assert s.overlapped == 0.5
    assert s.recall == 0.0
    assert s.exact == 0.25
    assert (s.width_ratio, s.height_ratio) == ((0.8 + 1.4) / 2, (0.5 + 1.5) / 2)


def test_a_pipeline_that_fails_reads_nothing_and_is_counted() -> None:
    def broken(_frame: np.ndarray) -> list[tuple[tuple[int, int, int, int], str]]:
        raise RuntimeError("no")

    s = score(broken, _items(), speed_frames=1)
    assert (s.recall, s.exact, s.folded, s.failures) == (0.0, 0.0, 0.0, 5)
    assert s.overlapped == 0.0
