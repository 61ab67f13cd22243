"""Natural clutter for detector training: texture and vehicle parts, never on or near a plate."""

from __future__ import annotations

import numpy as np
import pytest
from underseal_device.synth.clutter import add_clutter, foliage, grass, gravel
from underseal_device.synth.scenes import SceneSampler
from underseal_device.train.detector import patch


def _quad(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


@pytest.mark.parametrize("seed", range(20))
def test_clutter_never_touches_a_plate_or_its_surroundings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    plates = [_quad(60, 100, 140, 130), _quad(190, 20, 230, 36)]
    out = add_clutter(img, plates, rng, texture=1.0, parts=1.0)
    assert out.shape == img.shape
    assert out.dtype == np.uint8
    for quad in plates:  # the plate and half its size around it stay as rendered
        (x0, y0), (x1, y1) = quad.min(0), quad.max(0)
        mx, my = 0.5 * (x1 - x0), 0.5 * (y1 - y0)
        ya, yb, xa, xb = int(y0 - my), int(y1 + my), int(x0 - mx), int(x1 + mx)
        region = np.s_[max(ya, 0) : yb, max(xa, 0) : xb]
        assert np.array_equal(out[region], img[region])
    assert not np.array_equal(out, img)  # and it did paste something elsewhere


def test_textures_are_textured_and_repeatable() -> None:
    for make in (foliage, grass, gravel):
        a = make(np.random.default_rng(3), 96, 128)
        b = make(np.random.default_rng(3), 96, 128)
        assert a.shape == (96, 128, 3)
        assert a.dtype == np.uint8
        assert np.array_equal(a, b)  # drawn from the generator only
        assert float(a.std()) > 5.0  # texture, not a flat fill


def test_training_patches_keep_their_targets_with_clutter() -> None:
    scene = SceneSampler(5).scene_at(0)
    plain = patch(scene, np.random.default_rng(1), clutter=0.0)
    cluttered = patch(scene, np.random.default_rng(1), clutter=1.0)
    # The same cut (the clutter draws after it), so the same plate targets.
    for a, b in zip(plain[1:], cluttered[1:], strict=True):
        assert np.array_equal(a.numpy(), b.numpy())
