"""``read(frame) -> list[PlateRead]``: the detector, then the recognizer, then the plate grammar.

Each detected box is first re-placed by the detector's zoomed second pass
(:meth:`~underseal_device.detect.detector.Detector.refine`; a weak box that
the pass does not find again is dropped there), then widened
by a small margin (the recognizer was trained on tight detector-like crops
and on loose ones) and cut from the full-size frame, so small plates keep
every pixel the camera caught. All crops of a frame go through the
recognizer in one batch. A reading that the plate grammar
(:func:`underseal.plates.plausible`) rejects — sign words, impossible
lengths — is dropped, and so are such candidates; the box stays, with empty
text, so a tracker still sees the plate.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from underseal.plates import plausible
from underseal_device.detect.detector import Detection, Detector, check_frame
from underseal_device.ocr.recognizer import Recognizer, default_recognizer
from underseal_device.reads import Box, PlateRead

__all__ = [
    "THREADS",
    "PlateReader",
    "camera_reader",
    "crop_box",
    "default_reader",
    "read",
    "shipped_reader",
    "threads_per_frame",
]

#: Margins added around a detected box before it is cut, as shares of its
#: width and height (each side).
MARGIN_X = 0.04
MARGIN_Y = 0.08
#: Candidates per plate passed on for hotlist matching.
CANDIDATES = 3
#: The shipped reader runs the detector at this score, below the model's own
#: threshold, and keeps a box under the model's threshold only when a plausible
#: plate is read in it: a missed plate is a missed hit, while a weak box costs
#: one OCR call and the grammar drops it. Chosen on rendered scenes (seed 2,
#: 60 scenes) as the lowest score at which the gated reader keeps precision
#: >= 0.8, and chosen again (``make operating-point``; a test fails until then)
#: whenever either model or the scene renderer changes, since the gate is the
#: recognizer's (and, since a weak box must also be found again by the
#: zoomed second pass, the detector's): with the three-network int8
#: recognizer, the detector trained on vehicles with busy bumpers (creases,
#: valances, intakes) and that confirmation, recall 97.5 % (95.1 % at the
#: model's 0.6), precision 80.0 %, against each plate's own box. Before the
#: confirmation the choice was 0.35 (96.3 %, 93.8 % and 82.8 % without the
#: zoomed pass), and 0.4 with one width-32 network.
RECALL_THRESHOLD = 0.25
#: onnxruntime threads for each of the shipped reader's models: the camera's two
#: cores. Detection, the zoomed pass and OCR run one after another, never at
#: once, so each stage may use both when one frame is read at a time.
#: ``python -m bench detector`` times the reader this way beside the recognizer
#: on one thread (its default). A camera reading several frames at once shares
#: the cores among them (:func:`camera_reader`).
THREADS = 2


def crop_box(
    box: tuple[int, int, int, int], frame_size: tuple[int, int], mx: float, my: float
) -> tuple[int, int, int, int]:
    """``box`` widened by ``mx``·width and ``my``·height on each side, clipped to the frame."""
    x0, y0, x1, y1 = box
    width, height = frame_size
    dx, dy = round((x1 - x0) * mx), round((y1 - y0) * my)
    return max(0, x0 - dx), max(0, y0 - dy), min(width, x1 + dx), min(height, y1 + dy)


class PlateReader:
    """Detector + recognizer + grammar. Build once, call :meth:`read` per frame."""

    def __init__(
        self,
        detector: Detector | None = None,
        recognizer: Recognizer | None = None,
        *,
        candidates: int = CANDIDATES,
        margin: tuple[float, float] = (MARGIN_X, MARGIN_Y),
        roi: Box | None = None,
        confident: float | None = None,
        refine: bool = True,
    ) -> None:
        """Use the given models, or the shipped ones (loaded and hash-checked here).

        ``roi`` ``(x0, y0, x1, y1)`` limits detection to that part of each
        frame (the lanes, not the sky or the pavement): the detector's input
        is then the region, so plates in it are seen larger for the same cost.
        Boxes are still reported in frame pixels. The zoomed pass (below)
        looks at the whole frame, so it may carry a box at the region's edge
        past it, to the plate's own edge.

        ``confident``: a box the detector scores below this is kept only when
        the recognizer reads a plausible plate in it; at or above, it is kept
        even unread (so the tracker follows a plate too blurred to read
        yet). None: the model's own threshold, which gates only a detector
        run below it (the shipped one runs at :data:`RECALL_THRESHOLD`).

        ``refine``: re-place each box with the detector's zoomed second pass
        before it is read (:meth:`Detector.refine`), and drop a box scoring
        under ``confident`` that the pass does not find again. On rendered
        scenes it reads more plates right; it costs one small detector run
        per box and saves the OCR of each box it drops.

        Raises:
            ModelIntegrityError: a shipped model is missing or altered.
            ValueError: ``candidates`` below 1, a negative margin, or an
                empty ``roi``.
        """
        if candidates < 1:
            raise ValueError("candidates must be at least 1")
        if min(margin) < 0:
            raise ValueError("margins must not be negative")
        if roi is not None and (min(roi) < 0 or roi[2] - roi[0] < 16 or roi[3] - roi[1] < 16):
            raise ValueError("roi must be (x0, y0, x1, y1) with x1 - x0 and y1 - y0 at least 16")
        self.roi = roi
        self.detector = detector or Detector(threshold=RECALL_THRESHOLD)
        self.confident = self.detector.spec.threshold if confident is None else confident
        self.recognizer = recognizer or default_recognizer()
        self.candidates = candidates
        self.margin = margin
        self.refine = refine

    def read(self, frame: npt.NDArray[np.uint8]) -> list[PlateRead]:
        """Every plate found in ``frame`` (BGR, BGRA or gray uint8), best detection first.

        Raises:
            BadImage: a frame that is not an image of a usable size.
        """
        frame = check_frame(frame)
        return self.read_detections(frame, self._detections(frame))

    def crops(self, frame: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.uint8]]:
        """The crops of ``frame`` that :meth:`read` gives the recognizer, in its order.

        Raises:
            BadImage: a frame that is not an image of a usable size.
        """
        frame = check_frame(frame)
        return self._cut(frame, self._detections(frame))

    def _detections(self, frame: npt.NDArray[np.uint8]) -> list[Detection]:
        """The boxes :meth:`read` reads in a checked ``frame``: found, then placed."""
        if self.roi is None:
            return self._placed(frame, self.detector.detect(frame))
        height, width = frame.shape[:2]
        x0, y0 = min(self.roi[0], width - 16), min(self.roi[1], height - 16)
        x1, y1 = min(self.roi[2], width), min(self.roi[3], height)
        found = self.detector.detect(frame[y0:y1, x0:x1])
        shifted = [
            Detection((b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0), d.score)
            for d in found
            for b in (d.box,)
        ]
        # The zoomed pass looks at the whole frame, so a plate at the region's edge is whole.
        return self._placed(frame, shifted)

    def _placed(self, frame: npt.NDArray[np.uint8], found: list[Detection]) -> list[Detection]:
        if not self.refine:
            return found
        # A weak box the closer look does not find again is dropped before OCR, as the
        # grammar would drop an unread one after it (a box at ``confident`` is kept).
        return self.detector.refine(frame, found, confirm_below=self.confident)

    def read_detections(
        self, frame: npt.NDArray[np.uint8], detections: list[Detection]
    ) -> list[PlateRead]:
        """Read the plates in already-detected boxes of ``frame`` (BGR uint8)."""
        if not detections:
            return []
        crops = self._cut(frame, detections)
        results = self.recognizer.read(crops, k=self.candidates, width=max(8, self.candidates))
        out: list[PlateRead] = []
        for d, (text, candidates) in zip(detections, results, strict=True):
            ok = bool(text.text) and plausible(text.text).ok
            if not ok and d.score < self.confident:
                continue  # a weak box with no plate in it: texture, a sign, a grille
            bx0, by0, bx1, by1 = d.box
            quad = np.array([[bx0, by0], [bx1 - 1, by0], [bx1 - 1, by1 - 1], [bx0, by1 - 1]])
            out.append(
                PlateRead(
                    box=d.box,
                    quad=quad.astype(np.float32),
                    detection_confidence=d.score,
                    text=text.text if ok else "",
                    confidence=text.confidence if ok else 0.0,
                    char_confidences=text.char_confidences if ok else (),
                    candidates=tuple(c for c in candidates if plausible(c.text).ok),
                    crop=frame[by0:by1, bx0:bx1].copy(),
                )
            )
        return out

    def _cut(
        self, frame: npt.NDArray[np.uint8], detections: list[Detection]
    ) -> list[npt.NDArray[np.uint8]]:
        """Each box widened by the margins and cut from ``frame``, contiguous for the recognizer."""
        height, width = frame.shape[:2]
        boxes = [crop_box(d.box, (width, height), *self.margin) for d in detections]
        return [np.ascontiguousarray(frame[y0:y1, x0:x1]) for x0, y0, x1, y1 in boxes]


def shipped_reader(
    *, detector_threads: int = THREADS, recognizer_threads: int = THREADS, roi: Box | None = None
) -> PlateReader:
    """The shipped models at the shipped operating point (see :data:`RECALL_THRESHOLD`).

    With its defaults, the reader for one frame at a time: :func:`default_reader`
    and :func:`read`. The camera builds its own (:func:`camera_reader`).

    Raises:
        ModelIntegrityError: a shipped model is missing or altered.
    """
    return PlateReader(
        Detector(threads=detector_threads, threshold=RECALL_THRESHOLD),
        Recognizer(threads=recognizer_threads),
        roi=roi,
    )


def camera_reader(workers: int) -> PlateReader:
    """The shipped reader for a camera reading ``workers`` frames at once.

    :data:`THREADS` cores shared among the frames: each model on
    ``THREADS // workers`` onnxruntime threads, at least one. One reader
    serves every frame: onnxruntime runs a session from several threads at
    once, and the reader keeps nothing between frames.

    Raises:
        ModelIntegrityError: a shipped model is missing or altered.
        ValueError: ``workers`` below 1.
    """
    threads = threads_per_frame(workers)
    return shipped_reader(detector_threads=threads, recognizer_threads=threads)


def threads_per_frame(workers: int) -> int:
    """onnxruntime threads per model when ``workers`` frames are read at once: THREADS shared.

    Raises:
        ValueError: ``workers`` below 1.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return max(1, THREADS // workers)


@lru_cache(maxsize=1)
def default_reader() -> PlateReader:
    """:func:`shipped_reader`, loaded on first use (never at import time)."""
    return shipped_reader()


def read(frame: npt.NDArray[np.uint8]) -> list[PlateRead]:
    """Find and read every plate in ``frame`` with the shipped models (see :class:`PlateReader`)."""
    return default_reader().read(frame)
