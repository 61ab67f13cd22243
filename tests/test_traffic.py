"""Synthetic traffic videos: seeded, every pass where the truth says, hotlist plates as asked."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from underseal_device.ocr import recognize
from underseal_device.synth.scenes import READABLE_MIN_WIDTH
from underseal_device.synth.traffic import (
    TRUTH_FORMAT,
    TrafficFrame,
    TrafficSpec,
    TrafficTruth,
    TruthRecorder,
    _frames,
    _plan,
    generate,
    read_truth,
    truth_path,
    write_video,
)

from underseal.plates import canonical, fold

HOTLIST = ("7abc-123", "5XYZ987", "8 KTW 472")
W, H = 640, 360


def _digest(frame: TrafficFrame) -> tuple[str, tuple[tuple[int, tuple[int, ...], str, bool], ...]]:
    plates = tuple((p.pass_id, p.box, p.text, p.readable) for p in frame.plates)
    return hashlib.sha256(frame.image.tobytes()).hexdigest(), plates


@lru_cache(maxsize=4)
def _run(spec: TrafficSpec) -> tuple[TrafficTruth, tuple[TrafficFrame, ...]]:
    """The truth and the frames of ``spec`` (small videos only: frames stay in memory)."""
    recorder = TruthRecorder(spec)
    frames = []
    for frame in generate(spec):
        recorder.add(frame)
        frames.append(frame)
    return recorder.truth(), tuple(frames)


def _hot_spec() -> TrafficSpec:
    return TrafficSpec(seed=4, seconds=24, hotlist=HOTLIST, hit_share=0.3, width=W, height=H)


def test_same_spec_same_video_other_seed_other_video() -> None:
    spec = TrafficSpec(seed=11, seconds=4, width=W, height=H)
    first = [_digest(f) for f in generate(spec)]
    again = [_digest(f) for f in generate(TrafficSpec(seed=11, seconds=4, width=W, height=H))]
    assert first == again
    assert len(first) == 60
    assert len({d for d, _ in first}) == 60  # fresh noise in every frame
    other = [_digest(f) for f in generate(TrafficSpec(seed=12, seconds=4, width=W, height=H))]
    assert other[0][0] != first[0][0]


def test_frames_are_bgr_of_the_asked_size_and_timed() -> None:
    truth, frames = _run(_hot_spec())
    assert truth.frames == len(frames) == 24 * 15
    for f in frames[::40]:
        assert f.image.dtype == np.uint8
        assert f.image.shape == (360, 640, 3)
        assert f.time_s == pytest.approx(f.index / 15)
    assert [f.index for f in frames] == list(range(len(frames)))


def test_every_pass_shows_its_plate_where_the_truth_says() -> None:
    truth, frames = _run(_hot_spec())
    assert len(truth.passes) >= 6
    by_frame: dict[int, dict[int, tuple[int, int, int, int]]] = {}
    for f in frames:
        by_frame[f.index] = {p.pass_id: p.box for p in f.plates}
        for p in f.plates:
            x0, y0, x1, y1 = p.box
            assert 0 <= x0 < x1 <= 640
            assert 0 <= y0 < y1 <= 360
            assert p.text == canonical(p.text)
            assert p.readable == (p.width >= READABLE_MIN_WIDTH and p.visible >= 0.85)
    for ps in truth.passes:
        assert ps.first_frame is not None
        assert ps.last_frame is not None
        assert ps.sightings
        assert ps.first_frame == ps.sightings[0].frame <= ps.last_frame == ps.sightings[-1].frame
        for s in ps.sightings:
            assert by_frame[s.frame][ps.id] == s.box
        # A pass is one stretch of frames: entering, crossing, leaving.
        assert ps.last_frame - ps.first_frame + 1 <= 4 * 15
        assert ps.readable_frames == sum(s.readable for s in ps.sightings)


def test_plates_grow_as_vehicles_approach_and_shrink_as_they_recede() -> None:
    truth, _ = _run(_hot_spec())
    seen = {"approaching": 0, "receding": 0}
    for ps in truth.passes:
        widths = [s.box[2] - s.box[0] for s in ps.sightings if s.visible > 0.99]
        if len(widths) < 4:
            continue
        seen[ps.direction] += 1
        if ps.direction == "approaching":
            assert widths[-1] > 1.3 * widths[0]
            assert all(b >= a - 2 for a, b in itertools.pairwise(widths))
        else:
            assert widths[-1] < widths[0] / 1.3
    assert seen["approaching"] >= 3


@pytest.mark.parametrize("pick", [0, 1, -1])
def test_a_plates_box_holds_every_pixel_it_changes(pick: int) -> None:
    """Draw one pass's plate in flat black, then flat white: the pixels that change are its."""
    spec = _hot_spec()
    truth, frames = _run(spec)
    ps = truth.passes[pick]
    assert ps.first_frame is not None
    assert ps.last_frame is not None
    plan = _plan(spec)
    span = range(max(0, ps.first_frame - 2), min(truth.frames, ps.last_frame + 3))
    dark = list(_frames(spec, plan, only=span, probe=(ps.id, 0)))
    light = list(_frames(spec, plan, only=span, probe=(ps.id, 255)))
    sightings = {s.frame: s for s in ps.sightings}
    for d, li in zip(dark, light, strict=True):
        assert [p.box for p in d.plates] == [p.box for p in frames[d.index].plates]
        ys, xs = np.nonzero((d.image != li.image).any(axis=2))
        if d.index not in sightings:
            assert len(xs) == 0  # out of view or hidden: no pixel of it shows
            continue
        s = sightings[d.index]
        x0, y0, x1, y1 = s.box
        assert len(xs) > 0
        assert x0 <= xs.min()
        assert xs.max() < x1
        assert y0 <= ys.min()
        assert ys.max() < y1
        (plate,) = [p for p in d.plates if p.pass_id == ps.id]
        q = plate.quad.astype(np.float64)
        area = 0.5 * abs(
            float(np.dot(q[:, 0], np.roll(q[:, 1], 1)) - np.dot(q[:, 1], np.roll(q[:, 0], 1)))
        )
        edge = float(np.hypot(*(q - np.roll(q, 1, axis=0)).T).sum())
        assert len(xs) / area == pytest.approx(s.visible, abs=0.05 + 1.5 * edge / area)


def test_hotlist_plates_appear_as_asked() -> None:
    spec = _hot_spec()
    truth, _ = _run(spec)
    wanted = tuple(canonical(t) for t in HOTLIST)
    assert spec.hotlist == truth.hotlist == wanted
    hits = truth.hits
    # Each plate at least once, in turn; beyond that, hit_share of all passes.
    assert len(hits) == max(len(wanted), math.ceil(0.3 * len(truth.passes)))
    assert [h.text for h in hits] == [wanted[i % 3] for i in range(len(hits))]
    for h in hits:
        assert h.direction == "approaching"
        assert h.readable_frames >= 3
        # Unhidden: all of it shows wherever it is wholly inside the frame.
        inside = [s for s in h.sightings if s.box[0] > 0 and s.box[1] > 0 and s.box[2] < 640]
        assert all(s.visible > 0.99 for s in inside if s.box[3] < 360)
    # No other plate folds to a hotlist plate, so a match can only be a hit.
    hot_folds = {fold(t) for t in wanted}
    others = [fold(p.text) for p in truth.passes if not p.hotlist]
    assert not hot_folds & set(others)
    assert len(set(others)) == len(others)


def test_without_a_hotlist_nothing_is_a_hit() -> None:
    truth, _ = _run(TrafficSpec(seed=11, seconds=4, width=W, height=H))
    assert truth.hits == ()
    assert truth.hotlist == ()


def test_road_stands_still_between_bursts_of_traffic() -> None:
    truth, frames = _run(_hot_spec())
    still = [i for a, b in truth.still for i in range(a, b + 1)]
    assert truth.still[0][0] == 0  # opens on empty road
    assert truth.still[-1][1] == truth.frames - 1  # and ends on it
    assert len(truth.still) >= 3
    assert 0.2 * truth.frames <= len(still) <= 0.8 * truth.frames
    assert all(not frames[i].moving and not frames[i].plates for i in still)

    def change(a: np.ndarray, b: np.ndarray) -> float:
        diff = cv2.absdiff(a, b).max(axis=2).astype(np.float32)
        return float(cv2.blur(diff, (15, 15)).max())

    pairs = [(i, i + 1) for i in still if i + 1 in set(still)]
    assert max(change(frames[i].image, frames[j].image) for i, j in pairs[::5]) < 12
    moving = [i for i in range(truth.frames - 1) if frames[i].moving and frames[i + 1].moving]
    big = [change(frames[i].image, frames[i + 1].image) for i in moving[::5]]
    assert np.median(big) > 30
    assert max(f.vehicles for f in frames) >= 2  # several vehicles at once, at times


def test_lighting_is_fixed_per_video_and_can_be_chosen() -> None:
    def first(lighting: str) -> np.ndarray:
        spec = TrafficSpec(seed=5, seconds=1, lighting=lighting, width=W, height=H)
        return next(iter(generate(spec))).image

    day, night, ir = first("day"), first("night"), first("infrared")
    assert float(night.mean()) < 0.7 * float(day.mean())
    assert (ir[..., 0] == ir[..., 1]).all()
    assert (ir[..., 1] == ir[..., 2]).all()
    assert not (day[..., 0] == day[..., 2]).all()
    truth, _ = _run(_hot_spec())
    assert truth.lighting == _plan(_hot_spec()).world.lighting


def test_passes_mode_stops_after_that_many_passes() -> None:
    spec = TrafficSpec(seed=8, passes=3, width=W, height=H)
    truth, frames = _run(spec)
    assert len(truth.passes) == 3
    assert [p.id for p in truth.passes] == [0, 1, 2]
    assert truth.still[-1][1] == truth.frames - 1
    assert len(frames) == truth.frames


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_written_video_decodes_to_the_frames_and_the_truth_beside_it(
    tmp_path: Path, suffix: str
) -> None:
    spec = TrafficSpec(seed=3, seconds=3, hotlist=("7ABC123",), width=W, height=H)
    path = tmp_path / f"demo{suffix}"
    truth = write_video(spec, path)
    expected, frames = _run(spec)
    assert truth.to_json() == {**expected.to_json(), "video": path.name}
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 640
    assert int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 360
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(15, abs=0.01)
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape == (360, 640, 3)
        # Lossy, but the same picture.
        assert float(cv2.absdiff(img, frames[n].image).mean()) < 6
        n += 1
    cap.release()
    assert n == truth.frames == 45
    data = json.loads(truth_path(path).read_text())
    assert data["format"] == TRUTH_FORMAT
    assert data["video"] == path.name
    assert read_truth(path) == truth
    assert read_truth(truth_path(path)) == truth
    assert [p["text"] for p in data["passes"] if p["hotlist"]] == ["7ABC123"]


def test_write_video_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    spec = TrafficSpec(seed=3, seconds=1, width=W, height=H)
    with pytest.raises(ValueError, match=r"\.mp4"):
        write_video(spec, tmp_path / "demo.mkv")
    with pytest.raises(OSError, match="no folder"):
        write_video(spec, tmp_path / "missing" / "demo.mp4")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="hotlist"):
        write_video(
            TrafficSpec(seed=3, seconds=2, hotlist=HOTLIST, width=W, height=H),
            tmp_path / "demo.mp4",
        )
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="traffic truth"):
        read_truth(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fps": -15}, "fps"),
        ({"fps": 0}, "fps"),
        ({"width": 0}, "width"),
        ({"height": 0}, "height"),
        ({"width": 5000}, "width"),
        ({"seed": -1}, "seed"),
        ({"seconds": 0}, "seconds"),
        ({"seconds": -3}, "seconds"),
        ({"seconds": 0.01}, "at least one frame"),
        ({"seconds": 5, "passes": 3}, "not both"),
        ({"passes": 0}, "passes"),
        ({"hit_share": 1.5}, "hit_share"),
        ({"lighting": "noon"}, "lighting"),
        ({"hotlist": "7ABC123"}, "sequence"),
        ({"hotlist": ("7ABC123", "CROSSWALK")}, "entry 1 is not a valid plate"),
        ({"hotlist": ("ABCDEFGHJK",)}, "entry 0 is not a valid plate"),
        ({"hotlist": ("7ABC123!",)}, "entry 0 is not a valid plate"),
        ({"hotlist": ("7ABC123", "7abc-123")}, "entries 0 and 1 are the same"),
    ],
)
def test_bad_specs_are_refused_clearly(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        TrafficSpec(**{"seed": 1, **kwargs})  # type: ignore[arg-type]
    for text in ("CROSSWALK", "7ABC123", "7abc"):
        assert text not in str(info.value)


def test_no_repr_shows_a_plate() -> None:
    spec = _hot_spec()
    truth, frames = _run(spec)
    shown = [repr(spec), repr(truth), *map(repr, truth.passes)]
    for f in frames:
        if f.plates:
            shown += [repr(f), *map(repr, f.plates)]
    texts = {p.text for p in truth.passes} | {canonical(t) for t in HOTLIST}
    for line in shown:
        for t in texts:
            assert t not in line


def test_readable_hotlist_plates_are_read_by_the_shipped_model() -> None:
    """At 1280x720 the camera's own recognizer reads each hotlist plate in its best frames."""
    spec = TrafficSpec(seed=2, passes=2, hotlist=("7ABC123", "5XYZ987"), lighting="day")
    plan = _plan(spec)
    hits = [c for c in plan.cars if c.plate is not None and c.plate.hotlist]
    assert len(hits) == 2
    for car in hits:
        assert car.plate is not None
        crops = []
        for frame in _frames(spec, plan, only=range(car.f0, car.f1)):
            for p in frame.plates:
                if p.pass_id == car.plate.pass_id and p.readable:
                    x0, y0, x1, y1 = p.box
                    mx, my = (x1 - x0) // 8, (y1 - y0) // 6
                    crops.append(frame.image[max(0, y0 - my) : y1 + my, max(0, x0 - mx) : x1 + mx])
        assert len(crops) >= 3
        reads = [r.text for r in recognize(crops)]
        assert sum(r == car.plate.text for r in reads) >= len(reads) // 2
