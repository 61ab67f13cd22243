"""What each adversary can read: plates, trajectories, commuters' home and work.

The same analysis runs on whatever (plate, camera, time) observations an
adversary ends up with, so the two designs are judged by one rule:

- a plate is *readable* if it appears in the adversary's observations;
- a *trajectory* is a plate seen at two or more distinct cameras (its route
  between them can be rebuilt);
- a *commuter's home/work pattern is inferable* if on at least three
  different days the plate's morning reads (05:00–11:00 UTC) start at the
  same camera and end at the same other camera: the start lies near home,
  the end near work.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from underseal.tokens import TokenKey

__all__ = ["View", "analyse", "breach_underseal_database"]

_MORNING = (5 * 3600, 11 * 3600)
_MIN_DAYS = 3


@dataclass(frozen=True, slots=True)
class View:
    """Counts of what one adversary can read (counts only: no plate leaves this object)."""

    observations: int
    plates: int
    trajectories: int
    commuters: int


def analyse(observations: Iterable[tuple[str, str, int]]) -> View:
    """Count plates, trajectories and inferable commuters in (plate, camera, time) tuples."""
    by_plate: dict[str, list[tuple[int, str]]] = defaultdict(list)
    n = 0
    for plate, camera, at in observations:
        by_plate[plate].append((at, camera))
        n += 1
    trajectories = 0
    commuters = 0
    for seen in by_plate.values():
        if len({c for _, c in seen}) >= 2:
            trajectories += 1
        else:
            continue
        mornings: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for at, camera in seen:
            if _MORNING[0] <= at % 86_400 < _MORNING[1]:
                mornings[at // 86_400].append((at, camera))
        pairs: Counter[tuple[str, str]] = Counter()
        for day in mornings.values():
            day.sort()
            if day[0][1] != day[-1][1]:
                pairs[day[0][1], day[-1][1]] += 1
        if pairs and pairs.most_common(1)[0][1] >= _MIN_DAYS:
            commuters += 1
    return View(n, len(by_plate), trajectories, commuters)


def breach_underseal_database(path: Path) -> list[tuple[str, str, int]]:
    """The attack on a stolen copy of underseal's records database, carried out.

    The thief holds what the server holds: the hotlist in clear, each live
    day's token key, and records whose only cleartext is camera, day, match
    token and arrival time. Every listed plate's token under each day's key
    is compared with the records' tokens; a record whose token is not a
    listed plate's stays an opaque ciphertext (and there are none: only hits
    are ever stored). Decrypting is out of reach (no epoch secret or share is
    in this database). Returns (plate, camera, arrival time) per linked record.
    """
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        plates = [str(p) for (p,) in db.execute("SELECT plate FROM hotlist_entry")]
        keys = {
            int(e): TokenKey(bytes(k))
            for e, k in db.execute("SELECT epoch, token_key FROM epoch_key")
            if k is not None
        }
        tables = {e: {k.token(p): p for p in plates} for e, k in keys.items()}
        out = []
        for camera, epoch, token, received in db.execute(
            "SELECT camera_id, epoch, match_token, received_at FROM record"
        ):
            plate = tables.get(int(epoch), {}).get(bytes(token))
            if plate is not None:
                out.append((plate, str(camera), int(received)))
        return out
    finally:
        db.close()
