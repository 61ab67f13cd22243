"""Time as a parameter: every service takes a clock, so tests and proofs can drive it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["Clock", "ManualClock", "OffsetFileClock", "system_clock"]

Clock = Callable[[], int]
"""Returns the current time in unix seconds."""


def system_clock() -> int:
    """The machine's clock, in whole unix seconds."""
    return int(time.time())


class ManualClock:
    """A clock that moves only when told to (tests, proofs, the demo's fast-forward)."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        """Move forward; time never goes back."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self.now += seconds


class OffsetFileClock:
    """The system clock plus an offset read from a file: lets a demo or a multi-process
    test fast-forward every service together (``echo 2678400 > offset``).

    Only ever configured through a setting whose name starts with ``unsafe_``:
    a deployment that lets anyone move its clock lets them expire records early
    or revive expired warrants.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> int:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return system_clock()
        return system_clock() + int(text or "0")
