"""The detector's zoomed second pass (``Detector.refine``) on rendered scenes it never trained on.

Scenes use seed 31337, as ``test_reader.py``; training renders seeds 1 and 2.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from underseal_device.camera.tracking import iou
from underseal_device.detect import Detection, PlateReader
from underseal_device.detect.detector import NMS_IOU, Detector
from underseal_device.detect.reader import RECALL_THRESHOLD
from underseal_device.errors import BadImage
from underseal_device.ocr.recognizer import default_recognizer
from underseal_device.synth.scenes import PlateBox, Scene, SceneSampler

SEED = 31337


@lru_cache(maxsize=1)
def _detector() -> Detector:
    return Detector(threshold=RECALL_THRESHOLD)


@lru_cache(maxsize=1)
def _large_plates() -> tuple[tuple[Scene, PlateBox], ...]:
    """Readable plates at least 60 px wide, with their scenes."""
    sampler = SceneSampler(SEED)
    scenes = (sampler.scene_at(i) for i in range(12))
    return tuple((s, p) for s in scenes for p in s.plates if p.readable and p.width >= 60)


def _shifted(box: tuple[int, int, int, int], dx: float, dy: float) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    sx, sy = round((x1 - x0) * dx), round((y1 - y0) * dy)
    return x0 + sx, y0 + sy, x1 + sx, y1 + sy


def test_a_box_off_its_plate_is_put_back_on_it() -> None:
    plates = _large_plates()
    assert len(plates) >= 5
    before, after = [], []
    for scene, plate in plates:
        x0, y0, x1, y1 = _shifted(plate.box, 0.3, 0.25)  # a third of a plate right, a quarter down
        height, width = scene.image.shape[:2]
        off = (x0, y0, min(x1, width), min(y1, height))
        (placed,) = _detector().refine(scene.image, [Detection(off, 0.5)])
        before.append(iou(plate.box, off))
        after.append(iou(plate.box, placed.box))
        assert placed.score == 0.5
    # Shifted so: IoU about 0.4 each. The shipped model puts them back at a
    # median of about 0.9; a pass that does nothing stays at 0.4.
    assert max(before) < 0.5
    assert float(np.median(after)) >= 0.75
    assert sum(a >= 0.5 for a in after) >= 0.8 * len(after)


def test_a_box_with_no_plate_near_it_stays_as_it_is() -> None:
    sky = np.full((720, 1280, 3), (200, 170, 140), np.uint8)
    first = [Detection((600, 300, 700, 350), 0.9), Detection((100, 100, 140, 120), 0.4)]
    assert _detector().refine(sky, first) == first


def test_a_weak_box_the_closer_look_does_not_find_again_is_dropped() -> None:
    sky = np.full((720, 1280, 3), (200, 170, 140), np.uint8)
    weak, strong = Detection((600, 300, 700, 350), 0.3), Detection((100, 100, 140, 120), 0.7)
    assert _detector().refine(sky, [weak, strong], confirm_below=0.6) == [strong]
    scene, plate = _large_plates()[0]
    (found,) = _detector().refine(scene.image, [Detection(plate.box, 0.3)], confirm_below=0.6)
    assert iou(plate.box, found.box) >= 0.7  # a weak box on a plate is found again and kept


def test_two_boxes_that_land_on_one_plate_become_one() -> None:
    scene, plate = next(
        (s, p)
        for s, p in _large_plates()
        if p.box[0] > p.width and p.box[2] + p.width < s.image.shape[1]
    )
    left, right = _shifted(plate.box, -0.3, 0.0), _shifted(plate.box, 0.3, 0.0)
    assert iou(left, right) <= NMS_IOU  # the first pass could have reported both
    placed = _detector().refine(scene.image, [Detection(left, 0.7), Detection(right, 0.6)])
    assert len(placed) == 1
    assert placed[0].score == 0.7  # the stronger first detection keeps its place
    assert iou(plate.box, placed[0].box) >= 0.7


def test_nothing_in_nothing_out_and_bad_input_is_refused() -> None:
    scene, _ = _large_plates()[0]
    assert _detector().refine(scene.image, []) == []
    with pytest.raises(BadImage, match="uint8"):
        _detector().refine(np.zeros((100, 100, 3), np.float32), [])
    good = Detection((10, 10, 50, 30), 0.9)
    for box in ((50, 10, 50, 30), (10, 30, 50, 10), (-5, 10, 50, 30), (1200, 10, 1400, 30)):
        with pytest.raises(ValueError, match="empty or not inside"):
            _detector().refine(scene.image, [good, Detection(box, 0.9)])


def test_the_reader_reads_from_the_placed_boxes_and_can_do_without() -> None:
    detector, recognizer = _detector(), default_recognizer()
    scene = max((s for s, _ in _large_plates()), key=lambda s: len(s.plates))
    found = detector.detect(scene.image)
    assert found
    placed = [r.box for r in PlateReader(detector, recognizer).read(scene.image)]
    first = [r.box for r in PlateReader(detector, recognizer, refine=False).read(scene.image)]
    kept = {d.box for d in detector.refine(scene.image, found)}
    assert placed
    assert set(placed) <= kept
    assert first
    assert set(first) <= {d.box for d in found}
    assert set(placed) != set(first)  # the zoomed pass moved some box here


@pytest.mark.parametrize("roi", [None, (0, 200, 1280, 720)])
def test_the_reader_s_crops_are_what_it_reads(roi: tuple[int, int, int, int] | None) -> None:
    scene = max((s for s, _ in _large_plates()), key=lambda s: len(s.plates))
    reader = PlateReader(_detector(), default_recognizer(), roi=roi)
    seen: list[np.ndarray] = []
    real_read = reader.recognizer.read

    def read(crops: list[np.ndarray], **kwargs: int) -> object:
        seen.extend(crops)
        return real_read(crops, **kwargs)

    reader.recognizer.read = read  # type: ignore[method-assign,assignment]
    try:
        reader.read(scene.image)
    finally:
        del reader.recognizer.read  # the shared recognizer gets its own method back
    crops = reader.crops(scene.image)
    assert crops
    assert len(crops) == len(seen)
    assert all(np.array_equal(a, b) for a, b in zip(crops, seen, strict=True))
