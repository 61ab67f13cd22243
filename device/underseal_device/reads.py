"""What the reader returns for one plate in one frame, and the interface every reader keeps.

A :class:`PlateRead` holds a plate's text: personal data. Its ``repr`` shows
lengths and confidences only, so a stray log line or traceback never carries
a plate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from underseal_device.ocr.recognizer import Candidate

__all__ = ["Box", "PlateRead", "Reader"]

#: ``(x0, y0, x1, y1)`` in frame pixels; ``frame[y0:y1, x0:x1]`` is the box.
Box = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True, eq=False)
class PlateRead:
    """One plate found and read in a frame.

    ``box`` bounds the plate in the frame (x1, y1 exclusive). ``quad`` is its
    four corners (float32, 4×2: top-left, top-right, bottom-right,
    bottom-left). ``detection_confidence`` is the detector's score (0-1).
    ``text`` is the best reading in canonical form ("" when nothing legible
    was read), ``confidence`` the probability of that reading and
    ``char_confidences`` one value per character. ``candidates`` are the best
    few readings, best first (for hotlist matching). ``crop`` is the plate's
    pixels only (BGR uint8), for evidence; never the wider frame.
    """

    box: Box
    quad: npt.NDArray[np.float32]
    detection_confidence: float
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    candidates: tuple[Candidate, ...] = ()
    crop: npt.NDArray[np.uint8] = field(default_factory=lambda: np.zeros((0, 0, 3), np.uint8))

    def __repr__(self) -> str:
        return (
            f"PlateRead(box={self.box}, detection={self.detection_confidence:.3f}, "
            f"<{len(self.text)} chars>, confidence={self.confidence:.3f})"
        )


class Reader(Protocol):
    """Anything that finds and reads the plates of a frame (BGR uint8, H×W×3)."""

    def read(self, frame: npt.NDArray[np.uint8]) -> list[PlateRead]:
        """Every plate found in ``frame``; raises ``BadImage`` for a frame that is not an image."""
        ...
