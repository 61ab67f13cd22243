"""Write a contact sheet of synthetic road scenes with their ground-truth boxes drawn.

    .venv/bin/python scripts/scene_preview.py /tmp/scenes.png --seed 1 -n 12

Plates are outlined in green (readable) or yellow (not readable: small,
cut or covered) with their text; hard negatives in red with their kind.
Also prints how fast scenes render (one OpenCV thread) and a summary of
what the sheet holds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from underseal_device.synth import Scene, SceneSampler


def _annotated(scene: Scene) -> np.ndarray:
    img = scene.image.copy()
    for p in scene.plates:
        color = (60, 220, 60) if p.readable else (0, 220, 240)
        cv2.polylines(img, [np.round(p.quad).astype(np.int32)], True, color, 1, cv2.LINE_AA)
        x0, y0, x1, y1 = p.box
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), color, 1)
        cv2.putText(img, p.text, (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1,
                    cv2.LINE_AA)  # fmt: skip
    for n in scene.negatives:
        x0, y0, x1, y1 = n.box
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), (40, 40, 230), 1)
        cv2.putText(img, n.kind, (x0, min(img.shape[0] - 4, y1 + 12)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (40, 40, 230), 1, cv2.LINE_AA)  # fmt: skip
    label = f"{scene.lighting}, {len(scene.plates)} plate(s)"
    cv2.putText(img, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    return img


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, render the sheet, write it; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "output", type=Path, nargs="?", default=Path(tempfile.gettempdir()) / "scenes.png",
        help="PNG file to write (default: scenes.png in the temporary directory, /tmp)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    parser.add_argument("-n", type=int, default=12, help="number of scenes (default 12)")
    parser.add_argument("--start", type=int, default=0, help="first scene index (default 0)")
    parser.add_argument("--cols", type=int, default=3, help="columns in the sheet (default 3)")
    parser.add_argument("--scale", type=float, default=0.5, help="cell scale (default 0.5)")
    parser.add_argument("--raw", action="store_true", help="do not draw the boxes")
    args = parser.parse_args(argv)
    if args.n < 1 or args.cols < 1 or not 0.05 <= args.scale <= 1 or args.start < 0:
        parser.error("n and cols must be positive, start >= 0 and scale in 0.05-1")

    cv2.setNumThreads(1)
    sampler = SceneSampler(args.seed)
    sampler.scene_at(args.start)  # warm the font and glyph caches
    start = time.perf_counter()
    scenes = [sampler.scene_at(args.start + i) for i in range(args.n)]
    elapsed = time.perf_counter() - start
    cells = []
    for s in scenes:
        img = s.image if args.raw else _annotated(s)
        size = (round(img.shape[1] * args.scale), round(img.shape[0] * args.scale))
        cells.append(cv2.resize(img, size, interpolation=cv2.INTER_AREA))
    while len(cells) % args.cols:
        cells.append(np.zeros_like(cells[0]))
    rows = [np.hstack(cells[i : i + args.cols]) for i in range(0, len(cells), args.cols)]
    if not cv2.imwrite(str(args.output), np.vstack(rows)):
        print(f"could not write {args.output}", file=sys.stderr)
        return 1
    plates = [p for s in scenes for p in s.plates]
    print(f"wrote {args.output} ({args.n} scenes, seed {args.seed})")
    print(f"{args.n / elapsed:.1f} scenes/s at {sampler.size[0]}x{sampler.size[1]} (1 thread)")
    print(
        f"{len(plates)} plates ({sum(p.readable for p in plates)} readable), "
        f"{sum(len(s.negatives) for s in scenes)} negatives, "
        f"{sum(not s.plates for s in scenes)} scenes without a plate"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
