"""Capture through OpenCV: files, folders, clean ends, bad input, sampling, motion, reconnects."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from underseal_device.camera.capture import (
    Backoff,
    FolderSource,
    Frame,
    MotionGate,
    NewestFrames,
    Sampler,
    VideoSource,
    open_source,
)
from underseal_device.camera.errors import SourceError, SourceLost

from tests.camera.traffic import Vehicle, colour, render, write_folder, write_video

MOVING = [Vehicle(colour(0), start=3, frames=6, lane=0, readings=(("X", 1.0),))]


def test_a_video_file_yields_every_frame_then_ends_cleanly(tmp_path: Path) -> None:
    path = write_video(tmp_path / "road.avi", render(MOVING, 12))
    source = open_source(str(path))
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(12))
    assert frames[0].image.shape == (180, 320, 3)
    assert frames[0].image.dtype == np.uint8
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps)
    assert stamps[-1] == pytest.approx(1.1, abs=0.05)  # 10 fps


def test_a_folder_yields_its_images_in_name_order_and_skips_a_bad_one(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "f", render(MOVING, 5))
    (folder / "frame-00002.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("ignored")
    source = open_source(folder)
    assert isinstance(source, FolderSource)
    frames = list(source.frames())
    assert len(frames) == 4
    assert source.bad_frames == 1
    assert frames[1].timestamp == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: str(p / "missing.mp4"), "not a camera index, a stream URL, a folder"),
        (lambda p: (p / "empty").mkdir() or str(p / "empty"), "holds no image files"),
        (lambda p: (p / "junk.avi").write_bytes(b"\x00" * 64) and str(p / "junk.avi"), "video"),
    ],
    ids=["missing", "empty-folder", "not-a-video"],
)
def test_unreadable_input_is_a_clear_error(tmp_path: Path, make: object, message: str) -> None:
    spec = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(SourceError, match=message):
        list(open_source(spec).frames())


def test_a_folder_whose_images_all_fail_to_decode_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"junk")
    with pytest.raises(SourceError, match="no image"):
        list(FolderSource(tmp_path).frames())


def test_stream_credentials_never_appear_in_the_source_name() -> None:
    source = open_source("rtsp://admin:hunter2@10.0.0.5:554/live?token=abc")
    assert "hunter2" not in repr(source)
    assert "token" not in repr(source)


def test_a_live_stream_that_drops_is_reopened_with_exponential_backoff(tmp_path: Path) -> None:
    first = write_video(tmp_path / "a.avi", render(MOVING, 4))
    second = write_video(tmp_path / "b.avi", render(MOVING, 3, seed=2))
    # The stream: a.avi plays, then the server is gone for two tries, then b.avi, then gone.
    script = iter([first, tmp_path / "gone", tmp_path / "gone", second])
    sleeps: list[float] = []

    def opener() -> cv2.VideoCapture:
        return cv2.VideoCapture(str(next(script, tmp_path / "gone")))

    source = VideoSource(
        opener,
        live=True,
        name="stream test",
        backoff=Backoff(initial=0.5, factor=2, maximum=3, attempts=4),
        sleep=sleeps.append,
        clock=iter(float(i) for i in range(1000)).__next__,
    )
    frames: list[Frame] = []
    with pytest.raises(SourceLost, match="did not come back after 4 reconnect attempts"):
        frames.extend(source.frames())
    assert len(frames) == 7  # every frame of both, in order
    assert [f.index for f in frames] == list(range(7))
    # Reconnect 1: two failures then success (0.5, 1, 2); reconnect 2: never (0.5, 1, 2, 3).
    assert sleeps == [0.5, 1.0, 2.0, 0.5, 1.0, 2.0, 3.0]
    assert source.reconnects == 1


def test_sampling_by_rate_and_by_interval() -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    frames = [Frame(i, i / 30, image) for i in range(60)]  # 2 s at 30 fps
    by_rate = Sampler(fps=5)
    assert sum(by_rate.keep(f) for f in frames) == 10
    every = Sampler(every=4)
    assert [f.index for f in frames if every.keep(f)] == list(range(0, 60, 4))
    with pytest.raises(ValueError, match="positive"):
        Sampler(fps=0)


def test_motion_gate_skips_a_still_road_and_passes_a_moving_plate() -> None:
    frames = render(MOVING, 12)
    gate = MotionGate()
    passed = [i for i, image in enumerate(frames) if gate.moved(Frame(i, i / 10, image))]
    # The first frame, then the frames in which the plate moves (3..8) and the one it leaves.
    assert passed[0] == 0
    assert set(range(3, 10)) <= set(passed)
    assert not set(passed) & {1, 2, 10, 11}


def test_a_png_bomb_in_a_folder_is_a_bad_frame_not_gigabytes(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "f", render(MOVING, 3))
    good = (folder / "frame-00001.png").read_bytes()
    at = good.index(b"IDAT") - 4  # the chunk claims 2.5 GB (found by fuzz/fuzz_images.py)
    (folder / "frame-00001.png").write_bytes(
        good[:at] + (2_516_582_896).to_bytes(4, "big") + good[at + 4 :]
    )
    source = FolderSource(folder, fps=10)
    assert len(list(source.frames())) == 2
    assert source.bad_frames == 1


class _Live:
    """A live source driven step by step: ``script`` items are frame numbers, events to wait
    for (the consumer's go-ahead) or events to set (to say what was sent); an exception
    ends it."""

    def __init__(self, *script: int | threading.Event | tuple[str, threading.Event]) -> None:
        self.script = script
        self.closed = threading.Event()

    def frames(self) -> Iterator[Frame]:
        image = np.zeros((4, 4, 3), np.uint8)
        try:
            for step in self.script:
                if isinstance(step, threading.Event):
                    assert step.wait(10), "the consumer never went on"
                elif isinstance(step, tuple):
                    step[1].set()
                else:
                    yield Frame(step, step / 30, image)
        finally:
            self.closed.set()  # the capture is released in the reader's thread

    def close(self) -> None:
        pass


def test_a_slow_pipeline_gets_the_newest_frame_of_a_live_source() -> None:
    # Frames 1-3 arrive while the pipeline is busy with frame 0: it gets 3, never 1 or 2.
    busy_done, sent = threading.Event(), threading.Event()
    source = NewestFrames(_Live(0, busy_done, 1, 2, 3, ("sent", sent)))
    frames = source.frames()
    assert next(frames).index == 0
    busy_done.set()
    assert sent.wait(10)
    assert [f.index for f in frames] == [3]
    assert source.dropped == 2


def test_a_fast_pipeline_sees_every_frame_of_a_live_source() -> None:
    steps: list[int | threading.Event | tuple[str, threading.Event]] = []
    taken = [threading.Event() for _ in range(5)]
    for i, event in enumerate(taken):
        steps += [i, event]  # the source waits until the pipeline took each frame
    source = NewestFrames(_Live(*steps))
    seen = []
    for frame, event in zip(source.frames(), taken, strict=False):
        seen.append(frame.index)
        event.set()
    assert seen == [0, 1, 2, 3, 4]
    assert source.dropped == 0


def test_a_live_source_that_is_lost_raises_in_the_pipeline_after_its_last_frame() -> None:
    class Lost(_Live):
        def frames(self) -> Iterator[Frame]:
            yield from super().frames()
            raise SourceLost("stream test stopped delivering frames")

    source = NewestFrames(Lost(0))
    frames = source.frames()
    assert next(frames).index == 0
    with pytest.raises(SourceLost, match="stopped delivering"):
        next(frames)


def test_closing_stops_the_reader_and_releases_the_source() -> None:
    # A stream that holds the reader after two frames, sends a third, then would hold it
    # for good: the reader must stop at the third, not wait on.
    held, forever = threading.Event(), threading.Event()
    live = _Live(0, 1, held, 2, forever)
    source = NewestFrames(live, join_timeout=0.2)
    frames = source.frames()
    next(frames)
    source.close()  # the pipeline stops (run() and the CLI close their source at the end)
    held.set()
    assert live.closed.wait(5), "the reader did not stop after the frame it waited for"
    assert source._reader is not None
    source._reader.join(5)
    assert not source._reader.is_alive()
    forever.set()


def test_cameras_and_streams_are_read_for_their_newest_frame_and_files_in_full(
    tmp_path: Path,
) -> None:
    assert isinstance(open_source("rtsp://10.0.0.5/live"), NewestFrames)
    assert isinstance(open_source(0), NewestFrames)
    path = write_video(tmp_path / "road.avi", render(MOVING, 3))
    assert isinstance(open_source(str(path)), VideoSource)
