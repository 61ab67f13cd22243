"""Image input on the camera: encoded bytes decoded, and arrays checked before the models.

The input's first bytes choose a dtype, a shape and (when the shape holds
them) the pixels; the rest is also decoded as an image file. Each path must
end in a usable image or ``BadImage``: the recognizer's check (``as_gray``),
the detector's frame check (``check_frame``), capture's frame check (a frame
that is not an image is ``None``, the source's signal to skip it), and file
decoding (``read_image``).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import cv2
import numpy as np
from underseal_device.camera.capture import _check_image
from underseal_device.detect.detector import check_frame
from underseal_device.errors import BadImage
from underseal_device.ocr.images import as_gray, read_image

from fuzz.harness import Target, run

DTYPES = [np.uint8, np.uint16, np.float32, np.int8, np.bool_, np.object_]
FILE = Path(tempfile.mkdtemp(prefix="fuzz-images-")) / "input"


def seeds() -> list[bytes]:
    out = []
    picture = (np.arange(48 * 96 * 3) % 251).astype(np.uint8).reshape(48, 96, 3)
    for extension in (".png", ".jpg", ".bmp"):
        ok, encoded = cv2.imencode(extension, picture)
        assert ok
        out.append(bytes([0, 3, 48, 96, 3]) + encoded.tobytes())
    out.append(bytes([0, 2, 20, 60, 0]) + bytes(1200))
    out.append(bytes([1, 3, 8, 8, 4]) + bytes(512))
    return out


def _array(data: bytes) -> object:
    dtype = DTYPES[data[0] % len(DTYPES)]
    ndim = data[1] % 5
    shape = tuple(data[2 : 2 + ndim])
    pixels = data[5:]
    if dtype is np.object_:
        return np.array([pixels], dtype=object)
    size = int(np.prod(shape)) if shape else 1
    if size > 1 << 20:
        return None  # the harness's own allocation, not the camera's: keep it small
    itemsize = np.dtype(dtype).itemsize
    raw = (pixels * (size * itemsize // max(len(pixels), 1) + 1))[: size * itemsize]
    if len(raw) < size * itemsize:
        raw = bytes(size * itemsize)
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def check(data: bytes) -> None:
    if len(data) < 5:
        return
    array = _array(data)
    for step in (as_gray, check_frame):
        with contextlib.suppress(BadImage):
            step(array)
    _check_image(array)
    FILE.write_bytes(data[5:])
    image = read_image(FILE)
    as_gray(image)
    check_frame(image)


TARGET = Target("images", check, seeds, (BadImage,))

if __name__ == "__main__":
    run(TARGET)
