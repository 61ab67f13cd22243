"""`python -m bench [NAME ...]`: run bench/bench_NAME.py (all of them by default)."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path


def main() -> None:
    """Run the named suites, or every suite, in turn."""
    here = Path(__file__).parent
    available = sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suites", nargs="*", help=f"suites to run: {', '.join(available)}")
    args = parser.parse_args()
    unknown = sorted(set(args.suites) - set(available))
    if unknown:
        parser.error(f"no such suite: {', '.join(unknown)} (have: {', '.join(available)})")
    for name in args.suites or available:
        importlib.import_module(f"bench.bench_{name}").main()


if __name__ == "__main__":
    main()
