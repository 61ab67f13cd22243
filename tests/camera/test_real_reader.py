"""End to end with the real reader: a synthetic traffic video → detector + OCR → sealed hits.

No stand-in anywhere: frames come from a video file written by
``underseal_device.synth.traffic``, through OpenCV capture, the shipped
detector and recognizer, the tracker and vote, the hotlist bundle from the
real records server, sealing, the outbox and the uplink; the hits are opened
under a warrant by two custodians. Then no byte of any other plate that
passed is in what the camera sent, in its state directory or in its logs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from underseal_device.camera.capture import MotionGate, open_source
from underseal_device.detect import default_reader
from underseal_device.synth.traffic import TrafficSpec, write_video

from tests.camera.conftest import HOT, CameraWorld
from underseal.encoding import b64e
from underseal.plates import fold

SPEC = TrafficSpec(seed=11, width=960, height=540, fps=10, passes=5, hotlist=(HOT,),
                   hit_share=0.0, lighting="day")  # fmt: skip


def test_a_listed_plate_in_a_real_video_becomes_one_hit_and_nothing_else_remains(
    camera_world: CameraWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cw = camera_world
    caplog.set_level(logging.DEBUG)
    truth = write_video(SPEC, tmp_path / "traffic.mp4")
    listed = [p for p in truth.passes if p.hotlist]
    others = {p.text for p in truth.passes if not p.hotlist}
    assert len(listed) == 1
    assert others
    cw.runtime.sync()
    pipeline = cw.runtime.pipeline(default_reader(), motion=MotionGate())
    pipeline.run(open_source(tmp_path / "traffic.mp4"))
    assert cw.runtime.outbox.depth() == 1  # one pass, one hit
    report = cw.runtime.deliver()
    assert (report.stored, report.pending) == (1, 0)
    assert cw.world.warrant("w-video", [HOT]).status_code == 200
    outcome = cw.world.investigate("w-video", custodians=[0, 2])
    assert [e.plate for e in outcome.opened] == [HOT]
    assert pipeline.counters.passes >= len(truth.passes) - 1  # every vehicle tracked

    bundle = cw.runtime.hotlist.bundle_for(int(cw.world.clock()))  # type: ignore[union-attr]
    assert bundle is not None
    needles = []
    for plate in sorted(others):
        token = bundle.token_key.token(plate)
        needles += [
            plate.encode(),
            fold(plate).encode(),
            token,
            b64e(token).encode(),
            token.hex().encode(),
        ]
    cw.runtime.close()
    sent = cw.tap.everything_sent()
    files = [p.read_bytes() for p in cw.state.root.rglob("*") if p.is_file()]
    logs = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records).encode()
    for needle in needles:
        assert needle not in sent
        assert needle not in logs
        assert all(needle not in data for data in files)
    for needle in (HOT.encode(), fold(HOT).encode()):
        assert needle not in sent  # the hit leaves sealed only
        assert all(needle not in data for data in files)
