"""The detector's input size against its cost and its recall, and where a frame's time goes.

On rendered 1280×720 scenes (``SceneSampler(seed=4242)``, never trained on:
training uses seeds 1 and 2): for each input long side, the median detector
time per frame on 1 and 2 threads, and recall/precision of readable plates
(IoU ≥ 0.5). Then the reader end to end (detection + OCR of every box) on
the same frames, the figure the camera's 30 fps goal is about, and the cost
split between detection and recognition.
"""

from __future__ import annotations

from underseal_device.camera.tracking import iou
from underseal_device.detect import Detector, shipped_reader
from underseal_device.synth.scenes import SceneSampler

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
    reader = shipped_reader(detector_threads=2)
    it2 = iter(range(10**9))

    def read_one() -> object:
        return reader.read(frames[next(it2) % len(frames)])

    samples = time_per_call(read_one, number=len(frames), repeat=3)
    rows.append(row("reader (detect 640 px on 2 threads + OCR every box), 1280x720",
                    samples, unit="ms", scale=1e3, goal="≤ 33 ms (30 fps)"))  # fmt: skip
    fps = sorted(1 / s for s in samples)[len(samples) // 2]
    rows.append(figure("reader frames per second at 1280x720 (synthetic scenes)", fps,
                       unit="fps", n=len(frames) * len(samples), goal="≥ 30 fps"))  # fmt: skip
    report("detector", rows)


if __name__ == "__main__":
    main()
