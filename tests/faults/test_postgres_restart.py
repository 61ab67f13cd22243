"""PostgreSQL stopped and started again under a records server with two workers.

While a camera delivers and an investigator searches, PostgreSQL goes down
(``pg_ctl stop -m fast``: every session cut, open transactions rolled back)
and comes back. During the outage every request gets, at once, a 503 with
the code ``database_unavailable`` and ``Retry-After``: no 500, no traceback,
no hang. Afterwards the same server processes, never restarted, serve
again (the pool pings each connection and replaces the dead ones): the
camera finishes by itself and the warrant opens.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest
from underseal_server.investigator import InvestigationError

from tests.faults.world import PLATE, World, hold_after, queue_hits, uplink_errors, wait_for
from tests.server.pgcluster import PostgresCluster

HITS = 300


@pytest.mark.timeout(240)
def test_postgres_restarted_mid_run_is_a_clear_503_and_the_same_servers_recover(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    world = World(tmp_path, records_url=postgres.database("records"), workers=2)
    try:
        world.grant("w-pg", max_records=10)
        runtime = world.camera(batch_size=20)
        try:
            queued = queue_hits(runtime, HITS)

            def outage() -> tuple[httpx.Response, str]:
                hold.wait_reached()  # 3 batches (60 hits) in, however fast the machine
                postgres.stop()
                hold.release()
                try:
                    # A request while the database is down: answered at once, and clearly.
                    search = world.as_("detective").post("/v1/warrants/w-pg/search")
                    try:
                        world.investigate("w-pg")
                        refused = ""
                    except InvestigationError as error:
                        refused = str(error)
                    wait_for(
                        "the camera to meet the outage",
                        lambda: any(e.status == 503 for e in errors),
                    )
                finally:
                    postgres.start()
                return search, refused

            with (
                uplink_errors(runtime) as errors,
                hold_after(runtime, 3) as hold,
                ThreadPoolExecutor(1) as pool,
            ):
                saboteur = pool.submit(outage)
                report = runtime.deliver()  # no help: the camera's own retries
                search, refused = saboteur.result(timeout=120)
            left = runtime.outbox.depth()
        finally:
            runtime.close()
        # During the outage: 503, a stable code, Retry-After; the investigator is told why.
        assert search.status_code == 503, search.text
        assert search.json()["error"]["code"] == "database_unavailable"
        assert int(search.headers["retry-after"]) > 0
        assert "database_unavailable" in refused
        # The camera saw only that (never a 500), retried by itself and finished.
        assert errors
        assert {(e.status, e.error_code) for e in errors} == {(503, "database_unavailable")}
        assert all(e.retryable for e in errors)
        assert (report.pending, report.refused, left) == (0, 0, 0)
        # Nothing lost, nothing stored twice.
        ids = world.records_db.record_ids()
        assert len(ids) == len(set(ids))
        assert set(ids) == queued
        assert report.stored + report.duplicates == HITS
        # The same processes serve again: never restarted, and the warrant now opens.
        assert world.records.starts == 1
        assert world.records.running
        outcome = world.investigate("w-pg")
        assert len(outcome.opened) == 10
        assert {e.plate for e in outcome.opened} == {PLATE}
        log = world.records.log_text()
        assert "database unavailable" in log
        assert "Traceback" not in log
    finally:
        world.close()
