"""The outbox: ciphertext only, idempotent by record id, intact after kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from underseal_device.camera.hits import SealedHit
from underseal_device.camera.outbox import Outbox

CHILD = """
import os, sys
from pathlib import Path
from underseal_device.camera.hits import SealedHit
from underseal_device.camera.outbox import Outbox
outbox = Outbox(Path(sys.argv[1]))
i = 0
while True:
    rid = i.to_bytes(16, "big")
    outbox.put(SealedHit(rid, 20717, os.urandom(2000), (("dispatch", os.urandom(300)),)))
    if i % 3 == 0:
        outbox.acknowledge([(i - 3).to_bytes(16, "big")] if i >= 3 else [])
    # Only after put() (and acknowledge) returned: this id is durable.
    sys.stdout.write(f"{i}\\n"); sys.stdout.flush()
    i += 1
"""


def hit(n: int) -> SealedHit:
    return SealedHit(n.to_bytes(16, "big"), 20717, b"sealed-%d" % n, (("dispatch", b"alert"),))


def test_put_is_idempotent_by_record_id_and_ack_removes(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite") as outbox:
        assert outbox.put(hit(1))
        assert not outbox.put(hit(1))
        outbox.put(hit(2))
        assert [p.hit for p in outbox.pending()] == [hit(1), hit(2)]
        assert outbox.acknowledge([hit(1).record_id, b"\x00" * 16]) == 1
        assert outbox.depth() == 1
        outbox.refuse(hit(2).record_id, "malformed_record")
        assert outbox.pending() == []
        assert outbox.retry_refused() == 1
    assert oct((tmp_path / "o.sqlite").stat().st_mode & 0o777) == "0o600"
    db = sqlite3.connect(tmp_path / "o.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("after", [15, 60])
def test_kill_9_mid_write_loses_and_duplicates_nothing(tmp_path: Path, after: int) -> None:
    path = tmp_path / "outbox.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    confirmed = -1
    deadline = time.monotonic() + 30
    while confirmed < after and time.monotonic() < deadline:
        line = child.stdout.readline()
        if line:
            confirmed = int(line)
    os.kill(child.pid, signal.SIGKILL)  # mid-write: it never stops writing on its own
    child.wait()
    # It ran on while we read: what it confirmed before the kill is still in the pipe.
    confirmed = max([confirmed, *(int(n) for n in child.stdout.read().split())])
    child.stdout.close()
    assert confirmed >= after
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    with Outbox(path) as outbox:
        ids = [int.from_bytes(p.hit.record_id, "big") for p in outbox.pending(10_000)]
    assert len(ids) == len(set(ids))  # nothing twice
    acknowledged = {i - 3 for i in range(3, confirmed + 1, 3)}
    # The step after the last confirmed one may have acknowledged its hit before the kill.
    unknown = {confirmed - 2} if (confirmed + 1) % 3 == 0 else set()
    for i in range(confirmed + 1):  # every hit confirmed durable is there unless acknowledged
        if i not in unknown:
            assert (i in ids) != (i in acknowledged), i


def test_past_its_cap_the_outbox_holds_hits_in_memory_and_writes_them_when_room_returns(
    tmp_path: Path,
) -> None:
    # The cap is SQLite's max_page_count: past it SQLite fails with SQLITE_FULL,
    # the error a full disk gives (tests/camera/test_faults.py fills a real one).
    path = tmp_path / "o.sqlite"
    ticks = iter(range(1_000_000))
    outbox = Outbox(path, clock=lambda: float(next(ticks)), max_bytes=6 * 4096)
    big = [SealedHit(i.to_bytes(16, "big"), 20717, os.urandom(1500), ()) for i in range(20)]
    assert all(outbox.put(h) for h in big)
    assert 0 < outbox.in_memory < 20  # some went to disk, the rest wait in memory
    assert outbox.depth() == 20
    assert not outbox.put(big[-1])  # still idempotent for a hit waiting in memory
    # Another thread's connection (the uplink's) sees and delivers them, oldest first.
    uplink = outbox.sibling()
    assert [p.hit for p in uplink.pending(100)] == big
    assert uplink.acknowledge([h.record_id for h in big[:17]]) == 17
    assert outbox.flush() > 0  # room again: what waited in memory is written
    assert outbox.in_memory == 0
    uplink.close()
    outbox.close()
    with Outbox(path) as reopened:  # nothing of it lived only in memory any more
        assert [p.hit for p in reopened.pending(100)] == big[17:]


def test_a_full_outbox_with_its_memory_used_up_refuses_a_hit_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from underseal_device.camera import outbox as module
    from underseal_device.camera.errors import OutboxFull

    monkeypatch.setattr(module, "MEMORY_LIMIT", 2)
    with Outbox(tmp_path / "o.sqlite", max_bytes=4 * 4096) as outbox:
        kept, refused = 0, None
        for i in range(50):
            try:
                outbox.put(SealedHit(i.to_bytes(16, "big"), 20717, os.urandom(1500), ()))
            except OutboxFull as error:
                refused = error
                break
            kept += 1
        assert refused is not None
        assert "is full and 2 hits already wait in memory: this hit is lost" in str(refused)
        assert outbox.depth() == kept  # every hit put before the refusal is still queued
        assert outbox.in_memory == 2
