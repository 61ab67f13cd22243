"""The synthetic road-scene renderer: seeded, boxes exact, texts right, a useful mix of scenes."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from underseal_device.synth import (
    LIGHTINGS,
    NEGATIVE_KINDS,
    NEGATIVE_TEXTS,
    READABLE_MIN_VISIBLE,
    READABLE_MIN_WIDTH,
    NegativeBox,
    PlateBox,
    Scene,
    SceneSampler,
)
from underseal_device.synth.scenes import _bumper, _Canvas, _plate_light, _rect, _Vehicle
from underseal_device.synth.texts import MAX_LENGTH, MIN_LENGTH

from underseal.plates import canonical, plausible

ROOT = Path(__file__).resolve().parents[1]
SEED = 7
N = 50


@lru_cache(maxsize=1)
def _scenes() -> tuple[Scene, ...]:
    sampler = SceneSampler(SEED)
    return tuple(sampler.scene_at(i) for i in range(N))


def _same(a: Scene, b: Scene) -> bool:
    return (
        a.image.tobytes() == b.image.tobytes()
        and a.lighting == b.lighting
        and [(p.quad.tobytes(), p.box, p.text, p.visible, p.readable) for p in a.plates]
        == [(p.quad.tobytes(), p.box, p.text, p.visible, p.readable) for p in b.plates]
        and [(n.quad.tobytes(), n.box, n.text, n.kind) for n in a.negatives]
        == [(n.quad.tobytes(), n.box, n.text, n.kind) for n in b.negatives]
    )


def test_same_seed_and_index_same_scene() -> None:
    for i in (0, 3, 11):
        assert _same(SceneSampler(SEED).scene_at(i), _scenes()[i])


def test_the_stream_walks_the_indices() -> None:
    sampler = SceneSampler(SEED)
    for i in range(3):
        assert _same(sampler.scene(), _scenes()[i])


def test_indices_and_seeds_differ() -> None:
    images = {s.image.tobytes() for s in _scenes()[:10]}
    assert len(images) == 10
    other = SceneSampler(SEED + 1).scene_at(0)
    assert other.image.tobytes() != _scenes()[0].image.tobytes()


def test_frames_are_bgr_uint8_of_the_asked_size() -> None:
    for s in _scenes()[:5]:
        assert s.image.dtype == np.uint8
        assert s.image.shape == (720, 1280, 3)
        assert s.lighting in LIGHTINGS
    small = SceneSampler(1, width=640, height=360).scene_at(0)
    assert small.image.shape == (360, 640, 3)
    for p in small.plates:
        assert 0 <= p.box[0] < p.box[2] <= 640
        assert 0 <= p.box[1] < p.box[3] <= 360


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        SceneSampler(-1)
    with pytest.raises(ValueError, match="width and height"):
        SceneSampler(0, width=32)
    with pytest.raises(ValueError, match="index"):
        SceneSampler(0).scene_at(-1)


def test_boxes_lie_in_the_frame_and_hold_their_quads() -> None:
    for s in _scenes():
        h, w = s.image.shape[:2]
        items: list[PlateBox | NegativeBox] = [*s.plates, *s.negatives]
        for item in items:
            x0, y0, x1, y1 = item.box
            assert 0 <= x0 < x1 <= w
            assert 0 <= y0 < y1 <= h
            assert item.quad.shape == (4, 2)
            assert item.quad.dtype == np.float32
        for p in s.plates:
            x0, y0, x1, y1 = p.box
            q = np.clip(p.quad, [0, 0], [w - 1, h - 1])
            # The quad's corners (clipped to the frame) lie on pixels of the box.
            assert (q[:, 0] >= x0 - 0.5).all()
            assert (q[:, 0] <= x1 - 0.5).all()
            assert (q[:, 1] >= y0 - 0.5).all()
            assert (q[:, 1] <= y1 - 0.5).all()
            # Corners run top-left, top-right, bottom-right, bottom-left (upright within 45 deg).
            top, right = p.quad[1] - p.quad[0], p.quad[2] - p.quad[1]
            assert top[0] > abs(top[1])
            assert right[1] > abs(right[0])


@pytest.mark.parametrize("index", range(8))
def test_every_plate_pixel_lies_in_its_box(index: int) -> None:
    """Draw each plate in flat black, then flat white: the pixels that change are the plate's."""
    sampler = SceneSampler(SEED)
    scene, kept, _ = sampler._render(index)
    for plate, k in zip(scene.plates, kept, strict=True):
        dark, kept_d, _ = sampler._render(index, ("plate", k, 0))
        light, _, _ = sampler._render(index, ("plate", k, 255))
        assert kept_d == kept  # probing changes no geometry
        assert [p.box for p in dark.plates] == [p.box for p in scene.plates]
        ys, xs = np.nonzero((dark.image != light.image).any(axis=2))
        assert len(xs) > 0
        x0, y0, x1, y1 = plate.box
        assert x0 <= xs.min()
        assert xs.max() < x1
        assert y0 <= ys.min()
        assert ys.max() < y1
        # The box is tight for an uncovered plate inside the frame.
        if plate.visible > 0.98:
            assert xs.min() - x0 <= 2
            assert x1 - 1 - xs.max() <= 2
            assert ys.min() - y0 <= 2
            assert y1 - 1 - ys.max() <= 2
        # What shows of the plate is what ``visible`` claims (anti-aliased edges aside).
        q = plate.quad.astype(np.float64)
        area = 0.5 * abs(
            float(np.dot(q[:, 0], np.roll(q[:, 1], 1)) - np.dot(q[:, 1], np.roll(q[:, 0], 1)))
        )
        edge = float(np.hypot(*(q - np.roll(q, 1, axis=0)).T).sum())
        assert len(xs) / area == pytest.approx(plate.visible, abs=0.05 + 1.5 * edge / area)


@pytest.mark.parametrize("index", range(6))
def test_every_negative_pixel_lies_in_its_box(index: int) -> None:
    sampler = SceneSampler(SEED)
    scene, _, kept = sampler._render(index)
    for neg, k in zip(scene.negatives, kept, strict=True):
        dark, _, _ = sampler._render(index, ("negative", k, 0))
        light, _, _ = sampler._render(index, ("negative", k, 255))
        ys, xs = np.nonzero((dark.image != light.image).any(axis=2))
        x0, y0, x1, y1 = neg.box
        assert len(xs) > 0
        assert x0 <= xs.min()
        assert xs.max() < x1
        assert y0 <= ys.min()
        assert ys.max() < y1


def test_plate_texts_are_canonical_plate_texts() -> None:
    texts = [p.text for s in _scenes() for p in s.plates]
    assert texts
    for t in texts:
        assert canonical(t) == t
        assert MIN_LENGTH <= len(t) <= MAX_LENGTH
    assert sum(bool(plausible(t)) for t in texts) >= 0.9 * len(texts)


def test_negatives_are_sign_texts_clear_of_every_plate() -> None:
    allowed = {canonical(t) for t in NEGATIVE_TEXTS}
    kinds = set()
    for s in _scenes():
        for n in s.negatives:
            assert n.text in allowed
            assert n.kind in NEGATIVE_KINDS
            kinds.add(n.kind)
            for p in s.plates:
                a, b = n.box, p.box
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    assert len(kinds) >= 4


def test_readable_follows_its_definition() -> None:
    plates = [p for s in _scenes() for p in s.plates]
    for p in plates:
        assert 0 < p.visible <= 1
        assert p.readable == (p.width >= READABLE_MIN_WIDTH and p.visible >= READABLE_MIN_VISIBLE)
    assert any(p.readable for p in plates)
    assert any(not p.readable for p in plates)
    assert any(p.visible < READABLE_MIN_VISIBLE for p in plates)  # some are covered or cut


def test_the_mix_of_scenes() -> None:
    scenes = _scenes()
    counts = [len(s.plates) for s in scenes]
    assert 1 <= counts.count(0) <= 15  # about 10 % hold no plate
    assert sum(c >= 2 for c in counts) >= 15  # several plates per frame is common
    assert max(counts) <= 4
    widths = sorted(p.width for s in scenes for p in s.plates)
    assert widths[0] < 45  # small plates
    assert widths[-1] > 150  # and large ones
    assert np.median(widths) < 110  # more small ones than large
    lights = {s.lighting for s in scenes}
    assert {"night", "infrared", "day"} <= lights
    # Infrared frames are grey.
    for s in scenes:
        if s.lighting == "infrared":
            img = s.image.astype(np.int16)
            assert np.abs(img[..., 0] - img[..., 2]).max() <= 2
    assert sum(len(s.negatives) for s in scenes) >= N // 2


def test_preview_script_writes_a_sheet(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "scene_preview", ROOT / "scripts/scene_preview.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "sheet.png"
    assert module.main([str(out), "-n", "2", "--cols", "2", "--scale", "0.25"]) == 0
    assert out.stat().st_size > 1000


def test_glossy_paint_lights_the_top_darkens_the_bottom_and_stays_inside() -> None:
    m = np.array([[100.0, 0.0, 100.0], [0.0, 100.0, 90.0], [0.0, 0.0, 1.0]])  # face: rows 30-80
    face = [_rect(-0.5, 0.1, 0.5, 0.6)]
    flat = _Canvas(200, 100, np.eye(3))
    flat.img[:] = 100
    flat.sheen(face, m, (1.2, 0.8), (0.5, 0.05, 0.0))
    assert flat.img[32, 100, 0] > 110  # light falls off
    assert flat.img[78, 100, 0] < 90
    assert (flat.img[:28] == 100).all()  # only the face
    assert (flat.img[:, :48] == 100).all()
    band = _Canvas(200, 100, np.eye(3))
    band.img[:] = 100
    band.sheen(face, m, (1.2, 0.8), (0.5, 0.05, 0.3))
    assert int(band.img[55, 100, 0]) - int(flat.img[55, 100, 0]) > 60  # the sky's reflection
    assert abs(int(band.img[33, 100, 0]) - int(flat.img[33, 100, 0])) <= 1  # a narrow band


def _bumper_canvases(view: str) -> list[_Canvas]:
    """A 1×0.5 vehicle face (columns 100-300, heights 0-0.5 at rows 190-90), bumper drawn."""
    m = np.array([[200.0, 0.0, 200.0], [0.0, 200.0, 190.0], [0.0, 0.0, 1.0]])
    plate = np.array([[-0.085, -0.242], [0.085, -0.242], [0.085, -0.158], [-0.085, -0.158]])
    out = []
    for seed in range(24):
        v = _Vehicle("sedan", view, m, np.zeros(2), 0.5, 190.0, 0, plate, "none")
        cv = _Canvas(400, 200, np.eye(3))
        cv.img[:] = 150
        _bumper(cv, v, np.random.default_rng(seed), (150, 150, 150))
        out.append(cv)
    return out


def test_a_front_plate_sits_on_a_dark_intake_and_the_bumper_stays_on_the_face() -> None:
    canvases = _bumper_canvases("front")
    for cv in canvases:
        assert (cv.img[:128] == 150).all()  # nothing above the bumper (h > 0.31)
        assert (cv.img[:, :98] == 150).all()
        assert (cv.img[:, 303:] == 150).all()
    # Beside the plate, at its height (h = 0.2, x = ±0.2): the intake's dark slats or mesh.
    beside = [cv for cv in canvases if cv.img[150, 160, 0] < 100 and cv.img[150, 240, 0] < 100]
    assert 8 <= len(beside) < len(canvases)  # 70 % of fronts, not all


def test_a_rear_bumper_has_creases_and_a_black_valance_below_the_plate() -> None:
    canvases = _bumper_canvases("rear")
    for cv in canvases:
        assert (cv.img[:134] == 150).all()  # all of it below h = 0.28
    assert any((cv.img[135:152, 200, 0] > 180).any() for cv in canvases)  # a crease's highlight
    assert any((cv.img[165:172, 200, 0] < 50).all() for cv in canvases)  # the black valance


def test_a_plate_by_day_is_only_ever_dimmed_often_from_the_top() -> None:
    printed = np.full((60, 120, 3), 200, np.uint8)
    lit = [_plate_light(printed, np.random.default_rng(seed)) for seed in range(40)]
    assert all(p.shape == printed.shape and p.dtype == np.uint8 for p in lit)
    assert all((p <= printed).all() for p in lit)  # a recess never adds light
    assert any(p.mean() < 185 for p in lit)  # duller as a whole
    assert any(p[0].mean() < p[-1].mean() - 20 for p in lit)  # the overhang's shadow
    assert any((p == printed).all() for p in lit)  # and sometimes as printed
