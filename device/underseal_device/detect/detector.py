"""Plate detection on onnxruntime: a frame in, plate boxes with scores out.

The model is a small dense score-and-box network trained by ``make
train-detector`` (``underseal_device.train.detector``) on rendered scenes
only. Like the recognizer, it ships beside a manifest and its SHA-256 is
pinned here (:data:`PINNED_SHA256`); the file is checked before onnxruntime
parses it.

Pipeline: ``resize (long side → input size) → pad to a multiple of 32 → run →
threshold the score map → connected components → score-weighted box per
component → overlap suppression → back to frame pixels``.

:meth:`Detector.refine` is an optional second pass: each box's
neighbourhood goes through the same model again, zoomed so the plate is
about :data:`REFINE_WIDTH` px wide, and the box found there replaces the
first. The first pass sees a small plate at a few cells of the score map;
the zoomed pass places its edges from many more.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from underseal_device.errors import BadImage, ModelIntegrityError
from underseal_device.integrity import verified_bytes

__all__ = [
    "DEFAULT_MODEL",
    "PINNED_SHA256",
    "Detection",
    "Detector",
    "DetectorSpec",
    "check_frame",
    "decode",
    "default_detector",
    "prepare",
    "prepare_scaled",
]

DEFAULT_MODEL: Final = Path(__file__).resolve().parent.parent / "models" / "plate_detector.json"
#: SHA-256 of the shipped ``plate_detector.onnx``; ``make train-detector`` prints
#: the new value. Changing it is a reviewed code change, not a file drop.
PINNED_SHA256: Final = "3be7add8cf2976ff53e0010bb6bace8e7c2eda3be7c36fbd5d2059b51a122379"
#: Cell size of the score map, in input pixels.
STRIDE: Final = 4
#: Input sides are padded to a multiple of this.
ALIGN: Final = 32
#: Frames larger than this on a side are refused (bounds the work a frame causes).
MAX_SIDE: Final = 8192
#: Two boxes overlapping more than this (IoU) are one plate; the weaker is dropped.
NMS_IOU: Final = 0.3
#: Log-distances are clipped here before exp(), so a wild output cannot overflow.
_MAX_LOG: Final = 7.0
#: The zoomed second pass (:meth:`Detector.refine`). Its neighbourhood is the
#: box widened by these shares of its width on each side and of its height
#: above and below: room for a box that is off by a plate's half-width.
REFINE_PAD: Final = (0.5, 1.0)
#: The box's width in the zoomed input, px: a plate size the model finds
#: well (it trained on plates from a few cells to most of a 256-px patch).
REFINE_WIDTH: Final = 96
#: The most a box is enlarged by, so a speck is not blown up into a plate.
REFINE_MAX_SCALE: Final = 4.0
#: Score threshold of the zoomed pass, fixed (the reader's operating point
#: when the pass was chosen, on rendered scenes), so that changing a
#: detector's own threshold changes only the first pass.
REFINE_THRESHOLD: Final = 0.35
#: A zoomed box replaces the first only if they overlap at least this much (IoU).
REFINE_MIN_IOU: Final = 0.3


@dataclass(frozen=True, slots=True)
class Detection:
    """A plate's box ``(x0, y0, x1, y1)`` in frame pixels (x1, y1 exclusive) and its score."""

    box: tuple[int, int, int, int]
    score: float


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """What the manifest says about a detector model file."""

    path: Path
    sha256: str
    long_side: int
    threshold: float

    @classmethod
    def load(cls, manifest: Path) -> DetectorSpec:
        """Read a manifest. Raises ModelIntegrityError if it is missing or malformed."""
        try:
            fields: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
            name = str(fields["file"])
            spec = cls(
                path=manifest.parent / name,
                sha256=str(fields["sha256"]),
                long_side=int(fields["input"]["long_side"]),
                threshold=float(fields["decoder"]["threshold"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelIntegrityError(f"cannot read model manifest {manifest}: {error}") from None
        if Path(name).name != name:
            raise ModelIntegrityError("the manifest must name a file beside it, not a path")
        if spec.long_side % ALIGN or not 64 <= spec.long_side <= 4096:
            raise ModelIntegrityError("the manifest's input size must be a multiple of 32")
        return spec


def check_frame(frame: object) -> npt.NDArray[np.uint8]:
    """The frame as BGR uint8 H×W×3 (gray is converted), or BadImage saying what is wrong."""
    if not isinstance(frame, np.ndarray):
        raise BadImage(f"frame must be a numpy array, not {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise BadImage(f"frame must be uint8, not {frame.dtype}")
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)):
        raise BadImage(f"frame must be HxW, HxWx1, HxWx3 or HxWx4, not {frame.shape}")
    height, width = frame.shape[:2]
    if height < 16 or width < 16:
        raise BadImage(f"frame is too small ({width}x{height})")
    if height > MAX_SIDE or width > MAX_SIDE:
        raise BadImage(f"frame is larger than {MAX_SIDE} px on a side")
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame.reshape(height, width), cv2.COLOR_GRAY2BGR)  # type: ignore[return-value]
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)  # type: ignore[return-value]
    return frame


def prepare(frame: npt.NDArray[np.uint8], long_side: int) -> tuple[npt.NDArray[np.float32], float]:
    """Frame → ``1×3×H×W`` float32 input (long side ``long_side``, padded to 32) and the scale.

    The one preprocessing step shared with training's validation.
    """
    height, width = frame.shape[:2]
    scale = long_side / max(height, width)
    return prepare_scaled(frame, scale), scale


def prepare_scaled(frame: npt.NDArray[np.uint8], scale: float) -> npt.NDArray[np.float32]:
    """Frame → ``1×3×H×W`` float32 input, resized by ``scale`` and padded to 32."""
    height, width = frame.shape[:2]
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    inter = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (w, h), interpolation=inter)
    batch = np.zeros((1, 3, -(-h // ALIGN) * ALIGN, -(-w // ALIGN) * ALIGN), np.float32)
    # One plane at a time, scaled straight into place: the same float32 products as
    # scaling the whole H×W×3 image and transposing it, in half the time.
    for plane, channel in zip(batch[0], cv2.split(resized), strict=True):
        np.multiply(channel, np.float32(1 / 255), out=plane[:h, :w])
    return batch


def _ious(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """IoU of each row of ``a`` (n, 4) with each row of ``b`` (m, 4): ``n×m``."""
    a, b = a[:, None], b[None]
    ix = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iy = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = ix * iy
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    out: npt.NDArray[np.float64] = inter / np.maximum(area_a + area_b - inter, 1e-9)
    return out


def _iou(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """IoU of box ``a`` (4,) with each row of ``b`` (n, 4)."""
    out: npt.NDArray[np.float64] = _ious(a[None], b)[0]
    return out


def decode(
    output: npt.NDArray[np.float32],
    *,
    scale: float,
    threshold: float,
    frame_size: tuple[int, int],
) -> list[Detection]:
    """One frame's ``5×h×w`` output → detections in frame pixels, best first.

    Cells scoring at least ``threshold`` form connected regions; each region
    is one candidate whose box is the score-weighted mean of its cells' boxes
    and whose score is its best cell's. Candidates overlapping a stronger one
    by more than :data:`NMS_IOU` are dropped. Shared with training.
    """
    width, height = frame_size
    # The sigmoid only where a score may pass (most cells are far below): the same
    # probabilities, a few hundred exp() calls instead of a whole map's.
    score = output[0]
    below = math.log(threshold / (1 - threshold)) - 1e-3 if 0 < threshold < 1 else -math.inf
    maybe = score >= below
    prob = np.zeros(score.shape)
    prob[maybe] = 1.0 / (1.0 + np.exp(-score[maybe].astype(np.float64)))
    mask = (prob >= threshold).astype(np.uint8)
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    if count <= 1:
        return []
    ys, xs = np.nonzero(labels)
    ids = labels[ys, xs].astype(np.intp) - 1
    weights = prob[ys, xs]
    dist = np.exp(np.clip(output[1:5, ys, xs].astype(np.float64), -_MAX_LOG, _MAX_LOG)) * STRIDE
    cx, cy = xs * STRIDE + (STRIDE - 1) / 2, ys * STRIDE + (STRIDE - 1) / 2
    cell_boxes = np.stack([cx - dist[0], cy - dist[1], cx + dist[2], cy + dist[3]], 1)
    total = np.bincount(ids, weights, count - 1)
    boxes = np.stack(
        [np.bincount(ids, weights * cell_boxes[:, k], count - 1) / total for k in range(4)], 1
    )
    scores = np.zeros(count - 1)
    np.maximum.at(scores, ids, weights)
    overlaps = _ious(boxes, boxes).tolist()
    keep: list[int] = []
    for i in np.argsort(-scores).tolist():
        if all(overlaps[i][j] <= NMS_IOU for j in keep):
            keep.append(i)
    out: list[Detection] = []
    for i in keep:
        x0, y0, x1, y1 = (boxes[i] / scale).tolist()
        x0, y0 = max(0, round(x0)), max(0, round(y0))
        x1, y1 = min(width, round(x1)), min(height, round(y1))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            out.append(Detection((x0, y0, x1, y1), float(scores[i])))
    return out


class Detector:
    """A loaded, integrity-checked plate detector. Build once, call many times."""

    def __init__(
        self,
        manifest: Path | str = DEFAULT_MODEL,
        *,
        threads: int = 1,
        long_side: int | None = None,
        threshold: float | None = None,
        unsafe_trust_manifest: bool = False,
    ) -> None:
        """Load the model named by ``manifest`` after checking its SHA-256.

        ``long_side`` (a multiple of 32) and ``threshold`` override the
        manifest's input size and score threshold: a larger input finds
        smaller plates at a higher cost. ``unsafe_trust_manifest=True``
        checks the manifest's hash only: for models just trained, never for
        the camera.

        Raises:
            ModelIntegrityError: missing or malformed manifest or model, or a
                hash mismatch.
            ValueError: ``threads`` below 1, a ``long_side`` that is not a
                multiple of 32 in 64-4096, or a ``threshold`` outside (0, 1).
        """
        if threads < 1:
            raise ValueError("threads must be at least 1")
        if long_side is not None and (long_side % ALIGN or not 64 <= long_side <= 4096):
            raise ValueError("long_side must be a multiple of 32 between 64 and 4096")
        if threshold is not None and not 0.0 < threshold < 1.0:
            raise ValueError("threshold must be between 0 and 1")
        self.spec = DetectorSpec.load(Path(manifest))
        self.long_side = long_side or self.spec.long_side
        self.threshold = threshold or self.spec.threshold
        data = verified_bytes(
            self.spec.path, self.spec.sha256, None if unsafe_trust_manifest else PINNED_SHA256
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise ModelIntegrityError(f"onnxruntime cannot load the model: {error}") from None
        (image,) = self._session.get_inputs()
        (output,) = self._session.get_outputs()
        if len(image.shape) != 4 or image.shape[1] != 3 or output.shape[1] != 5:
            raise ModelIntegrityError("model is not N×3×H×W → N×5×H/4×W/4 as expected")
        self._input = image.name

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The raw model output for a prepared batch."""
        out: npt.NDArray[np.float32] = self._session.run(None, {self._input: batch})[0]
        return out

    def detect(self, frame: npt.NDArray[np.uint8]) -> list[Detection]:
        """The plates in one frame (BGR, BGRA or gray uint8), best first.

        Raises:
            BadImage: a frame that is not an image of a usable size.
        """
        frame = check_frame(frame)
        batch, scale = prepare(frame, self.long_side)
        height, width = frame.shape[:2]
        return decode(
            self.run(batch)[0], scale=scale, threshold=self.threshold, frame_size=(width, height)
        )

    def refine(
        self,
        frame: npt.NDArray[np.uint8],
        detections: Sequence[Detection],
        *,
        confirm_below: float = 0.0,
    ) -> list[Detection]:
        """``detections`` of ``frame``, each box re-placed by a zoomed second pass.

        Each box's neighbourhood (:data:`REFINE_PAD`) is scaled so the box is
        :data:`REFINE_WIDTH` px wide (at most :data:`REFINE_MAX_SCALE` times)
        and run through the model again at :data:`REFINE_THRESHOLD`. The box
        found there that overlaps the first most (IoU at least
        :data:`REFINE_MIN_IOU`) replaces it; otherwise the first stays, or,
        if it scored below ``confirm_below``, is dropped: a weak box that a
        closer look does not find again. A detection keeps its first score,
        and order; one whose new box overlaps an earlier one's by more than
        :data:`NMS_IOU` is dropped, as the first pass would have.

        Raises:
            BadImage: a frame that is not an image of a usable size.
            ValueError: a box that is empty or not inside the frame (checked
                for all before any is refined).
        """
        frame = check_frame(frame)
        height, width = frame.shape[:2]
        for d in detections:
            x0, y0, x1, y1 = d.box
            if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                raise ValueError(f"box {d.box} is empty or not inside the {width}x{height} frame")
        out: list[Detection] = []
        for d in detections:
            box = self._refined(frame, d.box, width, height)
            if box is None:
                if d.score < confirm_below:
                    continue
                box = d.box
            kept = np.array([o.box for o in out], np.float64).reshape(-1, 4)
            if out and _iou(np.array(box, np.float64), kept).max() > NMS_IOU:
                continue
            out.append(Detection(box, d.score))
        return out

    def _refined(
        self, frame: npt.NDArray[np.uint8], box: tuple[int, int, int, int], width: int, height: int
    ) -> tuple[int, int, int, int] | None:
        """The zoomed pass's box for ``box``, or None where it finds none there."""
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        px, py = REFINE_PAD
        rx0, ry0 = max(0, int(x0 - px * w)), max(0, int(y0 - py * h))
        rx1, ry1 = min(width, int(x1 + px * w + 1)), min(height, int(y1 + py * h + 1))
        scale = min(REFINE_WIDTH / max(w, 1), REFINE_MAX_SCALE)
        found = decode(
            self.run(prepare_scaled(frame[ry0:ry1, rx0:rx1], scale))[0],
            scale=scale,
            threshold=REFINE_THRESHOLD,
            frame_size=(rx1 - rx0, ry1 - ry0),
        )
        if not found:
            return None
        first = np.array([x0 - rx0, y0 - ry0, x1 - rx0, y1 - ry0], np.float64)
        overlaps = _iou(first, np.array([f.box for f in found], np.float64))
        best = int(overlaps.argmax())
        if overlaps[best] < REFINE_MIN_IOU:
            return None
        bx0, by0, bx1, by1 = found[best].box
        return bx0 + rx0, by0 + ry0, bx1 + rx0, by1 + ry0


@lru_cache(maxsize=1)
def default_detector() -> Detector:
    """The shipped model, loaded on first use (never at import time)."""
    return Detector()
