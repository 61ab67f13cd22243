"""Plate OCR: ``recognize(crops) -> list[PlateText]`` on onnxruntime and OpenCV.

``Recognizer.candidates`` gives the best few readings of each crop, for
matching against a hotlist.
"""

from __future__ import annotations

from collections.abc import Sequence

from underseal_device.ocr.recognizer import Candidate, PlateText, Recognizer, default_recognizer

__all__ = ["Candidate", "PlateText", "Recognizer", "recognize"]


def recognize(crops: Sequence[object]) -> list[PlateText]:
    """Read plate crops with the shipped model (see :class:`Recognizer`)."""
    return default_recognizer().recognize(crops)
