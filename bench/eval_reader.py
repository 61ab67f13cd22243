"""``make eval``: the plate reader on real openalpr scenes, beside reference pipelines.

Evaluation only: these photos are never trained or tuned on (this is the
development half; a held-out half exists elsewhere). Sets: ``endtoend/us``
and ``endtoend/eu``, one ground-truth plate per image. For each reader:

- detection recall and precision: a box is right when its IoU with the
  ground truth is at least 0.5 (each ground truth matched once);
- plates overlapped: a box overlaps the ground truth at all (IoU > 0), the
  most an end-to-end read can count on;
- box size against the truth: the best-overlapping box's width and height
  over the ground truth's (median over the plates overlapped; no row where
  no box overlaps a plate). A centred box holding the whole plate fails IoU
  ≥ 0.5 once its area is twice the plate's (1.42 times as wide and as
  tall), however readable the plate in it: these rows say whether a miss
  is a plate not found or a box drawn larger (or smaller) than the
  annotator's;
- end to end exact: the ground-truth plate counts as read when some read's
  box overlaps its box (any overlap) and the read's text equals it;
- end to end after folding: the same, with both texts folded
  (:func:`underseal.plates.fold`: O and 0, I and 1, B and 8... as one), which
  is all a hotlist match asks of a read;
- frames per second (median per-frame time) at the native size and with the
  frame resized to 1280×720;
- for the shipped reader, also as the camera runs it: :data:`WORKERS` frames
  at once from one reader, each model on one thread (frames over wall time,
  median of three passes over the 1280×720 frames).

Rows: underseal's reader (detector + recognizer + grammar) at its shipped
operating point, the same without the detector's zoomed second pass (boxes
from the first pass only), and with the detector at the model's own threshold, RapidOCR's full
pipeline (DBNet detector + recognizer; optional, ``make eval-deps``), and
OpenCV's two plate Haar cascades (detection, then our recognizer on their
boxes, so their end-to-end row measures the cascade).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from underseal_device.camera.readers import WORKERS
from underseal_device.detect import Detector, PlateReader
from underseal_device.detect.detector import Detection
from underseal_device.detect.reader import RECALL_THRESHOLD, THREADS, threads_per_frame
from underseal_device.ocr import Recognizer

from bench.eval_ocr import clean
from bench.harness import Row, figure, report
from underseal.plates import fold

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "openalpr"

Box = tuple[int, int, int, int]
#: A pipeline: frame → list of (box, text) (text "" when it reads none).
Pipeline = Callable[[np.ndarray], list[tuple[Box, str]]]


@dataclass
class Item:
    """One scene: the image, its plate's box and text."""

    name: str
    image: np.ndarray
    box: Box
    text: str


def scenes(data: Path, region: str) -> tuple[list[Item], int]:
    """The scenes of ``endtoend/<region>`` with their ground truth, and how many did not load."""
    out: list[Item] = []
    skipped = 0
    for txt in sorted((data / "endtoend" / region).glob("*.txt")):
        for line in txt.read_text().splitlines():
            parts = line.split()
            image = cv2.imread(str(txt.with_name(parts[0]))) if len(parts) >= 6 else None
            if image is None:
                skipped += 1
                continue
            x, y, w, h = (int(v) for v in parts[1:5])
            out.append(Item(parts[0], image, (x, y, x + w, y + h), clean(parts[5])))
    return out, skipped


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (x1, y1 exclusive)."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_size(boxes: list[Box], truth: Box) -> tuple[float, float] | None:
    """The size of the box overlapping ``truth`` most, over ``truth``'s: (width, height) ratios.

    None when no box overlaps ``truth``.
    """
    best = max(boxes, key=lambda b: iou(b, truth), default=None)
    if best is None or iou(best, truth) <= 0:
        return None
    return (best[2] - best[0]) / (truth[2] - truth[0]), (best[3] - best[1]) / (truth[3] - truth[1])


@dataclass
class Score:
    """One pipeline on one set."""

    n: int
    recall: float
    precision: float
    overlapped: float
    width_ratio: float
    height_ratio: float
    exact: float
    folded: float
    ms_native: float
    ms_720p: float
    failures: int


def score(pipeline: Pipeline, items: list[Item], speed_frames: int) -> Score:
    """Detection, end-to-end and speed figures of one pipeline on one set."""
    found = right = claimed = exact = folded = failures = 0
    native: list[float] = []
    widths: list[float] = []
    heights: list[float] = []
    for item in items:
        start = time.perf_counter()
        try:
            reads = pipeline(item.image)
        except Exception:
            reads, failures = [], failures + 1
        native.append(time.perf_counter() - start)
        boxes = [b for b, _ in reads]
        claimed += len(boxes)
        right += sum(iou(b, item.box) >= 0.5 for b in boxes)
        found += any(iou(b, item.box) >= 0.5 for b in boxes)
        size = box_size(boxes, item.box)
        if size is not None:
            widths.append(size[0])
            heights.append(size[1])
        exact += any(iou(b, item.box) > 0 and t == item.text for b, t in reads)
        folded += any(iou(b, item.box) > 0 and bool(t) and fold(t) == fold(item.text)
                      for b, t in reads)  # fmt: skip
    wide: list[float] = []
    for item in items[:speed_frames]:
        frame = cv2.resize(item.image, (1280, 720), interpolation=cv2.INTER_LINEAR)
        start = time.perf_counter()
        try:
            pipeline(frame)
        except Exception:
            failures += 1
        wide.append(time.perf_counter() - start)
    n = len(items)
    return Score(
        n=n, recall=found / n, precision=right / max(claimed, 1), exact=exact / n,
        folded=folded / n, overlapped=len(widths) / n,
        width_ratio=statistics.median(widths) if widths else float("nan"),
        height_ratio=statistics.median(heights) if heights else float("nan"),
        ms_native=statistics.median(native) * 1e3, ms_720p=statistics.median(wide) * 1e3,
        failures=failures,
    )  # fmt: skip


def throughput(reader: PlateReader, items: list[Item], speed_frames: int, rounds: int = 3) -> float:
    """Frames/s of ``reader`` reading WORKERS 1280×720 frames at once, as the camera does."""
    frames = [
        cv2.resize(item.image, (1280, 720), interpolation=cv2.INTER_LINEAR)
        for item in items[:speed_frames]
    ]
    rates = []
    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in range(rounds):
            start = time.perf_counter()
            list(pool.map(reader.read, frames))
            rates.append(len(frames) / (time.perf_counter() - start))
    return statistics.median(rates)


def underseal_pipeline(reader: PlateReader) -> Pipeline:
    """Our reader: its boxes and (grammar-checked) texts."""
    return lambda frame: [(r.box, r.text) for r in reader.read(frame)]


def haar_pipeline(cascade_file: str, reader: PlateReader) -> Pipeline:
    """An OpenCV plate cascade's boxes, read by our recognizer."""
    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / cascade_file))  # type: ignore[attr-defined]

    def run(frame: np.ndarray) -> list[tuple[Box, str]]:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=3, minSize=(24, 8))
        detections = [Detection((x, y, x + w, y + h), 1.0) for x, y, w, h in np.asarray(found)]
        return [(r.box, r.text) for r in reader.read_detections(frame, detections)]

    return run


def rapidocr_pipeline() -> Pipeline | None:
    """RapidOCR's full pipeline (text detection, recognition), if installed."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR()

    def run(frame: np.ndarray) -> list[tuple[Box, str]]:
        result, _ = engine(frame)
        out: list[tuple[Box, str]] = []
        for polygon, text, _score in result or []:
            pts = np.asarray(polygon, dtype=np.float64)
            x0, y0 = pts.min(0)
            x1, y1 = pts.max(0)
            out.append(((int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1))), clean(text)))
        return out

    return run


def main() -> None:
    """Run every pipeline on both sets; print the table and write bench/results/reader.json."""
    parser = argparse.ArgumentParser(prog="make eval", description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA, help="the openalpr benchmark folder")
    parser.add_argument("--speed-frames", type=int, default=40, help="frames timed at 1280×720")
    parser.add_argument(
        "--no-reference", action="store_true",
        help="skip RapidOCR and Haar (the results go to bench/results/reader-candidate.json)",
    )  # fmt: skip
    parser.add_argument(
        "--detector", type=Path, default=None,
        help="a just-trained detector's manifest, run at the shipped operating point instead "
        "of the shipped model (its hash is checked against its manifest only); the results "
        "go to bench/results/reader-candidate.json",
    )  # fmt: skip
    parser.add_argument(
        "--recognizer", type=Path, default=None,
        help="a just-trained recognizer's manifest, read instead of the shipped model (checked "
        "as --detector's); the results go to bench/results/reader-candidate.json",
    )  # fmt: skip
    args = parser.parse_args()
    if not (args.data / "endtoend").is_dir():
        parser.error(f"no benchmark at {args.data} (expected endtoend/us and endtoend/eu)")
    # Only a full run of the shipped models writes the figures the README and model cards cite.
    candidate = args.detector is not None or args.recognizer is not None or args.no_reference

    def detector(threshold: float | None = None, threads: int = THREADS) -> Detector:
        if args.detector is None:
            return Detector(threads=threads, threshold=threshold)
        return Detector(
            args.detector, threads=threads, threshold=threshold, unsafe_trust_manifest=True
        )

    def recognizer(threads: int = THREADS) -> Recognizer:
        if args.recognizer is None:
            return Recognizer(threads=threads)
        return Recognizer(args.recognizer, threads=threads, unsafe_trust_manifest=True)

    # One frame at a time, both models on the camera's cores (see THREADS); and the camera
    # itself, reading WORKERS frames at once, each model on one thread (camera_reader).
    ocr = recognizer()
    reader = PlateReader(detector(RECALL_THRESHOLD), ocr)  # the shipped operating point
    per_frame = threads_per_frame(WORKERS)
    camera = PlateReader(
        detector(RECALL_THRESHOLD, threads=per_frame), recognizer(threads=per_frame)
    )
    ungated = PlateReader(detector(), ocr)
    first_pass = PlateReader(detector(RECALL_THRESHOLD), ocr, refine=False)
    pipelines: dict[str, Pipeline | None] = {
        "underseal reader": underseal_pipeline(reader),
        "underseal reader, boxes from the first pass only (no zoomed pass)": underseal_pipeline(
            first_pass
        ),
        "underseal reader, detector at its own threshold (no OCR gate)": underseal_pipeline(
            ungated
        ),
    }
    if not args.no_reference:
        pipelines["RapidOCR full pipeline"] = rapidocr_pipeline()
        for cascade in ("haarcascade_russian_plate_number.xml",
                        "haarcascade_license_plate_rus_16stages.xml"):  # fmt: skip
            pipelines[f"Haar {cascade.removesuffix('.xml')} + our OCR"] = haar_pipeline(
                cascade, reader
            )
    rows: list[Row] = []
    for region, goal_e2e, goal_recall in (("us", "≥ 90 %", "≥ 98 %"), ("eu", "", "")):
        items, skipped = scenes(args.data, region)
        if skipped:
            print(f"{region}: {skipped} scenes did not load and are not counted")
        for name, pipeline in pipelines.items():
            if pipeline is None:
                print(f"{name}: not installed (make eval-deps); row skipped")
                continue
            s = score(pipeline, items, args.speed_frames)
            ours = name.startswith("underseal")
            label = f"{region.upper()} scenes: {name}"
            sizes = [
                figure(f"{label}, box {side} ÷ true {side} (median, best-overlapping box)",
                       ratio, unit="×", n=round(s.overlapped * s.n))
                for side, ratio in (("width", s.width_ratio), ("height", s.height_ratio))
                if s.overlapped  # else there is no box to size (and no NaN in the results)
            ]  # fmt: skip
            rows += [
                figure(f"{label}, detection recall (IoU ≥ 0.5)", 100 * s.recall, unit="%", n=s.n,
                       goal=goal_recall if ours else ""),
                figure(f"{label}, detection precision", 100 * s.precision, unit="%", n=s.n),
                figure(f"{label}, plates overlapped by a box (IoU > 0)", 100 * s.overlapped,
                       unit="%", n=s.n),
                *sizes,
                figure(f"{label}, end-to-end exact", 100 * s.exact, unit="%", n=s.n,
                       goal=goal_e2e if ours else "", failures=s.failures),
                figure(f"{label}, end-to-end after folding", 100 * s.folded, unit="%", n=s.n),
                figure(f"{label}, frames/s native size", 1e3 / s.ms_native, unit="fps", n=s.n,
                       ms_median=s.ms_native),
                figure(f"{label}, frames/s at 1280×720", 1e3 / s.ms_720p, unit="fps",
                       n=min(len(items), args.speed_frames), ms_median=s.ms_720p,
                       goal="≥ 30 fps" if ours and region == "us" else ""),
            ]  # fmt: skip
            if name == "underseal reader":
                fps = throughput(camera, items, args.speed_frames)
                rows.append(figure(
                    f"{label}, frames/s at 1280×720 as the camera reads ({WORKERS} frames at "
                    f"once, each model on {per_frame} thread)", fps, unit="fps",
                    n=min(len(items), args.speed_frames), goal="≥ 30 fps" if region == "us" else ""
                ))  # fmt: skip
    report("reader-candidate" if candidate else "reader", rows)


if __name__ == "__main__":
    main()
