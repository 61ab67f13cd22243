"""Aggregate counters: the only thing about traffic that leaves the camera.

Counts of frames, reads, vehicle passes and hits, per hour and in total,
the processing rate and the camera's health. No counter is per plate: a
non-hit changes a total by one and nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Final

__all__ = ["Counters", "HourCounts"]

HOUR: Final = 3600
KEEP_HOURS: Final = 48


@dataclass(slots=True)
class HourCounts:
    """Counts for one hour (UTC, by its first second)."""

    frames: int = 0
    reads: int = 0
    passes: int = 0
    hits: int = 0


@dataclass(slots=True)
class Counters:
    """Running totals, per-hour counts and the health of one camera process."""

    frames_in: int = 0
    frames_sampled_out: int = 0
    frames_still: int = 0
    frames_processed: int = 0
    frames_bad: int = 0
    reads: int = 0
    passes: int = 0
    passes_unreadable: int = 0
    passes_unchecked: int = 0
    hits: int = 0
    hits_unsealed: int = 0
    fps: float = 0.0
    healthy: bool = False
    health_reason: str = "starting"
    outbox_depth: int = 0
    hours: dict[int, HourCounts] = field(default_factory=dict)
    _last_frame_at: float | None = None

    def hour(self, now: float) -> HourCounts:
        """The counts of the hour containing ``now`` (older hours beyond 48 are dropped)."""
        start = int(now) // HOUR * HOUR
        counts = self.hours.get(start)
        if counts is None:
            counts = self.hours[start] = HourCounts()
            for old in [h for h in self.hours if h <= start - KEEP_HOURS * HOUR]:
                del self.hours[old]
        return counts

    def frame_processed(self, now: float) -> None:
        """Count a processed frame and update the frames-per-second average."""
        self.frames_processed += 1
        self.hour(now).frames += 1
        if self._last_frame_at is not None and now > self._last_frame_at:
            rate = 1.0 / (now - self._last_frame_at)
            self.fps = rate if self.fps == 0 else 0.9 * self.fps + 0.1 * rate
        self._last_frame_at = now

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready copy (what ``status`` shows and what may leave the camera)."""
        data = asdict(self)
        data.pop("_last_frame_at")
        data["fps"] = round(self.fps, 2)
        data["hours"] = {str(h): asdict(c) for h, c in sorted(self.hours.items())}
        return data
