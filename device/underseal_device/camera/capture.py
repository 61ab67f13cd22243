"""Frames from OpenCV: a video file, an RTSP/HTTP stream, a camera index or a folder of images.

Frames stay in memory: nothing here writes a frame anywhere. A file or a
folder ends cleanly; a live source (stream URL or camera index) that stops
delivering is reopened with exponential backoff, bounded in delay and in
attempts, and then raises :class:`SourceLost`. Sleep and clock are
parameters so tests can drive the reconnect without waiting.

:class:`Sampler` thins frames to a target rate (or every n-th), and
:class:`MotionGate` skips frames in which nothing moves: a 64-pixel-wide
grey copy is compared with the last frame that passed, which costs a few
microseconds, far less than running the detector on an empty road.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from underseal_device.camera.errors import SourceError, SourceLost
from underseal_device.errors import BadImage

__all__ = [
    "IMAGE_SUFFIXES",
    "Backoff",
    "FolderSource",
    "Frame",
    "FrameSource",
    "MotionGate",
    "NewestFrames",
    "Sampler",
    "VideoSource",
    "open_source",
]

IMAGE_SUFFIXES: Final = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
_STREAM_URL: Final = re.compile(r"^(rtsp|rtsps|rtmp|http|https)://", re.IGNORECASE)

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame: its number in the source, its time in seconds, and its pixels (BGR uint8)."""

    index: int
    timestamp: float
    image: Image

    def __repr__(self) -> str:
        return f"Frame(index={self.index}, t={self.timestamp:.3f}, shape={self.image.shape})"


class FrameSource(Protocol):
    """Anything that yields frames until its end (or forever, for a live camera)."""

    def frames(self) -> Iterator[Frame]:
        """The frames in order; raises :class:`SourceError` if the source cannot be read."""
        ...

    def close(self) -> None:
        """Release the device or file."""
        ...


@dataclass(slots=True)
class Backoff:
    """Exponential backoff: ``initial``, doubling up to ``maximum``, ``attempts`` times."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    attempts: int = 8

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial:
            raise ValueError("backoff needs 0 < initial <= maximum and factor >= 1")
        if self.attempts < 1:
            raise ValueError("backoff needs at least one attempt")

    def delays(self) -> Iterator[float]:
        """The successive waits, ``attempts`` of them."""
        delay = self.initial
        for _ in range(self.attempts):
            yield delay
            delay = min(delay * self.factor, self.maximum)


def _check_image(image: object) -> Image | None:
    if (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.size
    ):
        return image
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 2 and image.size:
        return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    return None


class VideoSource:
    """Frames from ``cv2.VideoCapture``: a file, a stream URL or a camera index.

    ``live`` sources (streams, cameras) are reopened when they stop; a file's
    end is the end. ``opener`` makes a fresh capture (injectable for tests);
    ``sleep`` and ``clock`` default to the real ones.
    """

    def __init__(
        self,
        opener: Callable[[], cv2.VideoCapture],
        *,
        live: bool,
        name: str,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._opener = opener
        self.live = live
        self.name = name
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self._clock = clock
        self._capture: cv2.VideoCapture | None = None
        self.reconnects = 0
        self.bad_frames = 0

    def __repr__(self) -> str:
        return f"VideoSource({self.name!r}, live={self.live})"

    def _open(self) -> cv2.VideoCapture | None:
        capture = self._opener()
        if capture.isOpened():
            return capture
        capture.release()
        return None

    def _reopen(self) -> cv2.VideoCapture:
        for delay in self.backoff.delays():
            self._sleep(delay)
            capture = self._open()
            if capture is not None:
                self.reconnects += 1
                return capture
        raise SourceLost(
            f"{self.name} stopped delivering frames and did not come back after "
            f"{self.backoff.attempts} reconnect attempts"
        )

    def frames(self) -> Iterator[Frame]:
        """Frames until the file ends (or forever, for a live source that keeps coming back).

        Raises:
            SourceError: the source does not open at all.
            SourceLost: a live source dropped and stayed down.
        """
        capture = self._open()
        if capture is None:
            if not self.live:
                raise SourceError(f"{self.name} does not open as a video (missing, or no codec)")
            capture = self._reopen()
        self._capture = capture
        index = 0
        start = self._clock()
        try:
            while True:
                ok, raw = capture.read()
                image = _check_image(raw) if ok else None
                if image is None:
                    if ok:
                        self.bad_frames += 1
                        continue
                    if not self.live:
                        if index == 0:
                            raise SourceError(f"{self.name} opened but holds no readable frame")
                        return
                    capture.release()
                    capture = self._reopen()
                    self._capture = capture
                    continue
                if self.live:
                    stamp = self._clock() - start
                else:
                    msec = capture.get(cv2.CAP_PROP_POS_MSEC)
                    fps = capture.get(cv2.CAP_PROP_FPS)
                    stamp = msec / 1000.0 if msec > 0 else index / (fps if fps > 0 else 25.0)
                yield Frame(index, stamp, image)
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class FolderSource:
    """The images of a folder, in name order, as frames ``1/fps`` seconds apart.

    A file that does not decode is skipped and counted in ``bad_frames`` (one
    bad file must not stop a camera); a folder with no image at all is an error.
    """

    def __init__(self, folder: Path, *, fps: float = 10.0) -> None:
        if fps <= 0:
            raise SourceError("folder frame rate must be positive")
        self.folder = Path(folder)
        self.fps = fps
        self.bad_frames = 0
        self.paths = sorted(
            p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not self.paths:
            kinds = ", ".join(sorted(IMAGE_SUFFIXES))
            raise SourceError(f"{self.folder} holds no image files ({kinds})")

    def __repr__(self) -> str:
        return f"FolderSource({str(self.folder)!r}, {len(self.paths)} images)"

    def frames(self) -> Iterator[Frame]:
        """Every decodable image, in name order."""
        # Imported here: the OCR package loads onnxruntime, which capture alone never needs.
        from underseal_device.ocr.images import read_image

        index = 0
        for path in self.paths:
            try:  # size caps and the PNG chunk guard (a tiny file cannot claim gigabytes)
                image = _check_image(read_image(path))
            except BadImage:
                image = None
            if image is None:
                self.bad_frames += 1
                continue
            yield Frame(index, index / self.fps, image)
            index += 1
        if index == 0:
            raise SourceError(f"no image in {self.folder} decodes")

    def close(self) -> None:
        """Nothing to release."""


class NewestFrames:
    """A live source read on a thread of its own, so the pipeline always gets its newest frame.

    A camera or a stream does not wait for its reader: OpenCV queues what it
    is sent (FFmpeg's network buffer, V4L2's ring of buffers), so a pipeline
    slower than the source falls further behind with every frame, and every
    frame's time, stamped when it is read, drifts from when it was seen
    (opencv/opencv#13145). Here a thread reads the source as fast as it
    delivers and keeps the newest frame only; the pipeline takes the newest
    whenever it is ready, and the frames it never saw are counted in
    ``dropped``. An error the source raises (:class:`SourceLost`) reaches
    the pipeline after the frame before it. Files are not wrapped: a file
    waits for its reader, and every frame of it is read.
    """

    def __init__(self, source: FrameSource, *, join_timeout: float = 5.0) -> None:
        self.source = source
        self.dropped = 0
        self._join_timeout = join_timeout
        self._ready = threading.Condition()
        self._newest: Frame | None = None
        self._error: BaseException | None = None
        self._done = False
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"NewestFrames({self.source!r})"

    def _read(self) -> None:
        try:
            for frame in self.source.frames():
                with self._ready:
                    self.dropped += self._newest is not None
                    self._newest = frame
                    self._ready.notify()
                if self._stop.is_set():
                    break  # closes the source's generator, which releases its capture
        except BaseException as error:  # handed to the pipeline's thread, raised there
            self._error = error
        finally:
            with self._ready:
                self._done = True
                self._ready.notify()

    def frames(self) -> Iterator[Frame]:
        """The newest frame each time one is asked for, until the source ends.

        Raises:
            SourceError: the source does not open at all.
            SourceLost: a live source dropped and stayed down.
        """
        self._stop.clear()
        self._newest, self._error, self._done = None, None, False
        self._reader = threading.Thread(target=self._read, name="underseal-capture", daemon=True)
        self._reader.start()
        try:
            while True:
                with self._ready:
                    self._ready.wait_for(lambda: self._newest is not None or self._done)
                    frame, self._newest = self._newest, None
                    if frame is None:
                        if self._error is not None:
                            raise self._error
                        return
                yield frame
        finally:
            self.close()

    def close(self) -> None:
        """Stop reading: the reader thread ends after the frame it is waiting for."""
        self._stop.set()
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(self._join_timeout)


def open_source(
    spec: str | int | Path,
    *,
    folder_fps: float = 10.0,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FrameSource:
    """The frame source ``spec`` names: a camera index, a stream URL, a folder or a video file.

    A camera or a stream comes wrapped in :class:`NewestFrames`: the
    pipeline gets its newest frame, and never falls behind it.

    Raises:
        SourceError: a path that does not exist, or is neither a folder nor a file.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit() and len(spec) <= 3):
        index = int(spec)
        return NewestFrames(
            VideoSource(
                lambda: cv2.VideoCapture(index),
                live=True,
                name=f"camera {index}",
                backoff=backoff,
                sleep=sleep,
            )
        )
    text = str(spec)
    if _STREAM_URL.match(text):
        # The URL may carry credentials (rtsp://user:pass@host): name the scheme and host only.
        shown = re.sub(r"//[^@/]*@", "//", text).split("?")[0]
        return NewestFrames(
            VideoSource(
                lambda: cv2.VideoCapture(text, cv2.CAP_FFMPEG),
                live=True,
                name=f"stream {shown}",
                backoff=backoff,
                sleep=sleep,
            )
        )
    path = Path(text)
    if path.is_dir():
        return FolderSource(path, fps=folder_fps)
    if path.is_file():
        return VideoSource(lambda: cv2.VideoCapture(str(path)), live=False, name=str(path))
    raise SourceError(f"{text} is not a camera index, a stream URL, a folder or a video file")


class Sampler:
    """Keeps frames at most ``fps`` per second of source time, or every ``every``-th frame."""

    def __init__(self, *, fps: float | None = None, every: int = 1) -> None:
        if fps is not None and fps <= 0:
            raise ValueError("sampling fps must be positive")
        if every < 1:
            raise ValueError("sampling interval must be at least 1")
        self.fps = fps
        self.every = every
        self._next_due = float("-inf")
        self._count = 0

    def keep(self, frame: Frame) -> bool:
        """Whether to process ``frame``."""
        self._count += 1
        if (self._count - 1) % self.every:
            return False
        if self.fps is None:
            return True
        if frame.timestamp + 1e-9 < self._next_due:
            return False
        period = 1.0 / self.fps
        # Due times stay on a grid (no drift); a frame more than half a period
        # late (a gap in the source) starts a new grid at itself.
        if frame.timestamp - self._next_due > period / 2:
            self._next_due = frame.timestamp + period
        else:
            self._next_due += period
        return True


class MotionGate:
    """Passes frames that differ from the last passed one; skips still scenes.

    The frame is shrunk to ``width`` pixels wide in grey and blurred; a pixel
    moved if it changed by more than ``threshold`` grey levels, and the frame
    passes when at least ``min_fraction`` of the pixels moved. The first frame
    passes, and so does one every ``heartbeat`` frames so slow changes
    (lighting) do not leave the reference stale.
    """

    def __init__(
        self,
        *,
        width: int = 64,
        threshold: int = 18,
        min_fraction: float = 0.002,
        heartbeat: int = 300,
    ) -> None:
        if width < 8 or not 0 < threshold < 256 or not 0 <= min_fraction <= 1 or heartbeat < 1:
            raise ValueError("motion gate: width >= 8, 0 < threshold < 256, 0 <= fraction <= 1")
        self.width = width
        self.threshold = threshold
        self.min_fraction = min_fraction
        self.heartbeat = heartbeat
        self._reference: npt.NDArray[np.uint8] | None = None
        self._since = 0

    def _small(self, image: Image) -> npt.NDArray[np.uint8]:
        h, w = image.shape[:2]
        height = max(1, round(h * self.width / w))
        small = cv2.resize(image, (self.width, height), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return np.asarray(cv2.GaussianBlur(grey, (3, 3), 0), dtype=np.uint8)

    def moved(self, frame: Frame) -> bool:
        """Whether anything moved since the last frame that passed."""
        small = self._small(frame.image)
        self._since += 1
        if (
            self._reference is None
            or self._reference.shape != small.shape
            or self._since >= self.heartbeat
        ):
            self._reference, self._since = small, 0
            return True
        changed = cv2.absdiff(small, self._reference) > self.threshold
        if float(np.count_nonzero(changed)) >= self.min_fraction * changed.size:
            self._reference, self._since = small, 0
            return True
        return False
