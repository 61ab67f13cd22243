"""Time as a parameter: every service takes a clock, so tests and proofs can drive it."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "ManualClock", "system_clock"]

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
