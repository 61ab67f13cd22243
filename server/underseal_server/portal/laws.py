"""State ALPR retention laws (DESIGN §1) and whether a deployment's retention satisfies each.

Each law caps how long ALPR data may be kept. A deployment satisfies a cap
when its retention setting is no longer. New Hampshire's rule is about
non-hits (purged within 3 minutes): every setting satisfies it, because a
non-hit never leaves the camera's memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["LAWS", "RetentionLaw", "assess"]


@dataclass(frozen=True, slots=True)
class RetentionLaw:
    jurisdiction: str
    rule: str
    max_days: int | None
    """The longest retention allowed, in days; ``None``: the rule limits only non-hits."""


LAWS: Final[tuple[RetentionLaw, ...]] = (
    RetentionLaw("New Hampshire", "non-hits purged within 3 minutes", None),
    RetentionLaw("Maine", "at most 21 days", 21),
    RetentionLaw("Virginia", "at most 21 days", 21),
    RetentionLaw("California Highway Patrol", "at most 60 days", 60),
    RetentionLaw("Montana", "at most 90 days", 90),
    RetentionLaw("Tennessee", "at most 90 days", 90),
    RetentionLaw("Arkansas", "at most 150 days", 150),
    RetentionLaw("Vermont", "at most 18 months (548 days)", 548),
)


def assess(retention_days: int) -> list[tuple[RetentionLaw, bool, str]]:
    """Each law, whether ``retention_days`` satisfies it, and why in a few words."""
    verdicts = []
    for law in LAWS:
        if law.max_days is None:
            verdicts.append((law, True, "non-hits never leave the camera"))
        elif retention_days <= law.max_days:
            verdicts.append((law, True, f"{retention_days} ≤ {law.max_days} days"))
        else:
            verdicts.append((law, False, f"{retention_days} > {law.max_days} days"))
    return verdicts
