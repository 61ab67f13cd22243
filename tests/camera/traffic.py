"""Synthetic traffic for the camera tests, and a deterministic reader of it.

Each vehicle's "plate" is a rectangle of a colour that belongs to it alone,
moving across a still, textured road. :class:`ColourReader` is a real
detector of those rectangles (it finds each colour's pixels in the frame and
bounds them) that answers, for each one, the readings the test scripted for
that vehicle: a stand-in for the detector + OCR, which is not built yet.
Frames are PNG (lossless), so colours survive the round trip exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from underseal_device.ocr.recognizer import Candidate
from underseal_device.reads import PlateRead

Image = npt.NDArray[np.uint8]
WIDTH, HEIGHT = 320, 180
PLATE_W, PLATE_H = 24, 12


@dataclass(frozen=True)
class Vehicle:
    """One pass: the frames it is in view, its lane and the readings its plate gives."""

    colour: tuple[int, int, int]
    start: int
    frames: int
    lane: int
    readings: tuple[tuple[str, float], ...]
    per_frame: tuple[tuple[tuple[str, float], ...], ...] = field(default=())


def background(seed: int = 1) -> Image:
    rng = np.random.default_rng(seed)
    image = rng.integers(60, 90, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    return np.asarray(image, dtype=np.uint8)


def box_of(vehicle: Vehicle, frame: int) -> tuple[int, int, int, int] | None:
    step = frame - vehicle.start
    if not 0 <= step < vehicle.frames:
        return None
    x0 = 10 + step * (WIDTH - 20 - PLATE_W) // max(vehicle.frames - 1, 1)
    y0 = 30 + vehicle.lane * 50
    return (x0, y0, x0 + PLATE_W, y0 + PLATE_H)


def render(vehicles: list[Vehicle], total: int, seed: int = 1) -> list[Image]:
    base = background(seed)
    frames = []
    for index in range(total):
        image = base.copy()
        for vehicle in vehicles:
            box = box_of(vehicle, index)
            if box is not None:
                x0, y0, x1, y1 = box
                image[y0:y1, x0:x1] = vehicle.colour
        frames.append(image)
    return frames


def write_folder(folder: Path, frames: list[Image]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(frames):
        assert cv2.imwrite(str(folder / f"frame-{index:05d}.png"), image)
    return folder


def write_video(path: Path, frames: list[Image], fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for image in frames:
        writer.write(image)
    writer.release()
    return path


class ColourReader:
    """Finds each known colour's rectangle and answers the scripted readings for it."""

    def __init__(self, vehicles: list[Vehicle]) -> None:
        self.vehicles = vehicles
        self.calls = 0
        self._seen: dict[tuple[int, int, int], int] = {}

    def read(self, frame: Image) -> list[PlateRead]:
        self.calls += 1
        reads = []
        for vehicle in self.vehicles:
            mask = np.all(frame == np.array(vehicle.colour, dtype=np.uint8), axis=2)
            ys, xs = np.nonzero(mask)
            if len(xs) < 20:
                continue
            x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
            n = self._seen.get(vehicle.colour, 0)
            self._seen[vehicle.colour] = n + 1
            readings = (
                vehicle.per_frame[n % len(vehicle.per_frame)]
                if vehicle.per_frame
                else vehicle.readings
            )
            text, p = readings[0]
            reads.append(
                PlateRead(
                    box=(x0, y0, x1, y1),
                    quad=np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32),
                    detection_confidence=0.9,
                    text=text,
                    confidence=p,
                    char_confidences=tuple([p] * len(text)),
                    candidates=tuple(Candidate(t, q) for t, q in readings),
                    crop=frame[y0:y1, x0:x1].copy(),
                )
            )
        return reads


def colour(i: int) -> tuple[int, int, int]:
    """A colour far from the road's greys and from every other vehicle's."""
    return (255 - 23 * i, 20 + 37 * i, 250)
