"""The camera pipeline end to end: frames/s, where a frame's time goes, hit latency, k candidates.

Everything is the real thing: a video file decoded by OpenCV, the shipped
detector and recognizer, tracking and vote, matching against a hotlist
bundle from the real records server (in process, SQLite), sealing to a
custodian-endorsed epoch key and the SQLite outbox. Two videos:

- a synthetic 1280×720 traffic video (``underseal_device.synth.traffic``,
  seed 2026, 15 fps, some passes carrying hotlist plates);
- a video assembled in a scratch folder from the US photos in
  ``../shared/benchmarks/openalpr/endtoend/us`` (each photo letterboxed to
  1280×720 and held for 3 frames; nothing is copied into the repo).

Per video, the pipeline runs three times: reading every frame one at a
time (each model on :data:`THREADS` onnxruntime threads, as ``make eval``
reads), reading every frame :data:`WORKERS` at once (each model on one
thread per frame: the camera, as ``underseal-device run`` builds it), then
the camera behind the motion gate (still frames skipped). Figures: frames/s
over the whole run (decode included), the median per-frame time of each
stage (capture, motion gate, detection, OCR, tracking, match, seal +
outbox), and the hit-to-outbox latency (from the end of a pass to its hit
being durable). With two frames at once, a stage's time is its own call's,
while the other frame runs beside it, so the stages add up to more than a
frame's share of the wall time.

Then the k-candidate trade-off on the synthetic video: each pass the
tracker returned is matched to the pass of the truth that it saw, and for
k = 1..5 candidate readings per pass the bench counts hotlist passes that
hit (recall), hits on the wrong plate or on an unlisted pass (false alerts,
measured), and wrong readings checked per pass. Readings are compared with
the truth as the hotlist compares plates, folded: reading 8 for B on a
listed plate is a hit on the right vehicle, not a false alert. With a
hotlist of H plates drawn from a plate space of S, each wrong reading
checked is a false alert with probability about H/S: that estimate is
printed for H = 10 000 and S the folded California standard format
(``plate_space("CA", folded=True)``), i.e. a camera whose traffic and
hotlist are all one state's plates.

Last, the synthetic video sent as a live camera at twice its rate
(:data:`LIVE_FPS`, each frame keeping its own time), three ways: every frame
in turn from the queue, as OpenCV alone would give them, one at a time; the
newest frame each time (:class:`NewestFrames`, the rest dropped), one at a
time; and the camera as ``underseal-device run`` reads it, the newest frame
whenever one of its :data:`WORKERS` is free. Figures: frames read and
dropped, the lag from a frame's sending to the pipeline taking it (median
and max), and the hits, beside the every-frame runs' above.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx2 as httpx
import numpy as np
from underseal_device.camera.capture import (
    Frame,
    FrameSource,
    MotionGate,
    NewestFrames,
    open_source,
)
from underseal_device.camera.counters import Counters
from underseal_device.camera.hits import SealedHit
from underseal_device.camera.pipeline import Pipeline
from underseal_device.camera.readers import WORKERS
from underseal_device.camera.runtime import CameraRuntime
from underseal_device.camera.state import StateDir
from underseal_device.camera.tracking import iou
from underseal_device.camera.vote import PassRead
from underseal_device.detect import PlateReader, camera_reader, shipped_reader
from underseal_device.detect.reader import THREADS
from underseal_device.synth.traffic import TrafficSpec, TrafficTruth, write_video

from bench.harness import Row, figure, report
from tests.camera.conftest import WireTap, enrol_camera
from tests.server.deployment import Deployment
from underseal.bundle import HotlistBundle
from underseal.errors import InvalidPlate
from underseal.plates import fold, plate_space

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "openalpr"
HOTLIST = ("7ABC123", "5XYZ987", "8KTW472", "4MNP215")
SPEC = TrafficSpec(seed=2026, width=1280, height=720, fps=15, passes=30, hotlist=HOTLIST,
                   hit_share=0.3)  # fmt: skip
US_HOLD = 3  # frames per photo
#: The rate at which the synthetic video (15 fps) is sent as a live camera: faster than
#: the pipeline reads every frame on a slow CPU, as a 30 fps camera's stream is.
LIVE_FPS = 30.0
STAGES = (
    "capture", "motion gate", "detection", "zoomed pass", "ocr", "tracking", "match",
    "seal + outbox",
)  # fmt: skip


@dataclass
class Timings:
    """Seconds spent per stage, per call; and hit latencies."""

    stages: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    hit_latency: list[float] = field(default_factory=list)
    passes: list[PassRead] = field(default_factory=list)


def _timed(obj: Any, name: str, stage: str, timings: Timings, undo: ExitStack) -> None:
    """Replace ``obj.name`` by a wrapper that adds its time to ``stage``, until ``undo`` closes."""
    inner = getattr(obj, name)
    own = name in vars(obj)  # an attribute of the object itself, not its class's method

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            timings.stages[stage].append(time.perf_counter() - start)

    setattr(obj, name, wrapper)
    if own:
        undo.callback(setattr, obj, name, inner)
    else:
        undo.callback(delattr, obj, name)  # the class's method shows through again


class TimedSource:
    """A frame source whose decode time is recorded as the capture stage."""

    def __init__(self, source: FrameSource, timings: Timings) -> None:
        self.source = source
        self.timings = timings

    def frames(self) -> Iterator[Frame]:
        it = iter(self.source.frames())
        while True:
            start = time.perf_counter()
            try:
                frame = next(it)
            except StopIteration:
                return
            self.timings.stages["capture"].append(time.perf_counter() - start)
            yield frame

    def close(self) -> None:
        self.source.close()


@contextmanager
def instrumented(pipeline: Pipeline, timings: Timings) -> Iterator[None]:
    """Time each stage of a real pipeline in place (the code that runs is unchanged).

    The reader outlives the pipeline (the benchmark runs one reader over
    several videos), so its methods are given back on leaving: a later run
    is timed once, into its own timings.
    """
    reader = pipeline.reader
    assert isinstance(reader, PlateReader)
    with ExitStack() as undo:
        _timed(reader.detector, "detect", "detection", timings, undo)
        _timed(reader.detector, "refine", "zoomed pass", timings, undo)
        _timed(reader, "read_detections", "ocr", timings, undo)
        if pipeline.motion is not None:
            _timed(pipeline.motion, "moved", "motion gate", timings, undo)
        for name in ("update", "expire", "flush"):
            _timed(pipeline.tracker, name, "tracking", timings, undo)
        _timed(pipeline.matcher, "match", "match", timings, undo)
        _timed(pipeline.sealer, "seal", "seal + outbox", timings, undo)
        _timed(pipeline.outbox, "put", "seal + outbox", timings, undo)
        _keep_passes(pipeline, timings)
        yield


def _keep_passes(pipeline: Pipeline, timings: Timings) -> None:
    """Record every pass the pipeline concludes, and each hit's sealing latency."""
    conclude = pipeline._conclude

    def keep_passes(passes: list[PassRead]) -> list[SealedHit]:
        timings.passes.extend(passes)
        hits: list[SealedHit] = []
        for passed in passes:  # one at a time, so each hit's latency is its own
            start = time.perf_counter()
            sealed = conclude([passed])
            if sealed:
                timings.hit_latency.append(time.perf_counter() - start)
            hits += sealed
        return hits

    pipeline._conclude = keep_passes  # type: ignore[method-assign]


class Camera:
    """A records server in process (SQLite) and one camera enrolled and synced to it."""

    def __init__(self, scratch: Path, hotlist: tuple[str, ...]) -> None:
        (scratch / "server").mkdir()
        self.world = Deployment(scratch / "server")
        self.world.ceremony(days=2)
        for plate in hotlist:
            self.world.list_plate(plate)
        self.scratch = scratch
        self.state = StateDir(scratch / "camera")
        enrol_camera(self.world, self.state)
        client = httpx.Client(base_url="http://testserver", transport=WireTap(self.world.records))
        self.runtime = CameraRuntime(self.state, client=client, clock=self.world.clock)
        self.runtime.sync()

    def bundle(self) -> HotlistBundle:
        bundle = self.runtime.hotlist.bundle_for(int(self.world.clock()))  # type: ignore[union-attr]
        assert bundle is not None
        return bundle

    def close(self) -> None:
        self.runtime.close()
        self.world.close()


def run_video(
    camera: Camera, reader: PlateReader, video: Path, *, gated: bool, workers: int
) -> tuple[Timings, float, Counters]:
    """Run the real pipeline over ``video``; return its timings, wall seconds and counters."""
    timings = Timings()
    motion = MotionGate() if gated else None
    pipeline = camera.runtime.pipeline(reader, motion=motion, workers=workers)
    with instrumented(pipeline, timings):
        start = time.perf_counter()
        counters = pipeline.run(TimedSource(open_source(video), timings))
        return timings, time.perf_counter() - start, counters


def us_video(folder: Path) -> Path:
    """The US photos, letterboxed to 1280×720, each held for :data:`US_HOLD` frames."""
    path = folder / "us.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 15.0, (1280, 720))
    for photo in sorted((DATA / "endtoend" / "us").glob("*.jpg")):
        image = cv2.imread(str(photo))
        if image is None:
            continue
        h, w = image.shape[:2]
        scale = min(1280 / w, 720 / h)
        small = cv2.resize(
            image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
        )
        canvas = np.zeros((720, 1280, 3), np.uint8)
        y, x = (720 - small.shape[0]) // 2, (1280 - small.shape[1]) // 2
        canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        for _ in range(US_HOLD):
            writer.write(canvas)
    writer.release()
    return path


def _ms(samples: list[float]) -> float:
    return 1e3 * statistics.median(samples) if samples else 0.0


def _reading(workers: int) -> str:
    if workers == 1:
        return f"one frame at a time, models on {THREADS} threads"
    return f"{workers} frames at once, models on 1 thread each (the camera)"


def speed_rows(
    label: str, timings: Timings, wall: float, counters: Counters, gated: bool, workers: int
) -> list[Row]:
    mode = ("motion-gated" if gated else "every frame read") + ", " + _reading(workers)
    frames = counters.frames_in
    rows = [figure(f"{label}, {mode}: frames/s (decode to outbox)", frames / wall, unit="fps",
                   n=frames, goal="≥ 30 fps" if gated else "")]  # fmt: skip
    for stage in STAGES:
        samples = timings.stages.get(stage, [])
        if samples:
            per_frame = sum(samples) / frames
            rows.append(figure(f"{label}, {mode}: {stage}", _ms(samples), unit="ms/call",
                               n=len(samples),
                               mean_ms_per_frame=round(1e3 * per_frame, 3)))  # fmt: skip
    rows.append(figure(f"{label}, {mode}: passes tracked / hits sealed / repeats suppressed",
                       counters.hits, unit="hits", n=counters.passes,
                       repeats=counters.hits_repeated))  # fmt: skip
    if timings.hit_latency:
        latency = timings.hit_latency
        rows.append(figure(f"{label}, {mode}: hit-to-outbox latency (end of pass to durable)",
                           _ms(latency), unit="ms", n=len(latency)))  # fmt: skip
    return rows


def _truth_pass(passed: PassRead, truth: TrafficTruth) -> int | None:
    """The id of the truth pass this tracked pass saw (best box overlap in its time span)."""
    best, best_id = 0.0, None
    for candidate in truth.passes:
        for s in candidate.sightings:
            t = s.frame / truth.fps
            if passed.first_seen - 0.2 <= t <= passed.last_seen + 0.2:
                overlap = iou(passed.box, s.box)
                if overlap > best:
                    best, best_id = overlap, candidate.id
    return best_id


def _same_plate(reading: str, truth: str | None) -> bool:
    """Whether ``reading`` is ``truth`` as the hotlist sees plates: folded (B and 8 are one)."""
    if truth is None:
        return False
    try:
        return fold(reading) == fold(truth)
    except InvalidPlate:
        return False


def candidate_rows(
    passes: list[PassRead], truth: TrafficTruth, bundle: HotlistBundle, min_p: float
) -> list[Row]:
    """Recall gained and false alerts paid for checking k readings per pass."""
    by_id = {p.id: p for p in truth.passes}
    listed = {p.id for p in truth.passes if p.hotlist and p.readable}
    space = plate_space("CA", folded=True)
    rows: list[Row] = []
    for k in range(1, 6):
        hit_ids: set[int] = set()
        false_alerts = wrong_checked = 0
        for passed in passes:
            seen = _truth_pass(passed, truth)
            true_text = by_id[seen].text if seen is not None else None
            for reading in passed.readings[:k]:
                if reading.probability < min_p:
                    break
                right = _same_plate(reading.text, true_text)
                if not right:
                    wrong_checked += 1
                try:
                    found = bundle.match(reading.text)
                except InvalidPlate:
                    continue
                if found is not None:
                    if seen in listed and right:
                        hit_ids.add(seen)
                    else:
                        false_alerts += 1
                    break
        n = max(len(passes), 1)
        per_pass = wrong_checked / n
        rows.append(figure(f"k={k}: hotlist passes hit (synthetic traffic)",
                           100 * len(hit_ids) / max(len(listed), 1), unit="%", n=len(listed),
                           goal="k=3 is the default" if k == 3 else ""))  # fmt: skip
        rows.append(figure(f"k={k}: false alerts measured", false_alerts, unit="alerts",
                           n=len(passes)))  # fmt: skip
        rows.append(figure(f"k={k}: wrong readings checked per pass", per_pass, unit="/pass",
                           n=len(passes),
                           false_alerts_per_million_passes_h10000_california=round(
                               1e6 * per_pass * 10_000 / space, 2)))  # fmt: skip
    return rows


class Paced:
    """A video file sent as a live camera sends: frame ``i`` ``i / fps`` s after the start.

    Each frame keeps the file's own time, so the tracker sees the video as it
    is, only sooner. A late reader gets the frames that queued meanwhile,
    oldest first, as OpenCV's buffer hands them out.
    """

    def __init__(self, video: Path, fps: float) -> None:
        self.video = video
        self.fps = fps
        self.start = 0.0
        self.sent = 0

    def frames(self) -> Iterator[Frame]:
        self.start = time.perf_counter()
        for i, frame in enumerate(open_source(self.video).frames()):
            wait = self.sent_at(i) - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            self.sent += 1
            yield frame

    def sent_at(self, index: int) -> float:
        """When frame ``index`` is sent (``time.perf_counter`` seconds)."""
        return self.start + index / self.fps

    def close(self) -> None:
        pass


def live_rows(
    camera: Camera, reader: PlateReader, video: Path, *, newest: bool, workers: int
) -> list[Row]:
    """The pipeline on ``video`` sent at :data:`LIVE_FPS`, every frame read.

    With ``newest``, through :class:`NewestFrames`, as ``underseal-device
    run`` reads a camera or a stream; without, every frame in turn from the
    queue. Lag: from when a frame was sent to when the pipeline takes it.
    """
    paced = Paced(video, LIVE_FPS)
    source: FrameSource = NewestFrames(paced) if newest else paced
    pipeline = camera.runtime.pipeline(reader, workers=workers)
    lags: list[float] = []
    admit = pipeline._admit  # where the pipeline takes a frame from its source

    def lagged(frame: Frame) -> Any:
        lags.append(time.perf_counter() - paced.sent_at(frame.index))
        return admit(frame)

    pipeline._admit = lagged  # type: ignore[method-assign]
    start = time.perf_counter()
    counters = pipeline.run(source)
    wall = time.perf_counter() - start
    label = (
        f"synthetic 1280x720 sent at {LIVE_FPS:g} fps, "
        + ("newest frame (NewestFrames)" if newest else "every frame, queued")
        + f", {_reading(workers)}"
    )
    return [
        figure(f"{label}: frames read of those sent", counters.frames_in, unit="frames",
               n=paced.sent, dropped=counters.frames_dropped, wall_s=round(wall, 1)),
        figure(f"{label}: lag from sending to the pipeline, median", _ms(lags), unit="ms",
               n=len(lags), max_ms=round(1e3 * max(lags, default=0.0), 1)),
        figure(f"{label}: passes tracked / hits sealed", counters.hits, unit="hits",
               n=counters.passes),
    ]  # fmt: skip


def main() -> None:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="underseal-bench-camera-") as tmp:
        scratch = Path(tmp)
        synthetic = scratch / "traffic.mp4"
        start = time.perf_counter()
        truth = write_video(SPEC, synthetic)
        listed = sum(p.hotlist and p.readable for p in truth.passes)
        print(f"synthetic video: {truth.frames} frames, {len(truth.passes)} passes "
              f"({listed} readable hotlist passes of {len(HOTLIST)} plates), "
              f"{truth.lighting} ({time.perf_counter() - start:.0f} s to render)")  # fmt: skip
        videos = [("synthetic 1280x720", synthetic)]
        if (DATA / "endtoend" / "us").is_dir():
            videos.append(("US photos as 1280x720 video", us_video(scratch)))
        else:
            print(f"{DATA / 'endtoend' / 'us'} not found: the US-photo video is skipped")
        # One frame at a time, as `make eval` reads; and the camera, as `underseal-device run`
        # builds it: WORKERS frames at once from one reader.
        readers = {1: shipped_reader(), WORKERS: camera_reader(WORKERS)}
        kept: list[PassRead] = []
        bundle: HotlistBundle | None = None
        for number, (label, video) in enumerate(videos):
            for gated, workers in ((False, 1), (False, WORKERS), (True, WORKERS)):
                folder = scratch / f"run-{number}-{int(gated)}-{workers}"
                folder.mkdir()
                camera = Camera(folder, HOTLIST)
                try:
                    timings, wall, counters = run_video(
                        camera, readers[workers], video, gated=gated, workers=workers
                    )
                    rows += speed_rows(label, timings, wall, counters, gated, workers)
                    if number == 0 and not gated and workers == WORKERS:
                        kept, bundle = timings.passes, camera.bundle()
                finally:
                    camera.close()
        if bundle is not None:
            rows += candidate_rows(kept, truth, bundle, min_p=0.2)
        for newest, workers in ((False, 1), (True, 1), (True, WORKERS)):
            folder = scratch / f"live-{int(newest)}-{workers}"
            folder.mkdir()
            camera = Camera(folder, HOTLIST)
            try:
                rows += live_rows(camera, readers[workers], synthetic, newest=newest,
                                  workers=workers)  # fmt: skip
            finally:
                camera.close()
    report("camera", rows)


if __name__ == "__main__":
    main()
