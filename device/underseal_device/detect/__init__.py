"""Plate detection and reading: ``read(frame) -> list[PlateRead]`` on onnxruntime and OpenCV.

:class:`Detector` finds plate boxes; :class:`PlateReader` adds the
recognizer and the plate grammar.
"""

from __future__ import annotations

from underseal_device.detect.detector import Detection, Detector
from underseal_device.detect.reader import (
    PlateReader,
    camera_reader,
    default_reader,
    read,
    shipped_reader,
)
from underseal_device.reads import PlateRead

__all__ = [
    "Detection",
    "Detector",
    "PlateRead",
    "PlateReader",
    "camera_reader",
    "default_reader",
    "read",
    "shipped_reader",
]
