"""The camera's main loop: capture → read → track and vote → match → seal → outbox.

Per frame: the sampler and the motion gate decide whether the frame is worth
reading; the reader finds and reads plates; the tracker groups the reads of
each plate and, when a plate has left the view, hands back one voted pass.
Each pass is matched against the current hotlist bundle. A hit is sealed and
put in the outbox before the loop goes on; anything else is dropped right
there: its text, tokens and crop go out of scope with the pass, and only a
total count changes.

With ``workers`` above 1, :meth:`Pipeline.process_all` reads that many frames
at once, one per core: the detector and the recognizer spend most of a frame
in onnxruntime, which lets go of the GIL, and a model on one thread uses its
core better than on two. Everything else runs on the caller's thread in
frame order, so the tracker, the votes and the hits are those of reading one
frame at a time.

One vehicle makes one hit even when its track breaks (a plate hidden for a
moment, frames skipped): a hit on a hotlist entry that already hit less than
``repeat_window`` seconds of stream time earlier is not sealed again. Only
the entries that hit, and when, are remembered, in memory, for that window.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from underseal_device.camera.capture import Frame, FrameSource, MotionGate, NewestFrames, Sampler
from underseal_device.camera.counters import Counters
from underseal_device.camera.errors import NoEpochKey, OutboxFull
from underseal_device.camera.hits import HitSealer, SealedHit
from underseal_device.camera.matching import Matcher
from underseal_device.camera.outbox import Outbox
from underseal_device.camera.tracking import Tracker
from underseal_device.camera.vote import PassRead
from underseal_device.errors import BadImage
from underseal_device.reads import PlateRead, Reader

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)


class _Verdict(enum.Enum):
    """What the sampler and the motion gate make of a frame."""

    SAMPLED_OUT = enum.auto()
    STILL = enum.auto()
    READ = enum.auto()


@dataclass(frozen=True, slots=True)
class _Pending:
    """A frame taken in and not yet settled: no pixels are kept while a skipped one waits."""

    timestamp: float
    verdict: _Verdict
    future: Future[list[PlateRead] | None] | None

    def outcome(self) -> tuple[float, _Verdict, list[PlateRead] | None]:
        """The frame's time, verdict and reads (waiting for them if they are being read)."""
        reads = None if self.future is None else self.future.result()
        return self.timestamp, self.verdict, reads


class Pipeline:
    """Runs frames through a :class:`Reader` to sealed hits in the outbox.

    ``reader`` is any reader (the real one comes from
    :func:`underseal_device.camera.readers.default_reader`). ``clock`` gives
    the wall-clock time stamped on evidence and used to pick the bundle.
    ``workers``: frames :meth:`process_all` reads at once; above 1, the
    reader is called from that many threads at once, which the shipped one
    allows (onnxruntime sessions run concurrently, and it keeps nothing
    between frames).
    """

    def __init__(
        self,
        reader: Reader,
        *,
        matcher: Matcher,
        sealer: HitSealer,
        outbox: Outbox,
        tracker: Tracker | None = None,
        sampler: Sampler | None = None,
        motion: MotionGate | None = None,
        counters: Counters | None = None,
        clock: Callable[[], float] = time.time,
        repeat_window: float = 30.0,
        workers: int = 1,
    ) -> None:
        if repeat_window < 0:
            raise ValueError("repeat_window must not be negative")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.repeat_window = repeat_window
        self._recent_hits: dict[bytes, float] = {}  # hotlist entry ref -> stream time
        self.reader = reader
        self.matcher = matcher
        self.sealer = sealer
        self.outbox = outbox
        self.tracker = tracker or Tracker()
        self.sampler = sampler or Sampler()
        self.motion = motion
        self.counters = counters or Counters()
        self._clock = clock

    def __repr__(self) -> str:
        return f"Pipeline({self.matcher!r}, {self.tracker!r})"

    def process(self, frame: Frame) -> list[SealedHit]:
        """Run one frame; return the hits sealed and queued because a pass ended."""
        verdict = self._admit(frame)
        reads = self._read(frame) if verdict is _Verdict.READ else None
        return self._settle(frame.timestamp, verdict, reads)

    def process_all(self, frames: Iterable[Frame]) -> Generator[list[SealedHit], None, None]:
        """Run ``frames`` in order, yielding each frame's hits once it is done.

        Up to :attr:`workers` frames are read at once; the next frame is
        taken from ``frames`` only when a reader is free, so a live source
        (:class:`NewestFrames`) gives the newest frame then. A frame is done
        once every frame before it is. If the caller stops early (closes
        this generator), the frames already taken are finished without
        yielding: none is counted in and then lost. If the source fails, the
        frames it gave are finished before its error is raised.
        """
        if self.workers == 1:
            for frame in frames:
                yield self.process(frame)
            return
        pending: deque[_Pending] = deque()
        source = iter(frames)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="underseal-read") as pool:
            try:
                while True:
                    try:
                        frame = next(source)
                    except StopIteration:
                        break
                    except Exception:
                        # The source failed (a stream lost for good): the frames it gave
                        # are finished first, as one at a time they would have been.
                        while pending:
                            yield self._settle(*pending.popleft().outcome())
                        raise
                    verdict = self._admit(frame)
                    future = pool.submit(self._read, frame) if verdict is _Verdict.READ else None
                    pending.append(_Pending(frame.timestamp, verdict, future))
                    while pending and self._ready(pending):
                        yield self._settle(*pending.popleft().outcome())
                while pending:
                    yield self._settle(*pending.popleft().outcome())
            except GeneratorExit:
                while pending:
                    self._settle(*pending.popleft().outcome())
                raise

    def _ready(self, pending: deque[_Pending]) -> bool:
        """Whether the oldest pending frame is to be settled now (waiting for it if it must)."""
        future = pending[0].future
        if future is None or future.done():
            return True
        return sum(p.future is not None for p in pending) >= self.workers

    def _admit(self, frame: Frame) -> _Verdict:
        """Count ``frame`` in and ask the sampler and the motion gate whether to read it."""
        c = self.counters
        c.frames_in += 1
        if not self.sampler.keep(frame):
            c.frames_sampled_out += 1
            return _Verdict.SAMPLED_OUT
        if self.motion is not None and not self.motion.moved(frame):
            c.frames_still += 1
            return _Verdict.STILL
        return _Verdict.READ

    def _read(self, frame: Frame) -> list[PlateRead] | None:
        """The reads of ``frame``, or None for a frame that is not an image."""
        try:
            return self.reader.read(frame.image)
        except BadImage:
            return None

    def _settle(
        self, timestamp: float, verdict: _Verdict, reads: list[PlateRead] | None
    ) -> list[SealedHit]:
        """Hand a frame's reads (or its absence) to the tracker; seal what ended there."""
        if verdict is _Verdict.SAMPLED_OUT:
            return []
        if verdict is _Verdict.STILL:
            return self._conclude(self.tracker.expire(timestamp))
        c = self.counters
        if reads is None:
            c.frames_bad += 1
            return []
        now = self._clock()
        c.frame_processed(now)
        c.reads += len(reads)
        c.hour(now).reads += len(reads)
        return self._conclude(self.tracker.update(reads, timestamp))

    def finish(self) -> list[SealedHit]:
        """End every open track (end of stream or shutdown) and queue their hits."""
        return self._conclude(self.tracker.flush())

    def _conclude(self, passes: list[PassRead]) -> list[SealedHit]:
        hits: list[SealedHit] = []
        for passed in passes:
            hit = self._one(passed)
            if hit is not None:
                hits.append(hit)
        return hits

    def _one(self, passed: PassRead) -> SealedHit | None:
        c = self.counters
        now = self._clock()
        c.passes += 1
        c.hour(now).passes += 1
        if not passed.readings:
            c.passes_unreadable += 1
            return None
        observed_at = int(now)
        if self.matcher.store.bundle_for(observed_at) is None:
            c.passes_unchecked += 1  # no valid bundle: fail closed, match nothing
            return None
        found = self.matcher.match(passed, now=observed_at)
        if found is None:
            return None  # a non-hit: forgotten here
        if self._repeated(found.match.ref, passed):
            c.hits_repeated += 1
            return None
        try:
            sealed = self.sealer.seal(passed, found, observed_at=observed_at)
        except NoEpochKey:
            c.hits_unsealed += 1
            log.warning("a hit could not be sealed: no endorsed epoch key for its epoch")
            return None
        try:
            self.outbox.put(sealed)
        except OutboxFull:
            c.hits_lost += 1
            log.error("a hit was lost: the disk is full and the memory for waiting hits is used up")
            return None
        c.hits += 1
        c.hour(now).hits += 1
        log.info("hit sealed and queued (record %s)", sealed.record_id.hex())
        return sealed

    def _repeated(self, ref: bytes, passed: PassRead) -> bool:
        """Whether this entry hit within the window before ``passed`` (and remember this one)."""
        horizon = passed.first_seen - self.repeat_window
        self._recent_hits = {r: t for r, t in self._recent_hits.items() if t >= horizon}
        repeated = ref in self._recent_hits
        self._recent_hits[ref] = max(passed.last_seen, self._recent_hits.get(ref, passed.last_seen))
        return repeated

    def _note_source(self, source: FrameSource) -> None:
        """Count the frames a live source sent while this pipeline was busy (never seen)."""
        if isinstance(source, NewestFrames):
            self.counters.frames_dropped = source.dropped

    def run(
        self,
        source: FrameSource,
        *,
        stop: threading.Event | None = None,
        on_frame: Callable[[Counters], None] | None = None,
        max_frames: int | None = None,
    ) -> Counters:
        """Process ``source`` to its end (or until ``stop`` is set), then flush open tracks.

        ``max_frames``: take no more than this many frames from ``source``. The
        limit is on the frames taken, not on those finished: with frames read
        in parallel, a frame may be taken before the one before it is done, so
        stopping from ``on_frame`` could take one too many.
        """
        frames = source.frames() if max_frames is None else islice(source.frames(), max_frames)
        steps = self.process_all(frames)
        try:
            for _ in steps:
                self._note_source(source)
                if on_frame is not None:
                    on_frame(self.counters)
                if stop is not None and stop.is_set():
                    break
        finally:
            steps.close()  # the frames taken in are finished before the tracks are
            self.finish()
            source.close()
        return self.counters
