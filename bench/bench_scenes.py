"""Synthetic road scenes per second (the detector's training renders them on the fly)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import cv2
from underseal_device.synth import SceneSampler

from bench.harness import figure, report, row, time_per_call


def main() -> None:
    rows = []
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # one core: training spreads scenes over worker processes
    try:
        for width, height in ((1280, 720), (640, 360)):
            sampler = SceneSampler(2024, width, height)
            counter = itertools.count()

            def one(s: SceneSampler = sampler, c: Iterator[int] = counter) -> object:
                return s.scene_at(next(c))

            samples = time_per_call(one, number=40, repeat=5)
            label = f"render one {width}x{height} scene (1 thread)"
            rows.append(row(label, samples, unit="ms", scale=1e3, goal="≤ 50 ms"))
            rate = sorted(1 / s for s in samples)[len(samples) // 2]
            rows.append(figure(f"scenes per second at {width}x{height} (1 thread)", rate,
                               unit="/s", n=40 * len(samples), goal="≥ 20 /s"))  # fmt: skip
    finally:
        cv2.setNumThreads(threads)
    report("scenes", rows)


if __name__ == "__main__":
    main()
