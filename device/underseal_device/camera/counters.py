"""Aggregate counters: the only thing about traffic that leaves the camera.

Counts of frames, reads, vehicle passes and hits, per hour and in total,
the processing rate and the camera's health. No counter is per plate: a
non-hit changes a total by one and nothing else. The hourly counts
(:meth:`Counters.hour_reports`) are what the uplink sends to the records
server; the totals stay in ``status.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Final

__all__ = ["Counters", "HourCounts", "HourReport"]

HOUR: Final = 3600
KEEP_HOURS: Final = 48
MAX_HEALTH_GAP: Final = 60.0
"""Seconds between two health observations beyond which the gap counts as not running."""


@dataclass(slots=True)
class HourCounts:
    """Counts for one hour (UTC, by its first second); seconds up and healthy as observed."""

    frames: int = 0
    reads: int = 0
    passes: int = 0
    hits: int = 0
    uptime: float = 0.0
    healthy: float = 0.0


@dataclass(frozen=True, slots=True)
class HourReport:
    """One hour's counts as they leave the camera: whole numbers, nothing about any read."""

    hour: int
    frames: int
    reads: int
    passes: int
    hits: int
    uptime_seconds: int
    healthy_seconds: int

    @classmethod
    def of(cls, hour: int, counts: HourCounts) -> HourReport:
        uptime = min(HOUR, int(counts.uptime))
        return cls(
            hour=hour,
            frames=counts.frames,
            reads=counts.reads,
            passes=counts.passes,
            hits=min(counts.hits, counts.passes),
            uptime_seconds=uptime,
            healthy_seconds=min(uptime, int(counts.healthy)),
        )

    def to_json(self) -> dict[str, int]:
        """The wire form (the server refuses any other field)."""
        return asdict(self)


@dataclass(slots=True)
class Counters:
    """Running totals, per-hour counts and the health of one camera process."""

    frames_in: int = 0
    frames_dropped: int = 0  # sent by a live source while the pipeline was busy: never seen
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
    hits_repeated: int = 0  # the same hotlist entry again within the repeat window
    fps: float = 0.0
    healthy: bool = False
    health_reason: str = "starting"
    outbox_depth: int = 0
    outbox_in_memory: int = 0  # hits waiting for room on a full disk
    hits_lost: int = 0  # a full disk with the memory for waiting hits used up
    hours: dict[int, HourCounts] = field(default_factory=dict)
    _last_frame_at: float | None = None
    _last_health_at: float | None = None

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

    def observe_health(self, now: float, ok: bool) -> None:
        """Count the time since the last observation as running (and healthy if ``ok``).

        The time is split at hour boundaries. A gap over :data:`MAX_HEALTH_GAP`
        seconds (the source stalled, the process was stopped) is not counted.
        """
        last, self._last_health_at = self._last_health_at, now
        if last is None or not 0 < now - last <= MAX_HEALTH_GAP:
            return
        start = last
        while start < now:
            end = min(now, (int(start) // HOUR + 1) * HOUR)
            counts = self.hour(start)
            counts.uptime += end - start
            if ok:
                counts.healthy += end - start
            start = end

    def hour_reports(self) -> list[HourReport]:
        """A copy of every kept hour's counts, oldest first (what the uplink sends)."""
        return [HourReport.of(h, c) for h, c in sorted(self.hours.items())]

    def restore_hours(self, stored: object, now: float) -> int:
        """Take back the hourly counts of an earlier run (``status.json``'s ``hours``).

        Only hours of the last two days, not in the future and not counted
        in this run yet are restored; a malformed entry is skipped. Returns
        how many were restored. Without this a restart within an hour would
        begin that hour again from zero.
        """
        if not isinstance(stored, Mapping):
            return 0
        current = int(now) // HOUR * HOUR
        restored = 0
        for key, value in stored.items():
            try:
                hour = int(key)
                counts = HourCounts(**value)
            except (TypeError, ValueError):
                continue
            numbers = asdict(counts).values()
            if not all(type(n) in (int, float) and n >= 0 for n in numbers):
                continue
            if hour % HOUR or hour in self.hours:
                continue
            if not current - KEEP_HOURS * HOUR < hour <= current:
                continue
            self.hours[hour] = counts
            restored += 1
        return restored

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready copy (what ``status`` shows; only the hours leave the camera)."""
        data = asdict(self)
        data.pop("_last_frame_at")
        data.pop("_last_health_at")
        data["fps"] = round(self.fps, 2)
        data["hours"] = {
            str(h): {**asdict(c), "uptime": round(c.uptime, 1), "healthy": round(c.healthy, 1)}
            for h, c in sorted(self.hours.items())
        }
        return data
