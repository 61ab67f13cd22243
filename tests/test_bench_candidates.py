"""The camera bench's false-alert count compares readings as the hotlist does: folded."""

from __future__ import annotations

from bench.bench_camera import _same_plate


def test_a_reading_that_folds_to_the_truth_is_the_right_vehicle() -> None:
    # The hotlist matches folded plates, so this read hits the listed plate it is.
    assert _same_plate("BKTW472", "8KTW472")
    assert _same_plate("ab-c 123", "ABC123")


def test_a_different_plate_an_unplaceable_pass_or_an_invalid_read_is_not() -> None:
    assert not _same_plate("BKTW473", "8KTW472")
    assert not _same_plate("BKTW472", None)
    assert not _same_plate("", "8KTW472")
