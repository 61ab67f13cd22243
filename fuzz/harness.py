"""What every fuzz target shares: the crash rule, the counters and the atheris driver.

A target is a function of one ``bytes`` input. It may raise only the
documented error family (``expected``); anything else is a crash. Crashes are
counted and their inputs written to ``fuzz/crashes/<target>/`` (the run goes
on, so one figure covers the whole budget). Seeds come from the real
encoders, written to a temporary corpus directory at start.

``run`` drives atheris (libFuzzer) when it is installed; ``replay`` calls the
target on the seeds and on mutations of them (random byte flips, cuts and
splices from a seeded RNG): what ``make test`` runs, fast and without atheris.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import random
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CRASH_DIR = Path(__file__).parent / "crashes"


@dataclass
class Target:
    """One parser under fuzz: ``check(data)`` may raise only ``expected``."""

    name: str
    check: Callable[[bytes], object]
    seeds: Callable[[], Sequence[bytes]]
    expected: tuple[type[BaseException], ...]
    executions: int = 0
    crashes: list[str] = field(default_factory=list)

    def one(self, data: bytes) -> None:
        """Run one input; an unexpected exception is recorded as a crash."""
        self.executions += 1
        try:
            self.check(data)
        except self.expected:
            pass
        except Exception as error:  # the point of the harness: anything else is a crash
            digest = hashlib.sha256(data).hexdigest()[:16]
            folder = CRASH_DIR / self.name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"crash-{digest}").write_bytes(data)
            summary = f"{type(error).__name__}: {error}"[:200]
            if summary not in self.crashes:
                self.crashes.append(summary)
                print(f"[{self.name}] CRASH {summary}", file=sys.stderr)
                traceback.print_exc(limit=6, file=sys.stderr)


def mutate(data: bytes, rng: random.Random, pool: Sequence[bytes]) -> bytes:
    """A cheap structure-blind mutation: flips, inserts, cuts, splices."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        action = rng.randrange(5)
        at = rng.randrange(len(buffer) + 1)
        if action == 0 and buffer:
            at = min(at, len(buffer) - 1)
            buffer[at] ^= 1 << rng.randrange(8)
        elif action == 1:
            buffer[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif action == 2:
            del buffer[at : at + rng.randint(1, 16)]
        elif action == 3 and pool:
            other = rng.choice(pool)
            start = rng.randrange(len(other) + 1)
            buffer[at:at] = other[start : start + rng.randint(1, 32)]
        elif buffer:
            at = min(at, len(buffer) - 1)
            buffer[at] = rng.choice([0, 0x7F, 0x80, 0xFF, ord('"'), ord("{"), ord("9")])
    return bytes(buffer)


def replay(target: Target, *, inputs: int, seed: int = 0) -> Target:
    """Seeds, then ``inputs`` mutations of them; returns the target with its counts."""
    rng = random.Random(seed)  # noqa: S311 - reproducible mutations, not secrets
    pool = list(target.seeds())
    for data in pool:
        target.one(data)
    for _ in range(inputs):
        target.one(mutate(rng.choice(pool), rng, pool))
    return target


def _instrument_project(atheris: Any) -> None:
    # Coverage for the project's own code only: instrument_all() spends tens of
    # seconds on every library loaded (pydantic, numpy, ...) before a single run.
    seen: set[int] = set()
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(("underseal", "fuzz")):
            continue
        for value in list(vars(module).values()):
            functions = [value]
            if inspect.isclass(value) and value.__module__ == name:
                functions = [getattr(member, "__func__", member) for member in vars(value).values()]
            for function in functions:
                if inspect.isfunction(function) and id(function) not in seen:
                    seen.add(id(function))
                    with contextlib.suppress(Exception):
                        atheris.instrument_func(function)


def run(target: Target, argv: Sequence[str] | None = None) -> None:
    """Entry point of each ``fuzz/fuzz_*.py``: atheris with libFuzzer flags from ``argv``.

    ``-max_total_time=S`` or ``-runs=N`` bound it; libFuzzer prints its own
    ``Done N runs in S second(s)``, which ``fuzz/run_all.py`` reads. Crashes
    are counted in ``fuzz/crashes/<target>/`` (the run goes on after one).
    """
    import atheris  # type: ignore[import-untyped]  # only the fuzz extra installs it

    args = list(sys.argv if argv is None else argv)
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{target.name}-"))
    for number, data in enumerate(target.seeds()):
        (corpus / f"seed-{number}").write_bytes(data)
    _instrument_project(atheris)
    atheris.Setup([args[0], *args[1:], str(corpus)], target.one)
    atheris.Fuzz()
