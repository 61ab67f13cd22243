"""The operating-point rule: the lowest threshold whose gated precision is high enough."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner
from underseal_device.train.operating_point import GRID, MIN_PRECISION, Point, choose, main


def _point(threshold: float, reads: int, on_plates: int) -> Point:
    return Point(threshold, plates=10, found=9, reads=reads, on_plates=on_plates)


def test_the_lowest_passing_threshold_is_chosen_even_when_a_higher_one_fails() -> None:
    # Precision need not rise with the threshold; every passing point counts.
    points = [_point(0.2, 10, 7), _point(0.3, 10, 8), _point(0.4, 10, 7), _point(0.5, 10, 9)]
    assert choose(points) == 0.3
    assert choose(points, min_precision=0.85) == 0.5


def test_no_passing_threshold_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"no threshold keeps precision >= 0\.8"):
        choose([_point(0.2, 10, 5), _point(0.7, 10, 7)])


def test_no_reads_is_full_precision_and_no_recall_is_zero() -> None:
    empty = Point(0.7, plates=0, found=0, reads=0, on_plates=0)
    assert empty.precision == 1.0
    assert empty.recall == 0.0


def test_the_grid_runs_from_0_2_to_the_models_own_0_7() -> None:
    assert GRID[0] == 0.2
    assert GRID[-1] == 0.7
    assert len(GRID) == 11
    assert 0.5 < MIN_PRECISION < 1.0


def test_a_missing_model_is_a_clear_error_before_any_sweep(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(main)
    result = CliRunner().invoke(app, ["--recognizer", str(tmp_path / "none.json")])
    assert result.exit_code == 2
    assert "cannot read model manifest" in result.output
    assert "threshold" not in result.output  # no table: nothing was swept
