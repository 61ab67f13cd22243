"""Plate OCR: ``recognize(crops) -> list[PlateText]`` on onnxruntime and OpenCV."""

from __future__ import annotations

from collections.abc import Sequence

from underseal_device.ocr.recognizer import PlateText, Recognizer, default_recognizer

__all__ = ["PlateText", "Recognizer", "recognize"]


def recognize(crops: Sequence[object]) -> list[PlateText]:
    """Read plate crops with the shipped model (see :class:`Recognizer`)."""
    return default_recognizer().recognize(crops)
