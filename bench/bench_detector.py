"""The detector's input size against its cost and its recall, and where a frame's time goes.

On rendered 1280×720 scenes (``SceneSampler(seed=4242)``, never trained on:
training uses seeds 1 and 2): for each input long side, the median detector
time per frame on 1 and 2 threads, and recall/precision of readable plates
(IoU ≥ 0.5). Then the shipped reader's boxes against the plates' own (the
best-overlapping box's width and height over the plate's, median: ``make
eval`` gives the same on real photos), the zoomed second pass's cost per
box it re-places, and the reader end to end (detection, the zoomed pass,
OCR of every box) on the same frames, the figure the camera's 30 fps goal
is about: one frame at a time (both models on 2 threads, as ``make eval``
reads), with OCR on 1 thread, without the zoomed pass, and as the camera
runs it: two frames at once from one reader, each model on 1 thread per
frame.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from underseal_device.camera.readers import WORKERS
from underseal_device.camera.tracking import iou
from underseal_device.detect import Detector, PlateReader, camera_reader, shipped_reader
from underseal_device.detect.reader import RECALL_THRESHOLD, THREADS, threads_per_frame
from underseal_device.ocr import Recognizer
from underseal_device.synth.scenes import Scene, SceneSampler

from bench.eval_reader import box_size
from bench.harness import Row, figure, report, row, time_per_call

SCENES = 60
SIZES = (480, 640, 800, 960)


def main() -> None:
    sampler = SceneSampler(4242)
    scenes = [sampler.scene_at(i) for i in range(SCENES)]
    frames = [s.image for s in scenes]
    rows: list[Row] = []
    for side in SIZES:
        detector = Detector(long_side=side, threads=2)
        found = wanted = right = claimed = 0
        for scene in scenes:
            boxes = [d.box for d in detector.detect(scene.image)]
            claimed += len(boxes)
            truths = []
            for p in scene.plates:
                x0, y0 = p.quad.min(0)
                x1, y1 = p.quad.max(0)
                truth = (float(x0), float(y0), float(x1) + 1, float(y1) + 1)
                truths.append(truth)
                wanted += p.readable
                found += p.readable and any(iou(truth, b) >= 0.5 for b in boxes)
            # A box on any plate, readable or not, is no false alarm.
            right += sum(any(iou(t, b) >= 0.5 for t in truths) for b in boxes)
        rows.append(figure(f"detector {side} px: recall of readable plates (synthetic)",
                           100 * found / max(wanted, 1), unit="%", n=wanted))  # fmt: skip
        rows.append(figure(f"detector {side} px: precision (synthetic)",
                           100 * right / max(claimed, 1), unit="%", n=claimed))  # fmt: skip
        for threads in (1, 2):
            timed = Detector(long_side=side, threads=threads)
            it = iter(range(10**9))

            def one(d: Detector = timed, i: object = it) -> object:
                return d.detect(frames[next(i) % len(frames)])  # type: ignore[call-overload]

            samples = time_per_call(one, number=len(frames), repeat=3)
            rows.append(row(f"detector {side} px, 1280x720 frame, {threads} thread(s)", samples,
                            unit="ms", scale=1e3))  # fmt: skip
    rows += _box_size_rows(scenes)
    first = Detector(threshold=RECALL_THRESHOLD)  # the reader's first pass, 1 thread
    first_boxes = [first.detect(f) for f in frames]
    n_boxes = sum(map(len, first_boxes))

    def refine_all() -> object:
        return [first.refine(f, d) for f, d in zip(frames, first_boxes, strict=True)]

    samples = time_per_call(refine_all, number=1, repeat=3)
    name = f"zoomed second pass, per box ({n_boxes} boxes at {RECALL_THRESHOLD}, 1 thread)"
    rows.append(row(name, [s / n_boxes for s in samples], unit="ms", scale=1e3))
    # The readers take turns, a pass over the frames each, so drift hits all alike. Each
    # reads one frame at a time, but the camera's: WORKERS frames at once from one reader.
    ocr = Recognizer(threads=THREADS)
    readers: dict[str, tuple[PlateReader, int]] = {
        f"OCR on {THREADS} threads": (shipped_reader(), 1),
        "OCR on 1 thread": (shipped_reader(recognizer_threads=1), 1),
        f"first pass only, OCR on {THREADS} threads": (
            PlateReader(Detector(threads=THREADS, threshold=RECALL_THRESHOLD), ocr, refine=False),
            1,
        ),
        f"{WORKERS} frames at once, each model on 1 thread (the camera)": (
            camera_reader(WORKERS),
            WORKERS,
        ),
    }
    per_frame: dict[str, list[float]] = {label: [] for label in readers}
    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in range(4):  # the first round warms them up and is not kept
            for label, (reader, workers) in readers.items():
                start = time.perf_counter()
                if workers == 1:
                    for frame in frames:
                        reader.read(frame)
                else:
                    list(pool.map(reader.read, frames))
                per_frame[label].append((time.perf_counter() - start) / len(frames))
    for label, samples in per_frame.items():
        reader, workers = readers[label]
        threads = threads_per_frame(workers)
        rows += _reader_rows(label, reader, samples[1:], len(frames), threads)
    report("detector", rows)


def _box_size_rows(scenes: list[Scene]) -> list[Row]:
    """The shipped reader's boxes over the readable plates' own, as ``make eval`` measures them."""
    reader = shipped_reader()
    widths: list[float] = []
    heights: list[float] = []
    readable = 0
    for scene in scenes:
        boxes = [r.box for r in reader.read(scene.image)]
        for plate in scene.plates:
            if not plate.readable:
                continue
            readable += 1
            size = box_size(boxes, plate.box)  # the scene's box: every pixel the plate changed
            if size is not None:
                widths.append(size[0])
                heights.append(size[1])
    name = "reader boxes on readable plates (synthetic, best-overlapping box, median)"
    return [
        figure(f"{name}: plates overlapped", 100 * len(widths) / max(readable, 1), unit="%",
               n=readable),
        figure(f"{name}: box width ÷ true width", statistics.median(widths), unit="×",
               n=len(widths)),
        figure(f"{name}: box height ÷ true height", statistics.median(heights), unit="×",
               n=len(heights)),
    ]  # fmt: skip


def _reader_rows(
    label: str, reader: PlateReader, samples: list[float], frames: int, threads: int
) -> list[Row]:
    fps = sorted(1 / s for s in samples)[len(samples) // 2]
    steps = "zoomed pass + OCR of the boxes kept" if reader.refine else "OCR of every box"
    name = f"reader, {label} (detect 640 px on {threads} thread(s) + {steps}), 1280x720"
    return [
        row(name, samples, unit="ms", scale=1e3, goal="≤ 33 ms (30 fps)"),
        figure(f"reader, {label}: frames per second at 1280x720 (synthetic scenes)", fps,
               unit="fps", n=frames * len(samples), goal="≥ 30 fps"),
    ]  # fmt: skip


if __name__ == "__main__":
    main()
