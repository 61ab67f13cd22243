"""Checking and normalising plate crops before they reach the recognizer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from underseal_device.errors import BadImage

__all__ = ["MAX_FILE_BYTES", "MAX_SIDE", "as_gray", "read_image", "to_input"]

#: Crops larger than this on a side are refused: a plate crop is never that big,
#: and it bounds the work an input can cause.
MAX_SIDE = 4096
#: Image files larger than this are refused before they are decoded.
MAX_FILE_BYTES = 32 << 20


def as_gray(image: object) -> npt.NDArray[np.uint8]:
    """Return a 2-D uint8 grayscale view or copy of a BGR, BGRA or gray crop.

    Raises:
        BadImage: not a numpy array, not uint8, empty, too large, or a shape
            that is not HxW, HxWx1, HxWx3 or HxWx4.
    """
    if not isinstance(image, np.ndarray):
        raise BadImage(f"image must be a numpy array, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise BadImage(f"image must be uint8, not {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise BadImage(f"image must be HxW, HxWx1, HxWx3 or HxWx4, not {image.shape}")
    # Size first: OpenCV raises its own errors on empty arrays.
    height, width = image.shape[:2]
    if height < 2 or width < 2:
        raise BadImage(f"image is too small to read ({width}x{height})")
    if height > MAX_SIDE or width > MAX_SIDE:
        raise BadImage(f"image is larger than {MAX_SIDE} px on a side")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        gray = image
    elif image.shape[2] == 3:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    else:
        gray = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return np.ascontiguousarray(gray)


def read_image(path: Path | str) -> npt.NDArray[np.uint8]:
    """Read an image file (at most 32 MiB) as BGR.

    Raises:
        BadImage: the file is missing, unreadable, too large, or not an image
            OpenCV decodes.
    """
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadImage(f"{path} is larger than {MAX_FILE_BYTES} bytes")
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as error:
        raise BadImage(f"cannot read {path}: {error.strerror or 'not readable'}") from None
    if not _png_chunks_fit(data.tobytes()):
        raise BadImage(f"{path} does not decode as an image")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise BadImage(f"{path} does not decode as an image")
    return image  # type: ignore[return-value]


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_chunks_fit(data: bytes) -> bool:
    """False for a PNG with a chunk longer than the file (found by fuzz/fuzz_images.py).

    OpenCV's PNG reader allocates a chunk's declared length before reading it:
    a 400-byte file claiming a 2.5 GB IDAT took 2.4 GB of memory.
    """
    if not data.startswith(_PNG_MAGIC):
        return True
    at = len(_PNG_MAGIC)
    while at + 8 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        at += 12 + length  # length, type, data, CRC
        if at > len(data):
            return False
    return True


def to_input(gray: npt.NDArray[np.uint8], height: int, width: int) -> npt.NDArray[np.float32]:
    """Resize a grayscale crop to the model's input and scale it to [0, 1].

    The one preprocessing step shared by inference and training, so the two
    can never drift apart.
    """
    shrinking = gray.shape[1] > width
    resized = cv2.resize(
        gray, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    return resized.astype(np.float32) * np.float32(1 / 255)
