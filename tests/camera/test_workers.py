"""Reading several frames at once (``Pipeline(workers=...)``): same outcome, in frame order."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
from underseal_device.camera.capture import Frame, MotionGate
from underseal_device.camera.errors import SourceLost
from underseal_device.camera.pipeline import Pipeline
from underseal_device.camera.tracking import Tracker
from underseal_device.camera.vote import PassRead
from underseal_device.errors import BadImage
from underseal_device.reads import PlateRead

from tests.camera.conftest import HOT, CameraWorld
from tests.camera.traffic import ColourReader, Vehicle, colour, render

WAIT = 20.0  # seconds a test waits on another thread before it fails


class Frames:
    """A scripted source: the given images at 10 frames/s."""

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images
        self.taken = 0
        self.closed = False

    def frames(self) -> Iterator[Frame]:
        for i, image in enumerate(self.images):
            self.taken += 1
            yield Frame(i, i / 10, image)

    def close(self) -> None:
        self.closed = True


def _blank(n: int) -> list[np.ndarray]:
    return [np.zeros((24, 32, 3), np.uint8) for _ in range(n)]


class Recorder(Tracker):
    """A tracker that records the stream time of each frame it is given, in order."""

    def __init__(self) -> None:
        super().__init__(max_gap=0.35)
        self.times: list[float] = []
        self._inside = False  # update() may call expire() itself: one frame, one record

    def update(self, reads: list[PlateRead], timestamp: float) -> list[PassRead]:
        self.times.append(timestamp)
        self._inside = True
        try:
            return super().update(reads, timestamp)
        finally:
            self._inside = False

    def expire(self, timestamp: float) -> list[PassRead]:
        if not self._inside:
            self.times.append(timestamp)
        return super().expire(timestamp)


def _pipeline(cw: CameraWorld, reader: object, workers: int, **kwargs: object) -> Pipeline:
    cw.runtime.sync()
    return cw.runtime.pipeline(reader, workers=workers, **kwargs)  # type: ignore[arg-type]


TRAFFIC = [
    Vehicle(colour(0), start=2, frames=8, lane=0, readings=((HOT, 0.93),)),
    Vehicle(colour(1), start=6, frames=9, lane=1, readings=(("5KXM209", 0.9),)),
    Vehicle(colour(2), start=20, frames=7, lane=0, readings=(("4TRW551", 0.8),)),
]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_any_number_of_workers_seals_the_same_hits_and_counts_the_same(
    camera_world: CameraWorld, workers: int
) -> None:
    images = render(TRAFFIC, 40)
    pipeline = _pipeline(
        camera_world, ColourReader(TRAFFIC), workers, tracker=Recorder(), motion=MotionGate()
    )
    source = Frames(images)
    c = pipeline.run(source)
    assert source.closed
    assert (c.frames_in, c.passes, c.hits, c.passes_unreadable) == (40, 3, 1, 0)
    assert c.frames_processed + c.frames_still == 40
    assert c.frames_still > 0  # the empty road between the vehicles
    assert camera_world.runtime.outbox.depth() == 1
    times = pipeline.tracker.times  # type: ignore[attr-defined]
    assert times == [i / 10 for i in range(40)]  # every frame, still or read, in order


def test_two_workers_read_two_frames_at_once(camera_world: CameraWorld) -> None:
    both = threading.Barrier(2, timeout=WAIT)  # broken, and the read raises, if one waits alone

    class Meeting:
        calls = 0

        def read(self, frame: np.ndarray) -> list[PlateRead]:
            Meeting.calls += 1
            both.wait()
            return []

    c = _pipeline(camera_world, Meeting(), 2).run(Frames(_blank(6)))
    assert (Meeting.calls, c.frames_processed) == (6, 6)


def test_a_frame_read_late_is_still_tracked_before_the_next(camera_world: CameraWorld) -> None:
    second_read = threading.Event()

    class Slow:
        def read(self, frame: np.ndarray) -> list[PlateRead]:
            if frame[0, 0, 0] == 1:
                assert second_read.wait(WAIT)  # frame 1 finishes only after frame 2 has
            elif frame[0, 0, 0] == 2:
                second_read.set()
            return []

    images = _blank(5)
    for i, image in enumerate(images):
        image[0, 0] = i
    pipeline = _pipeline(camera_world, Slow(), 2, tracker=Recorder())
    pipeline.run(Frames(images))
    assert second_read.is_set()
    assert pipeline.tracker.times == [0.0, 0.1, 0.2, 0.3, 0.4]  # type: ignore[attr-defined]


def test_stopping_early_finishes_every_frame_taken_in(camera_world: CameraWorld) -> None:
    stop = threading.Event()
    pipeline = _pipeline(camera_world, ColourReader(TRAFFIC), 2)
    source = Frames(render(TRAFFIC, 40))
    c = pipeline.run(source, stop=stop, on_frame=lambda counters: stop.set())
    assert source.taken < 40
    assert c.frames_in == source.taken
    assert c.frames_processed + c.frames_still + c.frames_bad == c.frames_in


@pytest.mark.parametrize("workers", [1, 2])
def test_max_frames_takes_exactly_that_many(camera_world: CameraWorld, workers: int) -> None:
    # A reader this quick has each frame done before the next is taken: stopping
    # from on_frame once frames_in reached the limit would take one more.
    pipeline = _pipeline(camera_world, ColourReader(TRAFFIC), workers)
    source = Frames(render(TRAFFIC, 40))
    c = pipeline.run(source, max_frames=5)
    assert source.taken == c.frames_in == 5
    assert c.frames_processed + c.frames_still + c.frames_bad == 5


class FailsOn:
    """A reader that finds nothing, and raises ``error`` on the frame marked ``marker``."""

    def __init__(self, marker: int, error: Exception) -> None:
        self.marker = marker
        self.error = error

    def read(self, frame: np.ndarray) -> list[PlateRead]:
        if frame[0, 0, 0] == self.marker:
            raise self.error
        return []


def _marked(n: int, at: int, marker: int) -> list[np.ndarray]:
    images = _blank(n)
    images[at][0, 0] = marker
    return images


def test_a_bad_frame_read_by_a_worker_is_counted_and_the_run_goes_on(
    camera_world: CameraWorld,
) -> None:
    reader = FailsOn(9, BadImage("not a frame"))
    c = _pipeline(camera_world, reader, 2).run(Frames(_marked(5, 2, 9)))
    assert (c.frames_in, c.frames_bad, c.frames_processed) == (5, 1, 4)


def test_a_reader_failure_ends_the_run_and_its_threads(camera_world: CameraWorld) -> None:
    source = Frames(_marked(8, 3, 3))
    with pytest.raises(RuntimeError, match="the model crashed"):
        _pipeline(camera_world, FailsOn(3, RuntimeError("the model crashed")), 2).run(source)
    assert source.closed
    assert source.taken < 8  # stopped at the failure, not after reading everything
    assert not [t for t in threading.enumerate() if t.name.startswith("underseal-read")]


def test_workers_must_be_at_least_one(camera_world: CameraWorld) -> None:
    with pytest.raises(ValueError, match="workers"):
        _pipeline(camera_world, ColourReader([]), 0)


def test_a_lost_source_ends_the_run_after_the_frames_it_gave(camera_world: CameraWorld) -> None:
    lost = threading.Event()

    class Lost(Frames):
        def frames(self) -> Iterator[Frame]:
            yield from super().frames()
            lost.set()
            raise SourceLost("the stream is gone")

    class LastReadLate(ColourReader):
        def read(self, frame: np.ndarray) -> list[PlateRead]:
            if frame[0, 0, 0] == 1:  # the last frame is still being read when the source fails
                assert lost.wait(WAIT)
            return super().read(frame)

    images = render(TRAFFIC, 12)
    images[-1][0, 0] = 1
    source = Lost(images)
    pipeline = _pipeline(camera_world, LastReadLate(TRAFFIC), 2, tracker=Recorder())
    with pytest.raises(SourceLost, match="gone"):
        pipeline.run(source)
    assert pipeline.counters.frames_processed == pipeline.counters.frames_in == 12
    assert pipeline.tracker.times == [i / 10 for i in range(12)]  # type: ignore[attr-defined]
    assert source.closed
