"""Matching a pass against the hotlist: fold → token → membership, for the best few readings.

Checking the second and third readings of a pass as well as the first finds
hotlist plates the OCR misread in one character, at the price of more false
alerts (each extra reading is one more chance that an innocent plate's
look-alike is listed). Both knobs bound that price: at most ``k`` readings,
and only readings the vote gives at least ``min_probability``.

Tokens exist only inside :meth:`Matcher.match`: a reading that does not
match is forgotten when the call returns; nothing is logged, stored or
counted per plate.
"""

from __future__ import annotations

from dataclasses import dataclass

from underseal.bundle import Match
from underseal.errors import InvalidPlate
from underseal_device.camera.hotlist import HotlistStore
from underseal_device.camera.vote import PassRead, Reading

__all__ = ["HotlistHit", "Matcher"]


@dataclass(frozen=True, slots=True, eq=False)
class HotlistHit:
    """A pass that matched: the reading that matched, the bundle match and its epoch."""

    reading: Reading
    match: Match
    epoch: int
    rank: int

    def __repr__(self) -> str:
        return f"HotlistHit(rank={self.rank}, epoch={self.epoch}, {self.match!r})"


class Matcher:
    """Checks the top ``k`` readings of a pass (each with at least ``min_probability``)."""

    def __init__(self, store: HotlistStore, *, k: int = 3, min_probability: float = 0.2) -> None:
        if not 1 <= k <= 8:
            raise ValueError("k must be between 1 and 8 readings")
        if not 0 < min_probability <= 1:
            raise ValueError("min_probability must be in (0, 1]")
        self.store = store
        self.k = k
        self.min_probability = min_probability

    def __repr__(self) -> str:
        return f"Matcher(k={self.k}, min_probability={self.min_probability})"

    def match(self, passed: PassRead, *, now: int) -> HotlistHit | None:
        """The hit for this pass, or None (no bundle valid now: match nothing)."""
        bundle = self.store.bundle_for(now)
        if bundle is None:
            return None
        for rank, reading in enumerate(passed.readings[: self.k]):
            if reading.probability < self.min_probability:
                break  # readings are sorted: the rest are weaker still
            try:
                found = bundle.match(reading.text)
            except InvalidPlate:
                continue
            if found is not None:
                return HotlistHit(reading, found, bundle.header.epoch, rank)
        return None
