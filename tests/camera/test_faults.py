"""Faults between camera and server: a bundle cut off in transit, and a camera clock off.

Each ends with a clear report or error, nothing matched or lost, and recovery
without a person once the fault is gone.
"""

from __future__ import annotations

import pytest
from underseal_device.camera.errors import UplinkError
from underseal_device.camera.runtime import CameraRuntime

from tests.camera.conftest import CameraWorld
from tests.camera.test_uplink import queue_hits, stored_ids


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
