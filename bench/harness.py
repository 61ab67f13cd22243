"""The benchmark harness: repeated timings, medians, machine facts, a table and JSON.

Benchmarks are not tests: nothing here asserts a speed. Each case is timed
``repeat`` times over ``number`` calls; the figure quoted is the median of
the per-call times, with the spread (min, max) beside it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"


@dataclass
class Row:
    """One measured figure."""

    name: str
    median: float
    unit: str
    low: float
    high: float
    runs: int
    goal: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def time_per_call(fn: Callable[[], object], *, number: int, repeat: int = 7) -> list[float]:
    """Seconds per call of ``fn``, one figure per repeat (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return samples


def row(name: str, samples: list[float], *, unit: str, scale: float, goal: str = "") -> Row:
    """A row from samples in seconds, shown in ``unit`` (``scale`` units per second)."""
    scaled = [s * scale for s in samples]
    return Row(name, statistics.median(scaled), unit, min(scaled), max(scaled), len(scaled), goal)


def figure(name: str, value: float, *, unit: str, n: int, goal: str = "", **extra: Any) -> Row:
    """A row for a single measured figure over ``n`` items (an accuracy, a median)."""
    return Row(name, value, unit, value, value, n, goal, dict(extra))


#: The CPU flags that decide how fast onnxruntime's float and int8 kernels run.
VECTOR_FLAGS: Final = (
    "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
    "amx_int8",
)  # fmt: skip


def cpu_identity(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """The first CPU's model name, family, model, stepping and vector flags (empty if unknown)."""
    fields = {"model name": "model name", "cpu family": "family", "model": "model",
              "stepping": "stepping", "flags": "flags"}  # fmt: skip
    out: dict[str, str] = {}
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        key, _, value = line.partition(":")
        name = fields.get(key.strip())
        if name is None or name in out:
            continue
        if name == "flags":
            have = set(value.split())
            value = " ".join(f for f in VECTOR_FLAGS if f in have)
        out[name] = value.strip()
    return out


def machine() -> dict[str, Any]:
    """Facts about the machine and the libraries, stored beside every figure."""
    import cryptography
    import nacl

    versions = {}
    for module in ("numpy", "cv2", "onnxruntime"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = "not installed"

    cpu = cpu_identity()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu.get("model name") or platform.processor(),
        # "AMD EPYC" names CPUs from 2017 to now: the family, model and vector units
        # tell them apart, and the models' speed depends on them several times over.
        "cpu_id": " ".join(f"{k} {cpu[k]}" for k in ("family", "model", "stepping") if k in cpu),
        "cpu_vector_isa": cpu.get("flags", ""),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pynacl": nacl.__version__,
        "cryptography": cryptography.__version__,
        **versions,
        "commit": commit,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def report(suite: str, rows: list[Row]) -> Path:
    """Print a table and write ``bench/results/<suite>.json``."""
    table = Table(title=f"bench: {suite}")
    for column in ("case", "median", "min", "max", "runs", "goal"):
        table.add_column(column, justify="left" if column in ("case", "goal") else "right")
    for r in rows:
        table.add_row(
            r.name, f"{r.median:.4g} {r.unit}", f"{r.low:.4g}", f"{r.high:.4g}", str(r.runs), r.goal
        )
    Console(width=150).print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{suite}.json"
    payload = {"suite": suite, "machine": machine(), "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
