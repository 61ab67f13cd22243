"""The records server killed (``kill -9``, every worker) in the middle of a camera's batched ingest.

A real camera delivers 300 hits in batches of 20 to a real records server
process; a few batches in, the server and its workers are killed outright
and started again on the same port and database. The camera is told
nothing: its uplink meets a dead connection, backs off, retries, and
finishes. Nothing is lost, nothing stored twice, and the database and the
audit log come through the crash intact.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.world import World, hold_after, queue_hits, uplink_errors, wait_for

HITS = 300


@pytest.mark.timeout(240)
def test_records_server_killed_mid_ingest_loses_nothing_and_stores_nothing_twice(
    world: World,
) -> None:
    runtime = world.camera(batch_size=20)
    try:
        queued = queue_hits(runtime, HITS)
        before = world.audit()

        def kill_mid_run() -> tuple[int, str]:
            hold.wait_reached()  # 3 batches (60 hits) in, however fast the machine
            hold.release()
            world.records.kill9()  # the camera's next batch is on its way, or about to be
            stored, integrity = world.records_db.count("record"), world.records_db.integrity()
            wait_for("the camera to meet the dead server", lambda: bool(errors))
            world.records.start()  # same port, same database
            return stored, integrity

        with (
            uplink_errors(runtime) as errors,
            hold_after(runtime, 3) as hold,
            ThreadPoolExecutor(1) as pool,
        ):
            saboteur = pool.submit(kill_mid_run)
            report = runtime.deliver()  # no help: the camera's own retries
            stored_at_kill, integrity = saboteur.result(timeout=120)
        left, set_aside = runtime.outbox.depth(), runtime.outbox.refused()
    finally:
        runtime.close()
    # It really was mid-run, and the crash left a sound database file.
    assert 60 <= stored_at_kill < HITS
    assert integrity == "ok"
    assert world.records.starts == 2
    # The camera met retryable errors (a dead connection), kept going, and finished.
    assert errors
    assert all(e.retryable for e in errors), [str(e) for e in errors]
    assert report.failed_attempts >= 1
    assert (report.pending, report.refused, report.dropped) == (0, 0, 0)
    assert (left, set_aside) == (0, [])
    # Nothing lost, nothing stored twice; each hit acknowledged once (a batch whose
    # answer the crash swallowed comes back as duplicates).
    ids = world.records_db.record_ids()
    assert len(ids) == len(set(ids))
    assert set(ids) == queued
    assert report.stored + report.duplicates == HITS
    # The audit log is still append-only across the crash, and holds the ingest.
    after = world.audit(before.checkpoint)
    assert after.size > before.size
    assert after.kinds.get("ingest.batch", 0) >= 1
