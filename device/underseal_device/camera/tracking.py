"""Tracking plates across frames, so that one vehicle pass becomes one read.

Each frame's plate boxes are matched to open tracks, greedily by overlap
(IoU) and, for a plate that moved further than its own size between two
sampled frames, by the distance between box centres relative to the box
size. A track that has not been seen for ``max_gap`` seconds has ended; its
reads are voted into one :class:`PassRead` (:mod:`.vote`). A track never
keeps more than ``max_reads`` reads (the most confident ones), so a parked
car in view does not grow memory without bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from underseal_device.camera.vote import PassRead, vote
from underseal_device.reads import Box, PlateRead

__all__ = ["Track", "Tracker", "iou"]


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (0 when either is empty)."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area_a = max(0, a[2] - a[0]) * max(0, a[3] - a[1])
    area_b = max(0, b[2] - b[0]) * max(0, b[3] - b[1])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def _centre_distance(a: Box, b: Box) -> float:
    """Distance between centres, in units of the larger box diagonal."""
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    size = max(math.hypot(a[2] - a[0], a[3] - a[1]), math.hypot(b[2] - b[0], b[3] - b[1]), 1.0)
    return math.hypot(ax - bx, ay - by) / size


@dataclass(slots=True, eq=False)
class Track:
    """One plate followed across frames. Holds reads (plate text): never log one."""

    box: Box
    first_seen: float
    last_seen: float
    reads: list[PlateRead] = field(default_factory=list)
    seen: int = 0

    def __repr__(self) -> str:
        span = f"{self.first_seen:.2f}-{self.last_seen:.2f}"
        return f"Track(box={self.box}, seen={self.seen}, t={span})"


class Tracker:
    """Associates plate reads with tracks; returns a :class:`PassRead` for each track that ends."""

    def __init__(
        self,
        *,
        min_iou: float = 0.1,
        max_centre_distance: float = 2.5,
        max_gap: float = 0.6,
        max_reads: int = 32,
        min_reads: int = 1,
    ) -> None:
        if not 0 <= min_iou <= 1 or max_centre_distance < 0 or max_gap <= 0:
            raise ValueError("tracker: 0 <= min_iou <= 1, max_centre_distance >= 0, max_gap > 0")
        if max_reads < 1 or min_reads < 1:
            raise ValueError("tracker: max_reads and min_reads must be at least 1")
        self.min_iou = min_iou
        self.max_centre_distance = max_centre_distance
        self.max_gap = max_gap
        self.max_reads = max_reads
        self.min_reads = min_reads
        self.tracks: list[Track] = []

    def __repr__(self) -> str:
        return f"Tracker(open={len(self.tracks)})"

    def update(self, reads: list[PlateRead], timestamp: float) -> list[PassRead]:
        """Add one processed frame's reads; return the passes that ended by ``timestamp``."""
        ended = self.expire(timestamp)
        pairs: list[tuple[float, int, int]] = []
        for ti, track in enumerate(self.tracks):
            for ri, read in enumerate(reads):
                overlap = iou(track.box, read.box)
                if overlap >= self.min_iou:
                    pairs.append((2.0 + overlap, ti, ri))  # overlap beats distance
                else:
                    distance = _centre_distance(track.box, read.box)
                    if distance <= self.max_centre_distance:
                        pairs.append((1.0 / (1.0 + distance), ti, ri))
        pairs.sort(key=lambda p: -p[0])
        used_tracks: set[int] = set()
        used_reads: set[int] = set()
        for _, ti, ri in pairs:
            if ti in used_tracks or ri in used_reads:
                continue
            used_tracks.add(ti)
            used_reads.add(ri)
            self._add(self.tracks[ti], reads[ri], timestamp)
        for ri, read in enumerate(reads):
            if ri not in used_reads:
                track = Track(box=read.box, first_seen=timestamp, last_seen=timestamp)
                self._add(track, read, timestamp)
                self.tracks.append(track)
        return ended

    def _add(self, track: Track, read: PlateRead, timestamp: float) -> None:
        track.box = read.box
        track.last_seen = timestamp
        track.seen += 1
        track.reads.append(read)
        if len(track.reads) > self.max_reads:
            weakest = min(
                range(len(track.reads)),
                key=lambda i: track.reads[i].confidence * track.reads[i].detection_confidence,
            )
            del track.reads[weakest]

    def expire(self, timestamp: float) -> list[PassRead]:
        """End the tracks not seen for ``max_gap`` seconds before ``timestamp``."""
        ended = [t for t in self.tracks if timestamp - t.last_seen > self.max_gap]
        self.tracks = [t for t in self.tracks if timestamp - t.last_seen <= self.max_gap]
        return self._conclude(ended)

    def flush(self) -> list[PassRead]:
        """End every open track (end of stream, shutdown)."""
        ended, self.tracks = self.tracks, []
        return self._conclude(ended)

    def _conclude(self, tracks: list[Track]) -> list[PassRead]:
        passes = []
        for track in tracks:
            if track.seen >= self.min_reads:
                passes.append(
                    vote(track.reads, first_seen=track.first_seen, last_seen=track.last_seen)
                )
            # The track's reads (plate text, crops) go with it: nothing else refers to them.
            track.reads.clear()
        return passes
