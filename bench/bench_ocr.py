"""OCR speed (DESIGN §7: ≤ 2 ms per plate crop) on synthetic crops, one and eight at a time.

The hotlist candidates' beam search is also timed on the crops the reader cuts
from real scenes (openalpr's US development half, when it is there): the
networks are less sure there, and the search's cost follows how many classes
each step leaves open.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
from underseal_device.detect.reader import shipped_reader
from underseal_device.ocr import Recognizer
from underseal_device.synth import PlateSampler

from bench.eval_reader import DATA, scenes
from bench.harness import report, row, time_per_call

#: US scenes whose reader crops the candidates are timed on.
REAL_SCENES = 20


def reader_crops(limit: int = REAL_SCENES) -> list[np.ndarray]:
    """The crops the shipped reader reads in the first ``limit`` US scenes (none without them)."""
    if not (DATA / "endtoend" / "us").is_dir():
        return []
    reader = shipped_reader()
    return [crop for item in scenes(DATA, "us")[0][:limit] for crop in reader.crops(item.image)]


def main() -> None:
    sampler = PlateSampler(seed=2024)
    crops = [sampler.sample_at(i).image for i in range(64)]
    rows = []
    for threads in (1, 2):
        recognizer = Recognizer(threads=threads)
        counter = itertools.count()
        label = f"{threads} thread{'s' * (threads > 1)}"

        def one(r: Recognizer = recognizer, c: Iterator[int] = counter) -> object:
            return r.recognize([crops[next(c) % len(crops)]])

        def eight(r: Recognizer = recognizer) -> object:
            return r.recognize(crops[:8])

        rows.append(row(f"recognize 1 crop per call ({label})", time_per_call(one, number=200),
                        unit="ms", scale=1e3, goal="≤ 2 ms"))  # fmt: skip
        per_crop = [s / 8 for s in time_per_call(eight, number=50)]
        rows.append(row(f"recognize 8 crops per call, per crop ({label})", per_crop, unit="ms",
                        scale=1e3, goal="≤ 2 ms"))  # fmt: skip
    recognizer = Recognizer()

    def top3(r: Recognizer = recognizer) -> object:
        return r.candidates(crops[:8], k=3)

    per_crop = [s / 8 for s in time_per_call(top3, number=20)]
    rows.append(row("top-3 candidates (beam 8), per crop (1 thread)", per_crop, unit="ms",
                    scale=1e3))  # fmt: skip
    real = reader_crops()
    if real:

        def top3_real(r: Recognizer = recognizer) -> object:
            return r.candidates(real, k=3)

        per_crop = [s / len(real) for s in time_per_call(top3_real, number=5)]
        name = (f"top-3 candidates (beam 8), per crop, on the reader's {len(real)} crops "
                f"of {REAL_SCENES} US scenes (1 thread)")  # fmt: skip
        rows.append(row(name, per_crop, unit="ms", scale=1e3))
    report("ocr_speed", rows)


if __name__ == "__main__":
    main()
