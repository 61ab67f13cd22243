"""One read per vehicle pass: a confidence-weighted vote over the reads of one track.

Each frame's read gives the best few readings of the plate with their
probabilities (``PlateRead.candidates``; the top reading alone when the
reader gives none). The vote adds, per canonical string, the probability of
each reading weighted by the detector's confidence, and divides by the total
weight: the result is the share of the evidence behind each string, a
probability between 0 and 1. A per-character vote (over reads of the most
common length, weighted by each character's confidence) adds its consensus
string, which can be right when no single frame read the whole plate.

Strings the plate grammar (:func:`underseal.plates.plausible`) rejects are
dropped before ranking: sign text and impossible lengths never reach the
matcher.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from underseal.errors import InvalidPlate
from underseal.plates import canonical, plausible
from underseal_device.reads import Box, PlateRead

__all__ = ["PassRead", "Reading", "vote"]

#: Readings kept per pass, best first.
MAX_READINGS: Final = 8


@dataclass(frozen=True, slots=True)
class Reading:
    """A canonical plate string and the vote's probability for it. Repr hides the text."""

    text: str
    probability: float

    def __repr__(self) -> str:
        return f"Reading(<{len(self.text)} chars>, p={self.probability:.3f})"


@dataclass(frozen=True, slots=True, eq=False)
class PassRead:
    """What the camera concluded about one vehicle pass. Holds plate text: never log it.

    ``readings`` are plausible strings, best first (empty when nothing
    plausible was read). ``crop`` is the plate pixels of the most confident
    frame; ``box`` its box in that frame.
    """

    readings: tuple[Reading, ...]
    frames: int
    first_seen: float
    last_seen: float
    box: Box
    crop: npt.NDArray[np.uint8] = field(repr=False)
    rejected: int = 0

    @property
    def best(self) -> Reading | None:
        """The most probable plausible reading, if any."""
        return self.readings[0] if self.readings else None

    def __repr__(self) -> str:
        best = self.best
        shown = "none" if best is None else f"p={best.probability:.3f}"
        return f"PassRead(frames={self.frames}, readings={len(self.readings)}, best {shown})"


def _canonical_or_none(text: str) -> str | None:
    try:
        return canonical(text)
    except (InvalidPlate, TypeError):
        return None


def _per_character(reads: Sequence[PlateRead]) -> tuple[str, float] | None:
    """The consensus of the most common read length, with its mean per-character support."""
    texts = [(r, _canonical_or_none(r.text)) for r in reads]
    usable = [(r, t) for r, t in texts if t and len(r.char_confidences) == len(t)]
    if len(usable) < 2:
        return None
    length = Counter(len(t) for _, t in usable).most_common(1)[0][0]
    same = [(r, t) for r, t in usable if len(t) == length]
    chars: list[str] = []
    support = 0.0
    for i in range(length):
        scores: dict[str, float] = defaultdict(float)
        for r, t in same:
            scores[t[i]] += max(r.detection_confidence, 1e-3) * r.char_confidences[i]
        total = sum(scores.values())
        char, score = max(scores.items(), key=lambda kv: (kv[1], kv[0]))
        chars.append(char)
        support += score / total if total > 0 else 0.0
    return "".join(chars), support / length


def vote(reads: Sequence[PlateRead], *, first_seen: float, last_seen: float) -> PassRead:
    """Combine the reads of one track into a :class:`PassRead` (see the module docstring)."""
    if not reads:
        raise ValueError("a pass needs at least one read")
    scores: dict[str, float] = defaultdict(float)
    total = 0.0
    for read in reads:
        weight = max(read.detection_confidence, 1e-3)
        total += weight
        options = [(c.text, c.probability) for c in read.candidates] or [
            (read.text, read.confidence)
        ]
        for raw, p in options:
            text = _canonical_or_none(raw) if raw else None
            if text is not None and p > 0:
                scores[text] += weight * min(p, 1.0)
    probabilities = {t: s / total for t, s in scores.items()}
    consensus = _per_character(reads)
    if consensus is not None and consensus[0] not in probabilities:
        # A string no frame read whole: trust it no more than the weakest character vote.
        probabilities[consensus[0]] = min(consensus[1], max(probabilities.values(), default=0.0))
    ranked = sorted(probabilities.items(), key=lambda kv: (-kv[1], kv[0]))
    kept: list[Reading] = []
    rejected = 0
    for text, p in ranked:
        if not plausible(text):
            rejected += 1
            continue
        if len(kept) < MAX_READINGS:
            kept.append(Reading(text, round(p, 6)))
    best_read = max(reads, key=lambda r: (r.confidence * r.detection_confidence, r.crop.size))
    return PassRead(
        readings=tuple(kept),
        frames=len(reads),
        first_seen=first_seen,
        last_seen=last_seen,
        box=best_read.box,
        crop=best_read.crop,
        rejected=rejected,
    )
