"""Simulated city traffic, as text: which plate passed which fixed camera, when.

No pixels: at city scale the comparison needs only what a reader outputs
after its multi-frame vote (one read per vehicle pass), so reads are
simulated as text. The plates are synthetic (``underseal.plates.sample_plates``,
California's standard format), never real, and are never printed.

The model, stated so that the report can quote it:

- a square street grid with cameras at randomly chosen intersections
  (a camera reads every vehicle through its intersection, all directions);
- **commuters** drive home → work in the morning and back in the evening,
  on weekdays (each with probability ``commute_probability``), always on the
  same route (x first, then y; the reverse at night);
- **everyone else** makes ``k`` trips in the week between random places, with
  ``P(k) ∝ k^-alpha`` (``alpha = 2.5``: about three in four make one trip),
  at times drawn from a two-peak day;
- vehicles are added until the cameras read ``reads_per_camera_day`` on
  average (5,800: six cameras in Conway, Arkansas read 6.3 M plates in six
  months, DESIGN §1), commuters first until they make ``commuter_read_share``
  of the reads;
- a block takes ``seconds_per_block`` to drive.

The hotlist is ``hotlist_size`` plates: listed vehicles drawn at random from
the city's until their reads reach ``hit_rate`` of all reads (Conway: 2,007
hits in 6.3 M reads, 0.03 %), plus listed plates that never drive here (a
state-wide list is mostly vehicles elsewhere).
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from underseal.epochs import epoch_start
from underseal.plates import fold, sample_plates

__all__ = ["CityConfig", "Read", "Traffic", "Vehicle", "simulate"]

# Monday 2026-09-21 00:00 UTC.
FIRST_EPOCH = 20717
_LAT0, _LON0 = 39_780_000, -89_650_000  # microdegrees; blocks of ~100 m
_DLAT, _DLON = 900, 1_170


@dataclass(frozen=True, slots=True)
class CityConfig:
    """Everything that shapes the simulated traffic (all counts, no plates)."""

    seed: int = 7
    grid: int = 24
    cameras: int = 64
    days: int = 7
    reads_per_camera_day: int = 5_800
    commuter_read_share: float = 0.30
    commute_probability: float = 0.9
    alpha: float = 2.5
    max_trips: int = 14
    seconds_per_block: int = 30
    hit_rate: float = 0.0003
    hotlist_size: int = 2_000
    min_listed_vehicles: int = 3
    first_epoch: int = FIRST_EPOCH

    @property
    def target_reads(self) -> int:
        """Reads the whole simulation aims for."""
        return self.cameras * self.days * self.reads_per_camera_day


@dataclass(frozen=True, slots=True)
class Read:
    """One vehicle pass read by one camera (the reader's output after its vote)."""

    plate: str
    camera: int
    at: int


@dataclass(slots=True)
class Vehicle:
    """A simulated vehicle: its plate and its kind (its reads are in :class:`Traffic`)."""

    plate: str
    commuter: bool
    reads: int = 0
    home: tuple[int, int] | None = None
    work: tuple[int, int] | None = None


@dataclass(slots=True)
class Traffic:
    """The simulated week: reads per day in time order, vehicles, cameras and the hotlist."""

    config: CityConfig
    camera_cells: list[tuple[int, int]]
    vehicles: list[Vehicle]
    days: list[list[Read]]
    hotlist: list[str]
    listed_in_city: set[str] = field(default_factory=set)

    @property
    def total_reads(self) -> int:
        """Every read of the week."""
        return sum(len(d) for d in self.days)

    def camera_id(self, index: int) -> str:
        """The camera's identifier (``cam-001`` …)."""
        return f"cam-{index + 1:03d}"

    def camera_position(self, index: int) -> tuple[int, int]:
        """(latitude, longitude) in microdegrees."""
        x, y = self.camera_cells[index]
        return _LAT0 + y * _DLAT, _LON0 + x * _DLON

    def reads(self) -> Iterator[Read]:
        """Every read of the week in time order."""
        for day in self.days:
            yield from day


def _route(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """The intersections from a to b, x first then y (a fixed route)."""
    (x0, y0), (x1, y1) = a, b
    sx = 1 if x1 >= x0 else -1
    sy = 1 if y1 >= y0 else -1
    cells = [(x, y0) for x in range(x0, x1 + sx, sx)]
    cells += [(x1, y) for y in range(y0 + sy, y1 + sy, sy)]
    return cells


class _City:
    def __init__(self, config: CityConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        cells = [(x, y) for x in range(config.grid) for y in range(config.grid)]
        self.camera_cells = rng.sample(cells, config.cameras)
        self.camera_at = {cell: i for i, cell in enumerate(self.camera_cells)}
        # Two-peak day for non-commute trips: weights per hour (an assumption).
        weights = [1, 1, 1, 1, 2, 4, 8, 12, 12, 9, 8, 8, 9, 9, 9, 10, 12, 12, 10, 8, 6, 4, 3, 2]
        self.hour_cdf = [sum(weights[: i + 1]) for i in range(24)]

    def cell(self) -> tuple[int, int]:
        g = self.config.grid
        return self.rng.randrange(g), self.rng.randrange(g)

    def trip(self, a: tuple[int, int], b: tuple[int, int], start: int) -> list[tuple[int, int]]:
        """(camera, time) of each camera passed on the route from a to b."""
        out = []
        for step, cell in enumerate(_route(a, b)):
            camera = self.camera_at.get(cell)
            if camera is not None:
                out.append((camera, start + step * self.config.seconds_per_block))
        return out

    def hour(self) -> int:
        u = self.rng.random() * self.hour_cdf[-1]
        return bisect.bisect_right(self.hour_cdf, u)

    def trips_in_week(self) -> int:
        c = self.config
        weights = [k**-c.alpha for k in range(1, c.max_trips + 1)]
        return self.rng.choices(range(1, c.max_trips + 1), weights=weights)[0]


def simulate(config: CityConfig) -> Traffic:
    """Simulate the week. Deterministic for a given config (its seed)."""
    if config.cameras > config.grid * config.grid:
        raise ValueError("more cameras than intersections")
    # A model, not a secret: a seeded PRNG is what reproducibility needs.
    rng = random.Random(config.seed)  # noqa: S311
    city = _City(config, rng)
    days: list[list[Read]] = [[] for _ in range(config.days)]
    vehicles: list[Vehicle] = []
    # Plates: synthetic CA standard plates, distinct after folding.
    pool = iter(_plates(config.seed))
    total = 0
    target = config.target_reads
    commuter_target = int(target * config.commuter_read_share)

    def add(vehicle: Vehicle, passes: list[tuple[int, int]], day: int) -> None:
        nonlocal total
        base = epoch_start(config.first_epoch + day)
        for camera, at in passes:
            if at >= 86_400:  # a trip past midnight is cut at the day's end
                break
            days[day].append(Read(vehicle.plate, camera, base + at))
            vehicle.reads += 1
            total += 1

    while total < commuter_target:
        home, work = city.cell(), city.cell()
        if abs(home[0] - work[0]) + abs(home[1] - work[1]) < config.grid // 4:
            continue
        v = Vehicle(next(pool), commuter=True, home=home, work=work)
        vehicles.append(v)
        leave = int(rng.gauss(7.75 * 3600, 40 * 60))
        back = int(rng.gauss(17.25 * 3600, 50 * 60))
        for day in range(config.days):
            if day % 7 >= 5 or rng.random() >= config.commute_probability:
                continue
            jitter = int(rng.gauss(0, 600))
            add(v, city.trip(home, work, max(0, leave + jitter)), day)
            add(v, city.trip(work, home, max(0, back + jitter)), day)
    while total < target:
        v = Vehicle(next(pool), commuter=False)
        vehicles.append(v)
        for _ in range(city.trips_in_week()):
            day = rng.randrange(config.days)
            start = city.hour() * 3600 + rng.randrange(3600)
            add(v, city.trip(city.cell(), city.cell(), start), day)
    for d in days:
        d.sort(key=lambda r: r.at)
    seen = [v for v in vehicles if v.reads]
    listed_in_city = _choose_listed(seen, config, total, rng)
    outsiders = max(0, config.hotlist_size - len(listed_in_city))
    hotlist = sorted(listed_in_city) + [next(pool) for _ in range(outsiders)]
    rng.shuffle(hotlist)
    return Traffic(config, city.camera_cells, seen, days, hotlist, listed_in_city)


def _choose_listed(
    seen: list[Vehicle], config: CityConfig, total: int, rng: random.Random
) -> set[str]:
    order = list(seen)
    rng.shuffle(order)
    listed: set[str] = set()
    reads = 0
    for v in order:
        if reads >= config.hit_rate * total and len(listed) >= config.min_listed_vehicles:
            break
        listed.add(v.plate)
        reads += v.reads
    return listed


def _plates(seed: int) -> Iterator[str]:
    """Distinct synthetic plates (distinct after folding, so tokens never collide)."""
    seen: set[str] = set()
    batch = 0
    while True:
        for plate in sample_plates(50_000, seed * 1_000 + batch, "CA"):
            folded = fold(plate)
            if folded not in seen:
                seen.add(folded)
                yield plate
        batch += 1
