"""``bench camera`` times a reader's methods in place and gives them back after each run."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

from bench.bench_camera import Timings, _timed


class _Stage:
    def __init__(self) -> None:
        self.hook: Callable[[], str] = lambda: "hooked"

    def work(self, x: int) -> int:
        return 2 * x


def test_a_timed_method_counts_each_call_once_and_is_given_back() -> None:
    stage = _Stage()
    first, second = Timings(), Timings()
    with ExitStack() as undo:
        _timed(stage, "work", "work", first, undo)
        _timed(stage, "hook", "hook", first, undo)
        assert stage.work(3) == 6
        assert stage.hook() == "hooked"
    assert "work" not in vars(stage)  # the class's method again
    assert stage.hook() == "hooked"
    with ExitStack() as undo:  # a second run with the same object: timed into its own only
        _timed(stage, "work", "work", second, undo)
        stage.work(1)
        stage.work(2)
    assert len(first.stages["work"]) == 1
    assert len(first.stages["hook"]) == 1
    assert len(second.stages["work"]) == 2
