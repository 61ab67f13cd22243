"""``make fuzz``: every target under atheris for a time budget, then a table.

Each target runs in its own process (``python -m fuzz.fuzz_<name>
-max_total_time=S``); the figures are libFuzzer's own (``Done N runs in S
second(s)``) and the crash inputs written to ``fuzz/crashes/<target>/``.
Exits 1 when any target crashed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

TARGETS = {
    "bundle": "bundle",
    "sealed": "sealed_record",
    "warrant": "warrant",
    "checkpoint": "checkpoint",
    "signed_request": "signed_request",
    "token_delivery": "token_delivery",
    "evidence": "evidence",
    "images": "images",
}
DONE = re.compile(r"Done (\d+) runs in (\d+) second")
CRASHES = Path(__file__).parent / "crashes"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60, help="budget per target")
    parser.add_argument("targets", nargs="*", default=list(TARGETS))
    args = parser.parse_args()
    rows = []
    for module in args.targets:
        name = TARGETS[module]
        folder = CRASHES / name
        before = set(folder.iterdir()) if folder.exists() else set()
        started = time.monotonic()
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", f"fuzz.fuzz_{module}", f"-max_total_time={args.seconds}"],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        found = DONE.search(done.stderr + done.stdout)
        runs = int(found.group(1)) if found else 0
        crashes = len((set(folder.iterdir()) if folder.exists() else set()) - before)
        if done.returncode != 0 or not found:
            crashes = max(crashes, 1)
            print(done.stderr[-3000:], file=sys.stderr)
        rows.append((name, runs, seconds, crashes))
        print(f"{name:16} {runs:>12,} inputs {seconds:7.1f} s {crashes:>3} crashes", flush=True)
    print("\n| target | inputs tried | seconds | crashes |\n|---|---:|---:|---:|")
    for name, runs, seconds, crashes in rows:
        print(f"| {name} | {runs:,} | {seconds:.0f} | {crashes} |")
    return 1 if any(row[3] for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
