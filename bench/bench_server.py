"""Server figures (DESIGN §7): ingest on loopback, purge by key destruction, warrant opening.

1. Ingest: the real records server (uvicorn, one process, SQLite file) on
   127.0.0.1, fed pre-sealed, camera-signed batches by concurrent clients.
2. Purge of one day's records: a custodian destroying its share (what makes
   the records unreadable) against ``DELETE`` of the ciphertexts.
3. Warrant: search plus 2-of-3 threshold decryption, per record opened.

``make bench`` (or ``python -m bench server``) runs it in full and writes
``bench/results/server.json``. ``python -m bench.bench_server --quick`` (or
``UNDERSEAL_BENCH_QUICK=1``) is a smoke run at small scale, written to
``server-quick.json``. ``UNDERSEAL_BENCH_PURGE_RECORDS`` sets how many
records the purge rows use (default 1,000,000; 20,000 when quick).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
from nacl.signing import SigningKey
from sqlalchemy import delete, func
from sqlmodel import col, select
from underseal_server.clock import ManualClock
from underseal_server.custodian.app import create_app as create_custodian
from underseal_server.custodian.app import destroy_expired
from underseal_server.custodian.models import Share
from underseal_server.custodian.settings import CustodianSettings
from underseal_server.db import erase_free_space, make_engine, session_scope
from underseal_server.records.app import create_app as create_records
from underseal_server.records.models import Camera, Record
from underseal_server.records.settings import RecordsSettings
from underseal_server.retention import DAY

from bench._server_world import (
    INGEST_PATH,
    PLATE,
    ingest_request,
    prepare,
    records_server,
    seal_hits,
)
from bench.harness import Row, figure, report, row, time_per_call
from tests.server.deployment import Deployment, ok, seed
from tests.server.pgcluster import PostgresCluster, pg_bin
from underseal.encoding import b64e

CLIENTS = 8
CROP_BYTES = 2_000
"""A grey plate crop as a small JPEG: the bulk of a sealed hit."""
PURGE_EPOCH = 20_415
PURGE_DATA_BYTES = 300
SHARES_HELD = 30
"""A custodian holds one share per day of retention."""
WARRANT_RECORDS = 20
SCHEME = '{"mode":"hmac-sha256"}'
"""A stand-in token scheme: destruction never parses it."""


@dataclass(frozen=True, slots=True)
class Scale:
    """How much each part does: the full run, or a smoke run (``--quick``)."""

    quick: bool
    ingest_requests: dict[tuple[int, int], int] = field(default_factory=dict)
    """(batch size, concurrent clients) → requests per run."""
    ingest_runs: int = 3
    purge_records: int = 1_000_000
    purge_runs: int = 3
    destroy_runs: int = 9
    warrant_runs: int = 5


def scale(quick: bool) -> Scale:
    env = os.environ.get("UNDERSEAL_BENCH_PURGE_RECORDS")
    if quick:
        return Scale(
            quick=True,
            ingest_requests={(1, CLIENTS): 200, (50, CLIENTS): 20, (50, 2): 20},
            purge_records=int(env or 20_000),
            purge_runs=2,
            destroy_runs=5,
            warrant_runs=3,
        )
    return Scale(
        quick=False,
        # 8 clients saturate the server (throughput); 2 show latency below saturation.
        ingest_requests={(1, CLIENTS): 1_000, (50, CLIENTS): 100, (50, 2): 60},
        purge_records=int(env or 1_000_000),
    )


# --- 1. ingest on loopback ----------------------------------------------------------------


@dataclass(slots=True)
class Run:
    """One timed pass of pre-signed requests through the server."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    stored: int = 0


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q ≤ 100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def drive(
    base_url: str, requests: list[tuple[bytes, dict[str, str]]], batch: int, clients: int
) -> Run:
    """Send ``requests`` from ``clients`` threads, each with its own keep-alive client."""
    run = Run()
    lock = threading.Lock()
    cursor = iter(range(len(requests)))
    ready = threading.Barrier(clients + 1)

    def client() -> None:
        with httpx.Client(base_url=base_url, timeout=60.0) as http:
            http.get("/v1/health")  # open the connection before the clock starts
            ready.wait()
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                body, headers = requests[index]
                start = time.perf_counter()
                try:
                    reply = http.post(INGEST_PATH, content=body, headers=headers)
                    good = reply.status_code == 200 and reply.json()["stored"] == batch
                    problem = "" if good else f"HTTP {reply.status_code}: {reply.text[:200]}"
                except httpx.HTTPError as error:
                    good, problem = False, f"{type(error).__name__}: {error}"
                elapsed = time.perf_counter() - start
                with lock:
                    run.latencies.append(elapsed)
                    if good:
                        run.stored += batch
                    else:
                        run.errors += 1
                        run.first_error = run.first_error or problem

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    run.seconds = time.perf_counter() - start
    return run


def ingest_rows(scratch: Path, plan: Scale) -> list[Row]:
    """The same load on SQLite (one process) and on PostgreSQL (several), side by side."""
    rows = _ingest_rows(scratch / "sqlite", plan, None, 1, "SQLite, 1 process")
    if pg_bin() is None:
        print("PostgreSQL is not installed: skipping its ingest rows", file=sys.stderr)
        return rows
    with PostgresCluster(durable=True) as cluster:
        rows += _ingest_rows(
            scratch / "postgresql", plan, cluster.database, 2, "PostgreSQL, 2 processes"
        )
    return rows


def _ingest_rows(
    scratch: Path,
    plan: Scale,
    database: Callable[[str], str] | None,
    workers: int,
    backend: str,
) -> list[Row]:
    scratch.mkdir(parents=True, exist_ok=True)
    prepared = prepare(scratch, database)
    camera = prepared.world.camera_key
    rows: list[Row] = []
    size = 0
    log = scratch / "server.log"
    with records_server(prepared.settings, log=log, workers=workers) as server:
        base_url = server.url
        for (batch, clients), count in plan.ingest_requests.items():
            runs = []
            for _ in range(plan.ingest_runs):
                # Sealing is the camera's cost: seal and sign every request before timing.
                records = seal_hits(prepared, batch * count, crop_bytes=CROP_BYTES)
                size = len(records[0].to_bytes())
                requests = [
                    ingest_request(camera, records[i : i + batch])
                    for i in range(0, len(records), batch)
                ]
                del records
                runs.append(drive(base_url, requests, batch, clients))
            label = f"ingest, batch {batch}, {clients} clients, loopback, {backend}"
            rates = [r.stored / r.seconds for r in runs]
            p50s = [percentile(r.latencies, 50) for r in runs]
            p99s = [percentile(r.latencies, 99) for r in runs]
            rate = row(f"{label}: records/s", rates, unit="rec/s", scale=1, goal="≥ 2,000 /s")
            p50 = row(f"{label}: p50 request latency", p50s, unit="ms", scale=1e3)
            p99 = row(f"{label}: p99 request latency", p99s, unit="ms", scale=1e3, goal="≤ 50 ms")
            failed = figure(
                f"{label}: errors",
                sum(r.errors for r in runs),
                unit="errors",
                n=len(runs),
                goal="0",
                requests=count * len(runs),
                first_error=next((r.first_error for r in runs if r.errors), ""),
            )
            for r in (rate, p50, p99):
                r.extra.update(
                    requests_per_run=count,
                    record_bytes=size,
                    clients=clients,
                    server=f"uvicorn (asyncio, h11), {backend}"
                    + ("; WAL, synchronous=FULL" if database is None else "; fsync on, defaults"),
                    note="the client threads share the machine's cores with the server",
                )
            rows += [rate, p50, p99, failed]
    return rows


# --- 2. purge: key destruction against DELETE ------------------------------------------


def _records_db(path: Path, count: int) -> None:
    """The records server's schema with ``count`` sealed-size rows in one epoch."""
    # The schema exactly as the records server makes it (create_app prepares its database).
    settings = RecordsSettings(
        database_url=f"sqlite:///{path}", authority_key=seed(), log_key=seed(), retention_days=30
    )
    engine = create_records(settings).state.engine
    with session_scope(engine) as session:
        session.add(
            Camera(
                id="cam-bench", verify_key=bytes(32), box_key=bytes(32), agency="bench",
                latitude=0.0, longitude=0.0, direction=0.0, field_of_view=40.0, enrolled_at=0,
            )
        )  # fmt: skip
    engine.dispose()

    def rows(n: int) -> Iterator[tuple[bytes, str, int, bytes, int, bytes]]:
        received = PURGE_EPOCH * DAY
        for i in range(n):
            yield (os.urandom(16), "cam-bench", PURGE_EPOCH, os.urandom(16), received + i % DAY,
                   os.urandom(PURGE_DATA_BYTES))  # fmt: skip

    # Loading is not what is measured: one plain connection, large transactions.
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA synchronous=OFF")
        done = 0
        while done < count:
            chunk = min(100_000, count - done)
            connection.executemany(
                "INSERT INTO record (record_id, camera_id, epoch, match_token, received_at, data)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows(chunk),
            )
            connection.commit()
            done += chunk
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def _delete_runs(base: Path, work: Path, count: int, runs: int) -> tuple[list[float], list[float]]:
    deletes, erases = [], []
    for _ in range(runs):
        shutil.copyfile(base, work)
        engine = make_engine(f"sqlite:///{work}")
        with session_scope(engine) as session:  # warm the cache the way a live server has it
            held = session.exec(
                select(func.count()).select_from(Record).where(col(Record.epoch) == PURGE_EPOCH)
            ).one()
        assert held == count
        start = time.perf_counter()
        with session_scope(engine) as session:
            result = session.exec(delete(Record).where(col(Record.epoch) == PURGE_EPOCH))
        deletes.append(time.perf_counter() - start)
        assert result.rowcount == count
        start = time.perf_counter()
        erase_free_space(engine)
        erases.append(time.perf_counter() - start)
        engine.dispose()
        for leftover in work.parent.glob(work.name + "*"):
            leftover.unlink()
    return deletes, erases


def destroy_rows(scratch: Path, runs: int) -> tuple[list[float], list[float]]:
    """A custodian's share row deleted + committed; and its whole retention run."""
    epochs = [PURGE_EPOCH + i for i in range(SHARES_HELD + 2 * runs)]
    # The clock where nothing is past retention yet.
    clock = ManualClock((PURGE_EPOCH + SHARES_HELD + 1) * DAY - 1)
    path = scratch / "custodian.db"
    settings = CustodianSettings(
        custodian_id="custodian-1", share_index=1, database_url=f"sqlite:///{path}",
        signing_key=seed(), box_key=seed(),
        dealer_key=b64e(bytes(SigningKey.generate().verify_key)), retention_days=SHARES_HELD,
    )  # fmt: skip
    app = create_custodian(settings, clock=clock)
    engine = app.state.engine
    with session_scope(engine) as session:
        for epoch in epochs:
            session.add(
                Share(
                    epoch=epoch, share_index=1, custodians=3, commitments=os.urandom(140),
                    scalar=os.urandom(32), token_key=os.urandom(32),
                    token_scheme=SCHEME, received_at=0,
                )
            )  # fmt: skip
    # (a) the share row alone: the newest epochs, so retention below never reaches them.
    plain = []
    for epoch in epochs[-runs:]:
        start = time.perf_counter()
        with session_scope(engine) as session:
            session.exec(delete(Share).where(col(Share.epoch) == epoch))
        plain.append(time.perf_counter() - start)
    # (a') the custodian's retention run, one epoch per day that passes.
    whole = []
    for _ in range(runs):
        clock.advance(DAY)
        start = time.perf_counter()
        destroyed = destroy_expired(app.state.custodian, actor="bench")
        whole.append(time.perf_counter() - start)
        assert len(destroyed) == 1
    engine.dispose()
    return plain, whole


def purge_rows(scratch: Path, plan: Scale) -> list[Row]:
    count = plan.purge_records
    base = scratch / "records-purge.db"
    start = time.perf_counter()
    _records_db(base, count)
    load = time.perf_counter() - start
    file_mib = base.stat().st_size / (1 << 20)
    deletes, erases = _delete_runs(base, scratch / "records-work.db", count, plan.purge_runs)
    base.unlink()
    plain, whole = destroy_rows(scratch, plan.destroy_runs)
    n = f"{count:,}"
    rows = [
        row("purge by key destruction: one custodian deletes its share row + commit", plain,
            unit="ms", scale=1e3, goal="≤ 10 ms"),
        row("purge by key destruction: the custodian's whole retention run "
            "(share row, audit entry, WAL checkpoint, VACUUM)",
            whole, unit="ms", scale=1e3, goal="≤ 10 ms"),
        row(f"purge by DELETE of {n} records (one epoch) + commit", deletes, unit="s", scale=1),
        row(f"purge by DELETE: then erase_free_space ({n} records: WAL checkpoint, VACUUM)", erases,
            unit="s", scale=1),
        figure(f"DELETE {n} records ÷ key destruction (share row)",
               statistics.median(deletes) / statistics.median(plain), unit="×", n=len(deletes)),
    ]  # fmt: skip
    for r in rows[2:4]:
        r.extra.update(
            records=count,
            data_bytes=PURGE_DATA_BYTES,
            db_mib=round(file_mib, 1),
            load_seconds=round(load, 1),
            sqlite="WAL, synchronous=FULL, secure_delete=ON",
        )
    return rows


# --- 3. warrant: search + threshold decryption ------------------------------------------


def warrant_rows(scratch: Path, plan: Scale) -> list[Row]:
    world = Deployment(scratch)
    world.ceremony(days=2)
    world.list_plate(PLATE)
    others = ["4DEF567", "9GHJ012", "2KLM345"]
    for plate in others:
        world.list_plate(plate)
    bundle = world.bundle()
    ok(world.ingest(*(world.seal_hit(PLATE, bundle) for _ in range(WARRANT_RECORDS))), 200)
    for plate in others:  # other hits in the table, which the search must pass over
        ok(world.ingest(*(world.seal_hit(plate, bundle) for _ in range(WARRANT_RECORDS))), 200)
    ok(world.warrant("w-bench", [PLATE], max_records=WARRANT_RECORDS), 200)
    opened = len(world.investigate("w-bench").opened)
    if opened != WARRANT_RECORDS:
        raise RuntimeError(f"the warrant opened {opened} of {WARRANT_RECORDS} records")
    samples = time_per_call(
        lambda: world.investigate("w-bench"), number=1, repeat=plan.warrant_runs
    )
    per_record = [s / WARRANT_RECORDS for s in samples]
    result = row(f"warrant search + 2-of-3 decrypt, per record ({WARRANT_RECORDS} records, "
                 "in-process TestClient, 3 custodians asked)", per_record, unit="ms", scale=1e3,
                 goal="≤ 50 ms per record")  # fmt: skip
    result.extra.update(records=WARRANT_RECORDS, other_records=WARRANT_RECORDS * len(others))
    return [result]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_server", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run at small scale")
    args = parser.parse_args(list(argv or []))
    plan = scale(args.quick or os.environ.get("UNDERSEAL_BENCH_QUICK", "") not in {"", "0"})
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="underseal-bench-") as scratch:
        for part, name in (
            (ingest_rows, "ingest"),
            (purge_rows, "purge"),
            (warrant_rows, "warrant"),
        ):
            where = Path(scratch) / name
            where.mkdir()
            # Other work on the machine moves these figures: keep its load beside them.
            load = round(os.getloadavg()[0], 2)
            measured = part(where, plan)
            for r in measured:
                r.extra["load_average_1m_before"] = load
            rows += measured
    # A smoke run never overwrites the real figures.
    path = report("server-quick" if plan.quick else "server", rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
