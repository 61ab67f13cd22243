"""The detector's decoding rule, its training targets and its loader, without a trained model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from underseal_device.detect.detector import STRIDE, Detector, check_frame, decode, prepare
from underseal_device.errors import BadImage, ModelIntegrityError

torch = pytest.importorskip("torch")

from underseal_device.train.detector import export, patch, plate_box, targets, train  # noqa: E402


def _maps(h: int, w: int) -> np.ndarray:
    out = np.zeros((5, h, w), np.float32)
    out[0] = -10.0  # nothing anywhere
    return out


def _paint(out: np.ndarray, box: tuple[float, float, float, float], logit: float = 6.0) -> None:
    """Make every cell whose centre lies in ``box``'s middle half predict ``box`` exactly."""
    x0, y0, x1, y1 = box
    _, h, w = out.shape
    for j in range(h):
        for i in range(w):
            cx, cy = i * STRIDE + 1.5, j * STRIDE + 1.5
            mx, my = (x1 - x0) / 4, (y1 - y0) / 4
            if x0 + mx <= cx <= x1 - mx and y0 + my <= cy <= y1 - my:
                out[0, j, i] = logit
                out[1:, j, i] = np.log(np.array([cx - x0, cy - y0, x1 - cx, y1 - cy]) / STRIDE)


def test_decode_returns_each_painted_box_in_frame_pixels() -> None:
    out = _maps(48, 80)
    _paint(out, (40, 40, 120, 80))
    _paint(out, (200, 100, 300, 150), logit=3.0)
    found = decode(out, scale=0.5, threshold=0.5, frame_size=(640, 384))
    assert [d.box for d in found] == [(80, 80, 240, 160), (400, 200, 600, 300)]
    assert found[0].score > found[1].score > 0.5


def test_decode_threshold_and_empty_maps() -> None:
    out = _maps(48, 80)
    assert decode(out, scale=1.0, threshold=0.5, frame_size=(320, 192)) == []
    _paint(out, (40, 40, 120, 80), logit=0.0)  # probability 0.5 exactly
    assert decode(out, scale=1.0, threshold=0.6, frame_size=(320, 192)) == []
    assert len(decode(out, scale=1.0, threshold=0.4, frame_size=(320, 192))) == 1


@pytest.mark.parametrize("threshold", [1e-6, 0.25, 0.35, 0.6, 0.999])
def test_decode_keeps_a_cell_exactly_when_its_sigmoid_reaches_the_threshold(
    threshold: float,
) -> None:
    # decode skips the sigmoid of cells far below the threshold's logit: around it, the
    # float32 scores a step apart must fall on the side the float64 sigmoid puts them.
    logit = np.float32(np.log(threshold / (1 - threshold)))
    for score in (np.nextafter(logit, -np.inf), logit, np.nextafter(logit, np.inf)):
        out = _maps(48, 80)
        out[0] = -60.0  # below even the lowest threshold's logit
        _paint(out, (40, 40, 120, 80), logit=float(score))
        passes = 1.0 / (1.0 + np.exp(-np.float64(score))) >= threshold
        found = decode(out, scale=1.0, threshold=threshold, frame_size=(320, 192))
        assert len(found) == int(passes)


def test_decode_suppresses_an_overlapping_weaker_region_and_clips_to_the_frame() -> None:
    out = _maps(48, 80)
    _paint(out, (40, 40, 120, 80), logit=5.0)
    # A separate region (cells apart) that predicts nearly the same box: one plate.
    out[0, 10, 10] = 2.0
    cx, cy = 10 * STRIDE + 1.5, 10 * STRIDE + 1.5
    out[1:, 10, 10] = np.log(np.array([cx - 41, cy - 40, 118 - cx, 80 - cy]) / STRIDE)
    assert len(decode(out, scale=1.0, threshold=0.5, frame_size=(320, 192))) == 1
    edge = _maps(48, 80)
    _paint(edge, (280, 150, 340, 200))
    (d,) = decode(edge, scale=1.0, threshold=0.5, frame_size=(320, 192))
    assert d.box[2] == 320
    assert d.box[3] == 192


def test_prepare_keeps_the_aspect_and_pads_to_32() -> None:
    frame = np.full((720, 1280, 3), 255, np.uint8)
    batch, scale = prepare(frame, 640)
    assert batch.shape == (1, 3, 384, 640)
    assert scale == 0.5
    assert batch[0, :, :360].min() == 1.0
    assert batch[0, :, 360:].max() == 0.0


def test_prepare_lays_out_each_channel_scaled_to_one() -> None:
    # Planes in the frame's BGR order, each pixel /255 where the resized frame has it,
    # zero in the padding: what the model was trained on (train.detector uses prepare).
    frame = np.random.default_rng(3).integers(0, 256, (200, 300, 3), np.uint8)
    batch, scale = prepare(frame, 160)
    resized = cv2.resize(frame, (160, 107), interpolation=cv2.INTER_AREA)
    assert scale == 160 / 300
    assert batch.shape == (1, 3, 128, 160)
    assert batch.dtype == np.float32
    expected = resized.transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 255)
    assert np.array_equal(batch[0, :, :107], expected)
    assert not batch[0, :, 107:].any()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("not an image", "numpy array"),
        (np.zeros((100, 100, 3), np.float32), "uint8"),
        (np.zeros((8, 100, 3), np.uint8), "too small"),
        (np.zeros((100, 100, 2), np.uint8), "HxW"),
        (np.zeros((9000, 20, 3), np.uint8), "larger"),
    ],
)
def test_bad_frames_get_clear_errors(frame: object, message: str) -> None:
    with pytest.raises(BadImage, match=message):
        check_frame(frame)


def test_gray_and_bgra_frames_become_bgr() -> None:
    assert check_frame(np.zeros((20, 30), np.uint8)).shape == (20, 30, 3)
    assert check_frame(np.zeros((20, 30, 4), np.uint8)).shape == (20, 30, 3)


def test_targets_mark_a_plate_core_ignore_its_rim_and_small_plates() -> None:
    quad = np.array([[100, 100], [180, 100], [180, 140], [100, 140]], np.float64)
    tiny = np.array([[20, 20], [26, 20], [26, 23], [20, 23]], np.float64)
    score, weight, dist, pos = targets([(quad, 1.0), (tiny, 1.0)], 256)
    on = np.argwhere(pos > 0)
    centres = on[:, ::-1] * STRIDE + 1.5
    assert len(on) > 10
    assert (centres[:, 0] > 100).all()
    assert (centres[:, 0] < 180).all()
    # Every positive cell's distances lead back to the plate's box.
    j, i = on[0]
    cx, cy = i * STRIDE + 1.5, j * STRIDE + 1.5
    assert cx - dist[0, j, i] == pytest.approx(100)
    assert cy + dist[3, j, i] == pytest.approx(140)
    assert weight[(score == 0) & (weight == 0)].size > 0  # the rim is ignored
    assert score[4:7, 4:7].max() == 0  # the 6-px plate: not a positive...
    assert weight[5, 5] == 0  # ...and not a negative either
    assert weight[50, 10] == 1  # background elsewhere counts


def test_a_hidden_plate_is_ignored_not_taught_as_background() -> None:
    quad = np.array([[100, 100], [180, 100], [180, 140], [100, 140]], np.float64)
    score, weight, _, _ = targets([(quad, 0.2)], 256)
    assert score.max() == 0
    assert weight[30, 35] == 0


def test_patches_are_seeded() -> None:
    from underseal_device.synth.scenes import SceneSampler

    scene = SceneSampler(3).scene_at(1)
    a = patch(scene, np.random.default_rng(5))
    b = patch(scene, np.random.default_rng(5))
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    assert plate_box(np.array([[1, 2], [5, 2], [5, 4], [1, 4]], np.float32)) == (1, 2, 6, 5)


def test_train_export_load_and_pinning(tmp_path: Path) -> None:
    model, result = train(steps=2, batch=4, seed=1, width=8, lr=1e-3, val=2, workers=0, per_scene=4)
    manifest = export(model, result, tmp_path)
    spec = json.loads(manifest.read_text())
    assert spec["training"]["steps"] == 2
    assert (tmp_path / "plate_detector.md").read_text().count(spec["sha256"]) == 1
    loaded = Detector(manifest, unsafe_trust_manifest=True)
    assert isinstance(loaded.detect(np.zeros((720, 1280, 3), np.uint8)), list)
    with pytest.raises(ModelIntegrityError, match="the code pins"):
        Detector(manifest)
    # A model file changed after its manifest was written refuses to load.
    onnx = tmp_path / "plate_detector.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match="the manifest pins"):
        Detector(manifest, unsafe_trust_manifest=True)
