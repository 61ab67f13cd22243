"""The uplink against the real records server: signed requests, trust pinning, delivery faults."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from nacl.signing import SigningKey
from underseal_device.camera.errors import TrustError, UplinkError
from underseal_device.camera.runtime import CameraRuntime

from tests.camera.conftest import HOT, CameraWorld, queue_plate_hits
from underseal.encoding import b64e
from underseal.epochs import epoch_of


def queue_hits(cw: CameraWorld, n: int) -> list[bytes]:
    """Seal ``n`` hits of the listed plate through the camera's own matcher and sealer."""
    return queue_plate_hits(cw.runtime, HOT, n, now=int(cw.world.clock()))


def stored_ids(cw: CameraWorld) -> list[bytes]:
    db = sqlite3.connect(cw.world.records_url.removeprefix("sqlite:///"))
    try:
        return [bytes(r[0]) for r in db.execute("SELECT record_id FROM record")]
    finally:
        db.close()


def test_sync_pins_trust_fetches_epoch_keys_and_bundles(camera_world: CameraWorld) -> None:
    cw = camera_world
    assert not cw.runtime.health().ok
    assert cw.runtime.health().reason == "never_synced"
    report = cw.runtime.sync()
    today = epoch_of(cw.world.clock())
    assert report.epochs == [today, today + 1]
    assert report.bundles == [today, today + 1]
    assert cw.runtime.health().ok
    trust = cw.state.read_json("trust.json")
    assert trust["authority_key"] == b64e(
        bytes(cw.world.records_app.state.records.authority.verify_key)
    )
    assert len(trust["custodians"]) == 3
    # Every request was signed by the camera and carried a fresh nonce.
    nonces = [
        line.split(b": ", 1)[1]
        for request in cw.tap.sent
        for line in request.split(b"\n")
        if line.startswith(b"x-underseal-nonce")
    ]
    assert len(nonces) == len(cw.tap.sent) == len(set(nonces))


def test_a_server_offering_other_trust_roots_is_refused(camera_world: CameraWorld) -> None:
    cw = camera_world
    cw.runtime.sync()
    pinned = cw.state.read_json("trust.json")
    # A man in the middle (or a rogue server) offers its own authority key.
    forged = b64e(bytes(SigningKey.generate().verify_key))

    def swap_authority(path: str, body: bytes) -> bytes:
        if not path.endswith("/config"):
            return body
        config = json.loads(body)
        config["authority_key"] = forged
        return json.dumps(config).encode()

    cw.tap.rewrite = swap_authority
    with pytest.raises(TrustError, match="differ from the ones this camera pinned"):
        cw.runtime.sync()
    assert cw.state.read_json("trust.json") == pinned
    assert cw.runtime.health().ok  # it keeps matching with the bundle it verified

    # A custodian key swapped (to endorse a key the server holds) is refused the same way.
    def swap_custodian(path: str, body: bytes) -> bytes:
        if not path.endswith("/config"):
            return body
        config = json.loads(body)
        config["custodians"][0]["verify_key"] = forged
        return json.dumps(config).encode()

    cw.tap.rewrite = swap_custodian
    with pytest.raises(TrustError):
        cw.runtime.sync()
    assert cw.state.read_json("trust.json") == pinned


def test_a_rolled_back_bundle_from_the_wire_is_refused_and_reported(
    camera_world: CameraWorld,
) -> None:
    cw = camera_world
    cw.runtime.sync()
    old: dict[str, bytes] = {}

    def replay_old(path: str, body: bytes) -> bytes:
        if path.endswith("/bundle"):
            return old.setdefault("bundle", body)  # always the first bundle seen
        return body

    cw.tap.rewrite = replay_old
    cw.runtime.sync()  # records the then-current bundle …
    report = cw.runtime.sync()  # … and replays it: its serial is no longer the newest
    assert report.refused == ["rollback"]
    health = cw.runtime.health()
    assert (health.ok, health.reason) == (False, "bundle_refused_rollback")


def test_server_down_during_a_run_then_back_delivers_every_hit_once(
    camera_world: CameraWorld,
) -> None:
    cw = camera_world
    cw.runtime.sync()
    ids = queue_hits(cw, 3)
    cw.tap.down = True
    report = cw.runtime.deliver()
    assert report.stored == 0
    assert report.pending == 3
    assert report.failed_attempts == 7  # the first try and six backed-off retries
    assert cw.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert cw.runtime.outbox.depth() == 3
    cw.tap.down = False
    queue_hits(cw, 1)
    report = cw.runtime.deliver()
    assert (report.stored, report.duplicates, report.pending) == (4, 0, 0)
    assert set(ids) <= set(stored_ids(cw))
    assert len(stored_ids(cw)) == 4


def test_a_lost_answer_is_resent_and_acknowledged_as_a_duplicate(camera_world: CameraWorld) -> None:
    cw = camera_world
    cw.runtime.sync()
    ids = queue_hits(cw, 2)
    cw.tap.drop_answers = 1  # the server stores the batch; the camera never hears back
    report = cw.runtime.deliver()
    assert report.failed_attempts == 1
    assert (report.stored, report.duplicates, report.pending) == (0, 2, 0)
    assert sorted(stored_ids(cw)) == sorted(ids)


def test_a_hit_the_server_refuses_is_set_aside_without_blocking_the_others(
    camera_world: CameraWorld,
) -> None:
    cw = camera_world
    cw.runtime.sync()
    good = queue_hits(cw, 3)
    # A record whose bytes were damaged on the camera: the server refuses it for good.
    pending = cw.runtime.outbox.pending()
    bad = pending[1].hit
    cw.runtime.outbox.acknowledge([bad.record_id])
    damaged = json.loads(bad.record)
    damaged["signature"] = b64e(b"\x00" * 64)
    from dataclasses import replace

    record = json.dumps(damaged, separators=(",", ":"), sort_keys=True).encode()
    cw.runtime.outbox.put(replace(bad, record=record))
    report = cw.runtime.deliver()
    assert report.stored == 2
    assert report.refused == 1
    assert [p.hit.record_id for p in cw.runtime.outbox.refused()] == [bad.record_id]
    assert sorted(stored_ids(cw)) == sorted(i for i in good if i != bad.record_id)


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path, camera_world: CameraWorld) -> None:
    cw = camera_world
    runtime = CameraRuntime(
        cw.state,
        client=httpx.Client(base_url="http://127.0.0.1:9", timeout=0.5),
        sleep=lambda s: None,
    )
    with pytest.raises(UplinkError, match="unreachable") as error:
        runtime.sync()
    assert error.value.status == 0
    runtime.close()


CHILD = """
import sys, os, time
from pathlib import Path
sys.path.insert(0, os.getcwd())
from tests.camera.conftest import CameraWorld, WireTap, enrol_camera, HOT
from tests.camera.test_uplink import queue_hits
from tests.server.deployment import Deployment
from underseal_device.camera.runtime import CameraRuntime
from underseal_device.camera.state import StateDir
import httpx2 as httpx
root = Path(sys.argv[1])
(root / "server").mkdir()
world = Deployment(root / "server")
world.ceremony(days=1)
world.list_plate(HOT)
state = StateDir(root / "camera")
enrol_camera(world, state)
tap = WireTap(world.records)
runtime = CameraRuntime(state, client=httpx.Client(base_url="http://testserver", transport=tap),
                        clock=world.clock, sleep=lambda s: None)
runtime.sync()
cw = CameraWorld(world, state, tap, runtime)
ids = queue_hits(cw, 40)
(root / "queued").write_text("\\n".join(i.hex() for i in ids))
runtime.uplink.batch_size = 1
print("ready", flush=True)
runtime.deliver()
print("done", flush=True)
time.sleep(60)
"""


def test_kill_9_mid_delivery_loses_nothing_and_a_resend_duplicates_nothing(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    records_db = tmp_path / "server" / "records.db"
    deadline = time.monotonic() + 30
    stored = 0
    while time.monotonic() < deadline and stored < 10:  # kill it a few deliveries in
        db = sqlite3.connect(records_db, timeout=5)
        stored = db.execute("SELECT count(*) FROM record").fetchone()[0]
        db.close()
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    queued = {bytes.fromhex(h) for h in (tmp_path / "queued").read_text().split()}
    db = sqlite3.connect(records_db)
    on_server = {bytes(r[0]): bytes(r[1]) for r in db.execute("SELECT record_id, data FROM record")}
    db.close()
    outbox = sqlite3.connect(tmp_path / "camera" / "outbox.sqlite")
    assert outbox.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rows = outbox.execute("SELECT record_id, record FROM outbox")
    in_outbox = {bytes(r[0]): bytes(r[1]) for r in rows}
    outbox.close()
    assert 10 <= len(on_server) < 40  # it really was killed mid-delivery
    # Nothing lost: every hit is on the server or still queued (or both, if the kill fell
    # between the server's commit and the outbox's delete) ...
    assert set(on_server) | set(in_outbox) == queued
    # ... and a hit in both is byte-identical, so resending it is acknowledged as a duplicate.
    assert len(set(on_server) & set(in_outbox)) <= 1
    for record_id in set(on_server) & set(in_outbox):
        assert on_server[record_id] == in_outbox[record_id]
