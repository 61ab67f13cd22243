"""One camera assembled from its state directory: keys, pinned trust, epoch keys, hotlist, outbox.

:meth:`CameraRuntime.sync` talks to the records server: it fetches the
configuration, checks the authority and custodian keys against the pinned
ones (pinning them on first contact), stores the endorsed epoch keys and the
dispatchers' keys, and fetches the hotlist bundles for today and tomorrow.
:meth:`CameraRuntime.pipeline` builds the frame pipeline around a reader.
:meth:`CameraRuntime.deliver` sends the outbox and
:meth:`CameraRuntime.report_stats` the hourly aggregate counts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2 as httpx
from nacl.public import PublicKey

from underseal.encoding import b64d, b64e
from underseal.epochs import epoch_of
from underseal.errors import Malformed
from underseal_device.camera.capture import MotionGate, Sampler
from underseal_device.camera.counters import Counters, HourReport
from underseal_device.camera.epoch_keys import EpochKeys
from underseal_device.camera.errors import BundleRefused, NotEnrolled, StateError, UplinkError
from underseal_device.camera.hits import HitSealer
from underseal_device.camera.hotlist import HotlistStore
from underseal_device.camera.matching import Matcher
from underseal_device.camera.outbox import Outbox
from underseal_device.camera.pipeline import Pipeline
from underseal_device.camera.state import StateDir
from underseal_device.camera.tracking import Tracker
from underseal_device.camera.trust import TrustRoots, load_trust, pin_trust
from underseal_device.camera.uplink import DeliveryReport, StatsReport, Uplink
from underseal_device.reads import Reader

__all__ = ["CameraRuntime", "Health", "SyncReport"]

log = logging.getLogger(__name__)

_DISPATCHERS = "dispatchers.json"
_STATUS = "status.json"


@dataclass(frozen=True, slots=True)
class Health:
    """Whether the camera can match and seal right now; ``reason`` says why not."""

    ok: bool
    reason: str


@dataclass(slots=True)
class SyncReport:
    """What one sync with the server did."""

    epochs: list[int] = field(default_factory=list)
    bundles: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


class CameraRuntime:
    """A camera's long-lived parts, loaded from ``state``.

    Raises (on construction):
        NotEnrolled: the state directory holds no keys.
        StateError: a state file is unreadable or has bad permissions.
    """

    def __init__(
        self,
        state: StateDir,
        *,
        client: httpx.Client,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        min_threshold: int = 2,
    ) -> None:
        self.state = state
        self.settings = state.settings()
        self._keys = state.keys()
        self._clock = clock
        self.min_threshold = min_threshold
        self.uplink = Uplink(
            client,
            camera_id=self.settings.camera_id,
            signing_key=self._keys.signing,
            clock=clock,
            sleep=sleep,
        )
        cap = self.settings.outbox_max_mb
        self.outbox = Outbox(
            state.outbox_path, clock=clock, max_bytes=None if cap is None else cap * 1_000_000
        )
        self.trust: TrustRoots | None = load_trust(state)
        self.epoch_keys: EpochKeys | None = None
        self.hotlist: HotlistStore | None = None
        self.dispatchers = self._load_dispatchers()
        # Stats: the hours last published by write_status (a copy, so the delivery
        # thread never reads counters the frame loop is changing) and what the server took.
        self._published_hours: list[HourReport] = []
        self._stats_acked: dict[int, HourReport] = {}
        self._stats_lock = threading.Lock()
        if self.trust is not None:
            self._with_trust(self.trust)

    def __repr__(self) -> str:
        return f"CameraRuntime(camera={self.settings.camera_id!r}, state={self.state!r})"

    def close(self) -> None:
        self.outbox.flush()
        if self.outbox.in_memory:  # the disk is still full: they were never on it
            log.error(
                "%d hits waiting in memory for room on disk are lost as the camera stops",
                self.outbox.in_memory,
            )
        self.outbox.close()

    def _with_trust(self, trust: TrustRoots) -> None:
        self.trust = trust
        self.epoch_keys = EpochKeys(self.state, trust, min_threshold=self.min_threshold)
        if self.hotlist is None:
            self.hotlist = HotlistStore(
                self.state,
                camera_id=self.settings.camera_id,
                box_key=self._keys.box,
                authority=trust.authority,
            )

    def _load_dispatchers(self) -> dict[str, PublicKey]:
        data = self.state.read_json(_DISPATCHERS) or {}
        try:
            return {k: PublicKey(b64d(v, size=32, field="dispatcher key")) for k, v in data.items()}
        except (Malformed, AttributeError):
            raise StateError(f"{self.state.root / _DISPATCHERS} is malformed") from None

    # --- talking to the server -----------------------------------------------------------

    def sync(self, *, days_ahead: int = 1) -> SyncReport:
        """Fetch configuration and bundles (today's always, coming days' when missing).

        A refused bundle is reported, not raised: the camera keeps what it
        has and its health says why it is not ok.

        Raises:
            UplinkError: the server is unreachable or refused the request.
            TrustError: the server's keys differ from the pinned ones, or an
                epoch certificate is not endorsed by them.
        """
        report = SyncReport()
        config = self.uplink.fetch_config()
        trust = pin_trust(self.state, config.offered_trust)
        self._with_trust(trust)
        assert self.epoch_keys is not None
        assert self.hotlist is not None
        now = int(self._clock())
        today = epoch_of(now)
        report.epochs = self.epoch_keys.install(list(config.certificates), today=today)
        self.dispatchers = dict(config.dispatchers)
        self.state.write_json(
            _DISPATCHERS, {k: b64e(bytes(v)) for k, v in sorted(self.dispatchers.items())}
        )
        for epoch in range(today, today + days_ahead + 1):
            if epoch != today and self.hotlist.has_bundle(epoch):
                continue
            if self.epoch_keys.get(epoch) is None:
                continue  # no ceremony yet for that day: the server has no bundle either
            try:
                sealed = self.uplink.fetch_bundle(epoch)
                self.hotlist.install(sealed, epoch=epoch, now=now)
                report.bundles.append(epoch)
            except BundleRefused as refused:
                log.warning("hotlist bundle for epoch %d refused (%s)", epoch, refused.reason)
                report.refused.append(refused.reason)
            except UplinkError as error:
                if epoch == today:
                    raise
                log.info("no bundle yet for epoch %d (%s)", epoch, error.error_code)
        return report

    def deliver(self, *, retry: bool = True) -> DeliveryReport:
        """Send the outbox to the server (see :meth:`Uplink.deliver`)."""
        return self.uplink.deliver(self.outbox, retry=retry)

    def report_stats(self, counters: Counters | None = None, *, retry: bool = True) -> StatsReport:
        """Send the hourly aggregate counts the server has not acknowledged yet.

        ``counters``: take the hours from them now (a single-threaded caller);
        ``None``: the hours :meth:`write_status` last published (the ``run``
        loop's delivery thread). Hours only, never a read (see
        :class:`HourReport`). Hours the server acknowledged are sent again
        only once their counts change; after a restart every kept hour is sent
        once more, which the server takes as a repeat.
        """
        if counters is not None:
            self._published_hours = counters.hour_reports()
        with self._stats_lock:
            hours = self._published_hours
            report = self.uplink.send_stats(hours, self._stats_acked, retry=retry)
            kept = {h.hour for h in hours}
            for hour in [h for h in self._stats_acked if h not in kept]:
                del self._stats_acked[hour]
        return report

    # --- health and the pipeline -----------------------------------------------------------

    def health(self) -> Health:
        """Ok only with pinned trust, a valid bundle and an endorsed epoch key for now."""
        now = int(self._clock())
        if self.hotlist is None or self.epoch_keys is None:
            return Health(False, "never_synced")
        bundle = self.hotlist.health(now)
        if not bundle.ok:
            return Health(False, f"bundle_{bundle.reason}")
        if self.epoch_keys.get(epoch_of(now)) is None:
            return Health(False, "no_epoch_key")
        if not self.dispatchers:
            return Health(True, "ok_no_dispatcher")
        return Health(True, "ok")

    def pipeline(
        self,
        reader: Reader,
        *,
        k: int = 3,
        min_probability: float = 0.2,
        tracker: Tracker | None = None,
        sampler: Sampler | None = None,
        motion: MotionGate | None = None,
        counters: Counters | None = None,
        workers: int = 1,
    ) -> Pipeline:
        """The frame pipeline for this camera around ``reader``, reading ``workers`` frames at once.

        Raises:
            NotEnrolled: the camera never synced, so it trusts no authority
                and holds no bundle (run with a reachable server once).
        """
        if self.hotlist is None or self.epoch_keys is None:
            raise NotEnrolled("the camera has never fetched its configuration from the server")
        if counters is None:
            counters = self.load_counters()
        return Pipeline(
            reader,
            matcher=Matcher(self.hotlist, k=k, min_probability=min_probability),
            sealer=HitSealer(
                settings=self.settings,
                keys=self._keys,
                epoch_keys=self.epoch_keys,
                dispatchers=self.dispatchers,
            ),
            outbox=self.outbox,
            tracker=tracker,
            sampler=sampler,
            motion=motion,
            counters=counters,
            clock=self._clock,
            workers=workers,
        )

    def load_counters(self) -> Counters:
        """Fresh counters that go on with the hours ``status.json`` kept from the last run."""
        counters = Counters()
        try:
            stored = self.state.read_json(_STATUS) or {}
        except StateError:
            stored = {}
        if isinstance(stored, dict):
            counters.restore_hours(stored.get("hours"), self._clock())
        return counters

    def write_status(self, counters: Counters) -> None:
        """Observe health, write counters and outbox depth to ``status.json``, publish the hours.

        Call it from the thread that runs the pipeline: it reads the counters
        and hands :meth:`report_stats` a copy of the hours.
        """
        now = self._clock()
        health = self.health()
        counters.healthy, counters.health_reason = health.ok, health.reason
        counters.observe_health(now, health.ok)
        self.outbox.flush()  # hits that waited in memory go to disk once there is room
        counters.outbox_depth = self.outbox.depth()
        counters.outbox_in_memory = self.outbox.in_memory
        snapshot = counters.snapshot()
        snapshot["written_at"] = int(now)
        self._published_hours = counters.hour_reports()
        try:
            self.state.write_json(_STATUS, snapshot)
        except StateError as error:  # a full disk must not stop the camera
            log.warning("status.json not written (%s)", error)
