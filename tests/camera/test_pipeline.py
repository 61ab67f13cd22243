"""End to end: frames → reader → tracker → matcher → sealed hit → outbox → real server → warrant.

And the privacy claim (DESIGN §8.1): after a run with hit and non-hit plates,
no byte derived from a non-hit (its text, folded text or token, raw or in
base64) is in anything the camera sent, in any file under its state
directory, or in its logs at DEBUG.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from nacl.public import SealedBox
from underseal_device.camera.capture import FolderSource, MotionGate
from underseal_device.camera.tracking import Tracker

from tests.camera.conftest import CAMERA_ID, HOT, CameraWorld
from tests.camera.traffic import ColourReader, Vehicle, colour, render, write_folder
from underseal.encoding import b64d, b64e
from underseal.epochs import epoch_of
from underseal.plates import fold

NON_HITS = ["5KXM209", "4TRW551", "8LNP730"]
SECOND_HOT = "6PQR418"  # listed; read second-best by the OCR


def _traffic() -> list[Vehicle]:
    return [
        Vehicle(colour(0), start=2, frames=8, lane=0, readings=((HOT, 0.93), ("7A8C123", 0.04))),
        Vehicle(colour(1), start=14, frames=8, lane=1, readings=((NON_HITS[0], 0.9),)),
        # Two at once, in different lanes.
        Vehicle(colour(2), start=26, frames=8, lane=0, readings=((NON_HITS[1], 0.8),)),
        Vehicle(colour(3), start=27, frames=8, lane=1, readings=((NON_HITS[2], 0.85),)),
        # A listed plate misread: the truth is the second reading.
        Vehicle(
            colour(4),
            start=40,
            frames=8,
            lane=0,
            readings=(("6PQR416", 0.55), (SECOND_HOT, 0.35)),
        ),
        # Sign text: rejected by the grammar, never matched.
        Vehicle(colour(5), start=52, frames=6, lane=1, readings=(("CROSSWALK", 0.99),)),
    ]


def _run(cw: CameraWorld, tmp_path: Path, vehicles: list[Vehicle], total: int = 64) -> None:
    folder = write_folder(tmp_path / "frames", render(vehicles, total))
    pipeline = cw.runtime.pipeline(
        ColourReader(vehicles),
        tracker=Tracker(max_gap=0.35),
        motion=MotionGate(),
    )
    pipeline.run(FolderSource(folder, fps=10))
    cw.runtime.write_status(pipeline.counters)


def test_each_listed_pass_yields_one_sealed_hit_that_opens_to_its_plate(
    camera_world: CameraWorld, tmp_path: Path
) -> None:
    cw = camera_world
    cw.world.list_plate(SECOND_HOT)
    cw.runtime.sync()
    assert cw.runtime.health().ok
    _run(cw, tmp_path, _traffic())
    assert cw.runtime.outbox.depth() == 2
    report = cw.runtime.deliver()
    assert (report.stored, report.duplicates, report.pending) == (2, 0, 0)
    assert report.alerts == 2  # one per hit, to the one dispatcher
    assert cw.runtime.outbox.depth() == 0

    # An investigator with a warrant and two custodians opens exactly the two hits.
    assert cw.world.warrant("w-cam", [HOT, SECOND_HOT]).status_code == 200
    outcome = cw.world.investigate("w-cam", custodians=[0, 1])
    opened = sorted(outcome.opened, key=lambda e: e.plate)
    assert [e.plate for e in opened] == sorted([HOT, SECOND_HOT])
    for evidence in opened:
        assert evidence.camera_id == CAMERA_ID
        assert evidence.latitude_e6 == 39_780_000
        assert evidence.observed_at // 86_400 == epoch_of(cw.world.clock())
        crop = b64d(evidence.crop_jpeg)
        assert crop.startswith(b"\xff\xd8\xff")  # a JPEG of the plate only
        import cv2
        import numpy as np

        image = cv2.imdecode(np.frombuffer(crop, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None
        assert image.shape[:2] == (12, 24)  # the plate's box, not the 320×180 frame
    confidences = {e.plate: e.confidence_pm for e in opened}
    assert confidences[HOT] > 900
    assert 300 <= confidences[SECOND_HOT] < 500

    # The dispatcher gets a short sealed alert for each.
    alerts = cw.world.as_["dispatch"].get("/v1/alerts").json()
    plates = sorted(
        __import__("json").loads(SealedBox(cw.world.dispatch_box).decrypt(b64d(a["sealed"])))[
            "plate"
        ]
        for a in alerts
    )
    assert plates == sorted([HOT, SECOND_HOT])

    counters = cw.state.read_json("status.json")
    assert counters["passes"] == 6
    assert counters["hits"] == 2
    assert counters["passes_unreadable"] == 1  # the sign
    assert counters["frames_still"] > 0  # motion gating skipped the empty road


def _needles(cw: CameraWorld) -> dict[str, bytes]:
    bundle = cw.runtime.hotlist.bundle_for(int(cw.world.clock()))  # type: ignore[union-attr]
    assert bundle is not None
    needles: dict[str, bytes] = {}
    for i, plate in enumerate(NON_HITS):
        token = bundle.token_key.token(plate)
        needles[f"plate {i}"] = plate.encode()
        needles[f"folded {i}"] = fold(plate).encode()
        needles[f"token {i}"] = token
        needles[f"token b64url {i}"] = b64e(token).encode()
        needles[f"token b64 {i}"] = base64.b64encode(token).rstrip(b"=")
        needles[f"token hex {i}"] = token.hex().encode()
    return needles


def test_no_trace_of_a_non_hit_leaves_the_camera_or_stays_on_it(
    camera_world: CameraWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cw = camera_world
    caplog.set_level(logging.DEBUG)
    cw.runtime.sync()
    _run(cw, tmp_path, _traffic())
    cw.runtime.deliver()
    assert cw.runtime.outbox.depth() == 0
    cw.runtime.close()  # checkpoint nothing away: scan the WAL as it is, too

    sent = cw.tap.everything_sent()
    files = {p: p.read_bytes() for p in cw.state.root.rglob("*") if p.is_file()}
    assert any(p.name == "outbox.sqlite-wal" for p in files) or any(
        p.name == "outbox.sqlite" for p in files
    )
    logs = "\n".join(
        r.getMessage() + repr(r.args) for r in caplog.records
    ).encode()  # messages and their arguments
    assert b"hit sealed" in logs  # the log was captured at all
    hits = [HOT.encode(), fold(HOT).encode()]
    for name, needle in _needles(cw).items():
        assert needle not in sent, f"{name} was sent"
        for path, data in files.items():
            assert needle not in data, f"{name} is in {path.name}"
        assert needle not in logs, f"{name} is in the logs"
    # The hit itself leaves only sealed: not in clear on the wire or on disk either.
    for needle in hits:
        assert needle not in sent
        assert all(needle not in data for data in files.values())
    # No frame or crop was written: no image file, no JPEG or PNG bytes in clear.
    for data in files.values():
        assert b"\xff\xd8\xff" not in data
        assert b"\x89PNG" not in data


def test_a_tampered_bundle_matches_nothing_and_reports_unhealthy(
    camera_world: CameraWorld, tmp_path: Path
) -> None:
    cw = camera_world
    cw.runtime.sync()
    epoch = epoch_of(cw.world.clock())
    path = cw.state.bundles_dir / f"{epoch}.bundle"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    # A restarted camera loads the bundle from disk.
    from underseal_device.camera.runtime import CameraRuntime

    cw.runtime.close()
    cw.runtime = CameraRuntime(cw.state, client=cw.client(), clock=cw.world.clock)
    health = cw.runtime.health()
    assert not health.ok
    assert health.reason == "bundle_decryption_failed"
    _run(cw, tmp_path, _traffic())
    assert cw.runtime.outbox.depth() == 0
    counters = cw.state.read_json("status.json")
    assert counters["hits"] == 0
    assert counters["passes_unchecked"] == 5  # every readable pass, unmatched
    assert counters["healthy"] is False
    # A fresh bundle from the server heals it.
    cw.runtime.sync()
    assert cw.runtime.health().ok


def test_a_broken_track_of_one_listed_vehicle_makes_one_hit_and_a_later_pass_another(
    camera_world: CameraWorld, tmp_path: Path
) -> None:
    cw = camera_world
    cw.runtime.sync()
    # The same listed plate seen twice 0.6 s apart (longer than the tracker's
    # gap: two passes), then again 5 s later.
    vehicles = [
        Vehicle(colour(0), start=2, frames=6, lane=0, readings=((HOT, 0.9),)),
        Vehicle(colour(1), start=14, frames=6, lane=0, readings=((HOT, 0.9),)),
        Vehicle(colour(2), start=70, frames=6, lane=0, readings=((HOT, 0.9),)),
    ]
    folder = write_folder(tmp_path / "frames", render(vehicles, 84))
    pipeline = cw.runtime.pipeline(ColourReader(vehicles), tracker=Tracker(max_gap=0.35))
    pipeline.repeat_window = 3.0
    pipeline.run(FolderSource(folder, fps=10))
    counters = pipeline.counters
    assert counters.passes == 3
    assert (counters.hits, counters.hits_repeated) == (2, 1)
    assert cw.runtime.outbox.depth() == 2


def test_the_repeat_window_must_not_be_negative(camera_world: CameraWorld) -> None:
    camera_world.runtime.sync()
    pipeline = camera_world.runtime.pipeline(ColourReader([]))
    with pytest.raises(ValueError, match="repeat_window"):
        type(pipeline)(
            pipeline.reader,
            matcher=pipeline.matcher,
            sealer=pipeline.sealer,
            outbox=pipeline.outbox,
            repeat_window=-1,
        )
