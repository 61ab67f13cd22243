"""Faults at the camera: a bundle cut off in transit, a camera clock off, a full disk.

Each ends with a clear report or error, nothing matched or lost, and recovery
without a person once the fault is gone.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest
from underseal_device.camera.counters import Counters
from underseal_device.camera.errors import StateError, UplinkError
from underseal_device.camera.hits import SealedHit
from underseal_device.camera.outbox import Outbox
from underseal_device.camera.runtime import CameraRuntime
from underseal_device.camera.state import StateDir

from tests.camera.conftest import HOT, CameraWorld, WireTap, enrol_camera
from tests.camera.test_uplink import queue_hits, stored_ids
from tests.server.deployment import Deployment


def test_a_bundle_cut_off_in_transit_is_refused_then_fetched_whole(
    camera_world: CameraWorld,
) -> None:
    cw = camera_world

    def cut(path: str, body: bytes) -> bytes:
        return body[: len(body) // 2] if path == "/v1/camera/bundle" else body

    cw.tap.rewrite = cut  # the connection drops half way through each bundle
    report = cw.runtime.sync()
    assert report.bundles == []
    assert report.refused  # named, not raised: the camera reports why it is unhealthy
    health = cw.runtime.health()
    assert not health.ok
    assert health.reason.startswith("bundle_")
    assert not cw.state.root.joinpath("bundles").exists() or not any(
        p.suffix == ".bundle" for p in cw.state.root.joinpath("bundles").iterdir()
    )  # nothing half-written was kept
    cw.tap.rewrite = None  # the network is back
    report = cw.runtime.sync()
    assert report.bundles
    assert cw.runtime.health().ok


@pytest.mark.parametrize(
    ("skew", "code"),
    [(+900.0, "not_yet_valid"), (-900.0, "expired")],
    ids=["camera-ahead", "camera-behind"],
)
def test_a_camera_clock_off_by_minutes_is_refused_clearly_and_loses_no_hit(
    camera_world: CameraWorld, skew: float, code: str
) -> None:
    cw = camera_world
    cw.runtime.sync()
    ids = queue_hits(cw, 2)
    cw.runtime.close()
    skewed = CameraRuntime(
        cw.state,
        client=cw.client(),
        clock=lambda: cw.world.clock() + skew,
        sleep=cw.sleeps.append,
    )
    try:
        with pytest.raises(UplinkError) as refused:
            skewed.sync()
        # The server's specific code, and a message that names the cause.
        assert (refused.value.status, refused.value.error_code) == (409, code)
        report = skewed.deliver(retry=False)
        assert (report.stored, report.refused, report.pending) == (0, 0, 2)
        assert skewed.outbox.refused() == []  # nothing set aside for a wrong clock
    finally:
        skewed.close()
    fixed = CameraRuntime(
        cw.state, client=cw.client(), clock=cw.world.clock, sleep=cw.sleeps.append
    )
    try:
        report = fixed.deliver()
        assert (report.stored, report.pending) == (2, 0)
        assert sorted(stored_ids(cw)) == sorted(ids)
    finally:
        fixed.close()


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A real file system of ``size`` (tmpfs) at ``path``, to fill up; skips where none mounts."""
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        # A skip, even under CI: a runner without CAP_SYS_ADMIN cannot mount, and the
        # outbox cap (tests/camera/test_outbox.py) covers the same paths without one.
        pytest.skip(f"a small tmpfs cannot be mounted here ({done.stderr.strip()}): needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file; returns it."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:  # unbuffered: no write left for close()
        for chunk in (65_536, 4_096, 512, 1):
            try:
                while True:
                    handle.write(b"\0" * chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    return filler


def test_a_full_disk_loses_no_hit_stops_nothing_and_recovers_when_space_returns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    (tmp_path / "server").mkdir()
    world = Deployment(tmp_path / "server")
    with small_disk(tmp_path / "disk", "2m") as disk:
        world.ceremony(days=2)
        world.list_plate(HOT)
        state = StateDir(disk / "camera")
        enrol_camera(world, state)
        tap = WireTap(world.records)
        sleeps: list[float] = []

        def runtime() -> CameraRuntime:
            client = httpx.Client(base_url="http://testserver", transport=tap)
            return CameraRuntime(state, client=client, clock=world.clock, sleep=sleeps.append)

        cw = CameraWorld(world, state, tap, runtime(), sleeps)
        try:
            cw.runtime.sync()
            before = queue_hits(cw, 2)  # written to disk
            filler = fill(disk)
            # The disk is full and the server is down: hits wait in memory.
            tap.down = True
            during = queue_hits(cw, 3)
            assert cw.runtime.outbox.in_memory == 3
            counters = Counters()
            cw.runtime.write_status(counters)  # status.json has no room: a warning, no crash
            assert counters.outbox_in_memory == 3
            assert counters.outbox_depth == 5
            assert not any(p.name.endswith(".tmp") for p in state.root.iterdir())
            tap.down = False
            with pytest.raises(StateError, match="could not be written: No space left on device"):
                cw.runtime.sync()  # no room for what it fetched: a camera error the loop logs
            assert cw.runtime.health().ok  # what it had is intact: it still matches
            tap.down = True
            report = cw.runtime.deliver(retry=False)
            assert (report.stored, report.pending) == (0, 5)
            # The server is back, the disk still full: delivered from memory and disk alike.
            tap.down = False
            report = cw.runtime.deliver(retry=False)
            assert (report.stored, report.pending) == (5, 0)
            assert sorted(stored_ids(cw)) == sorted(before + during)
            # More hits while the disk stays full, the server down again; then space returns.
            tap.down = True
            after = queue_hits(cw, 2)
            assert cw.runtime.outbox.in_memory == 2
            filler.unlink()
            cw.runtime.write_status(counters)  # each status round writes waiting hits to disk
            assert cw.runtime.outbox.in_memory == 0
            with Outbox(state.outbox_path) as reopened:  # durable again: a restart keeps them
                assert sorted(p.hit.record_id for p in reopened.pending()) == sorted(after)
            tap.down = False
            report = cw.runtime.deliver(retry=False)
            assert (report.stored, report.pending) == (2, 0)
            stored = stored_ids(cw)
            assert sorted(stored) == sorted(before + during + after)  # nothing lost
            assert len(stored) == len(set(stored))  # nothing twice
            assert cw.runtime.outbox.depth() == 0
            # Restarted on a full disk, the camera cannot open its outbox: a clear error,
            # and it starts once there is room (a supervisor restarts it; nothing was lost).
            cw.runtime.close()
            filler = fill(disk)
            with pytest.raises(StateError, match="no room on its disk"):
                runtime()
            filler.unlink()
            cw.runtime = runtime()
            assert cw.runtime.health().ok
        finally:
            cw.runtime.close()
            world.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("no room on disk" in m for m in warnings)
    assert any("status.json not written" in m for m in warnings)


def test_on_a_full_disk_a_refusal_waits_in_memory_and_reaches_the_file_when_room_returns(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk", "256k") as disk:
        path = disk / "outbox.sqlite"
        hits = [SealedHit(i.to_bytes(16, "big"), 20717, os.urandom(1500), ()) for i in range(3)]
        outbox = Outbox(path)
        try:
            for hit in hits:
                outbox.put(hit)
            filler = fill(disk)
            first = hits[0].record_id
            outbox.refuse(first, "malformed_record")  # no room for the mark: no error either
            on_file = sqlite3.connect(path)  # what a restart would find
            try:
                mark = "SELECT refused FROM outbox WHERE record_id = ?"
                assert on_file.execute(mark, (first,)).fetchone() == (None,)
                assert first not in [p.hit.record_id for p in outbox.pending()]  # not resent
                assert [p.refused for p in outbox.refused()] == ["malformed_record"]
                filler.unlink()
                outbox.flush()
                assert on_file.execute(mark, (first,)).fetchone() == ("malformed_record",)
            finally:
                on_file.close()
            assert [p.hit for p in outbox.pending()] == hits[1:]
        finally:
            outbox.close()
