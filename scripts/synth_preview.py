"""Write a contact sheet of synthetic plate samples, each labelled with its ground truth.

    .venv/bin/python scripts/synth_preview.py /tmp/synth_sheet.png --seed 1

Each cell shows one camera crop (scaled to fit, aspect kept) with its
canonical text underneath; signs (hard negatives) are labelled in red.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from underseal_device.synth import PlateSampler, Sample, render_plate

_CELL_W, _CELL_H, _LABEL_H = 240, 120, 22


def _cell(sample: Sample) -> np.ndarray:
    cell = np.full((_CELL_H + _LABEL_H, _CELL_W, 3), 255, np.uint8)
    img = sample.image
    f = min((_CELL_W - 4) / img.shape[1], (_CELL_H - 4) / img.shape[0])
    w, h = max(1, round(img.shape[1] * f)), max(1, round(img.shape[0] * f))
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    x, y = (_CELL_W - w) // 2, (_CELL_H - h) // 2
    cell[y : y + h, x : x + w] = cv2.resize(img, (w, h), interpolation=interp)
    ink = (20, 20, 20) if sample.is_plate else (30, 30, 200)
    label = sample.text if sample.is_plate else f"sign: {sample.text}"
    cv2.putText(cell, label, (6, _CELL_H + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.55, ink, 1, cv2.LINE_AA)
    return cell


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, render the sheet, write it; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="PNG file to write")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    parser.add_argument("--rows", type=int, default=8, help="rows in the grid (default 8)")
    parser.add_argument("--cols", type=int, default=8, help="columns in the grid (default 8)")
    parser.add_argument(
        "--strength", type=float, default=1.0, help="degradation strength (default 1.0)"
    )
    parser.add_argument(
        "--signs", type=float, default=0.1, help="share of cells showing signs (default 0.1)"
    )
    parser.add_argument(
        "--clean", action="store_true", help="show clean plates, before any camera effect"
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.cols < 1 or not 0 <= args.signs <= 1:
        parser.error("rows and cols must be positive and --signs between 0 and 1")

    sampler = PlateSampler(args.seed, strength=args.strength)
    pick = np.random.default_rng(args.seed)
    cells = []
    for i in range(args.rows * args.cols):
        if pick.random() < args.signs:
            cells.append(_cell(sampler.sign()))
            continue
        sample = sampler.sample()
        if args.clean:
            # Same layout and text, drawn without the camera.
            assert sample.layout is not None
            clean = render_plate(sample.text, np.random.default_rng(i), layout=sample.layout)
            sample = Sample(clean, sample.text, sample.layout, True)
        cells.append(_cell(sample))
    rows = [np.hstack(cells[r * args.cols : (r + 1) * args.cols]) for r in range(args.rows)]
    sheet = np.vstack(rows)
    if not cv2.imwrite(str(args.output), sheet):
        print(f"could not write {args.output}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({args.rows}x{args.cols} samples, seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
