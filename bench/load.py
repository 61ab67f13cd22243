"""The load generator (issue 9): many cameras and investigators at once against the records server.

For each back end (SQLite with one server process; PostgreSQL with 1, 2 and
4 uvicorn worker processes), a deployment is prepared (not timed): cameras
enrolled each with its own keys, a hotlist of several plates, investigators
each holding a granted warrant. The real records server is started on
127.0.0.1 and driven in steps of rising concurrency. Each step runs a fixed
number of virtual users in a closed loop (each sends its next request when
the previous answer arrives), until the step's seconds or its request count
run out:

- about 1 user in 8 (at least one) is an investigator, who searches under
  their warrant (POST /v1/warrants/ID/search);
- the others are cameras, each sending batches of sealed hits (POST
  /v1/camera/records); the step's every ``--bundle-every``-th camera
  request (20th by default) fetches that camera's hotlist bundle instead
  (GET /v1/camera/bundle).

Records are sealed and the ingest bodies built between steps (sealing is
the camera's cost, not the server's); every request is signed as it is
sent. Per step and operation: requests/s, records/s, p50 and p99 latency
(nearest rank), errors (any non-2xx answer, transport error, or an ingest
that stored fewer records than it sent; the first error's text is kept).
Per back end: the peak held throughput (records/s of a step without
errors), where it saturates (the first step reaching 90 % of that peak, or,
if earlier, where p99 more than doubles for under 10 % more throughput),
and whether the records in the database are exactly the ones acknowledged.

``make load`` (``python -m bench.load``) writes ``bench/results/load.json``;
``--quick`` is a smoke run, written to ``load-quick.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx2 as httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func
from sqlmodel import Session, select
from underseal_server.db import make_engine
from underseal_server.records.models import Record

from bench._load_world import LoadCamera, LoadInvestigator, LoadWorld, prepare_load
from bench._server_world import INGEST_PATH, ingest_body, records_server, seal_hits, signed_headers
from bench.bench_server import CROP_BYTES, percentile
from bench.harness import Row, figure, report
from tests.server.pgcluster import PostgresCluster, pg_bin

__all__ = [
    "BACKENDS",
    "SATURATION_RULE",
    "Backend",
    "BackendResult",
    "Plan",
    "StepResult",
    "main",
    "plan_for",
    "run",
    "saturation",
    "write",
]

BUNDLE_PATH = "/v1/camera/bundle"
OPERATIONS = ("ingest", "bundle", "search")
REQUEST_TIMEOUT = 60.0
"""Seconds before a request counts as failed (a transport error)."""
POOL_MARGIN = 1.25
"""Batches sealed per camera before a step: this times its even share of the request bound."""

SATURATION_RULE = (
    "held throughput: a step's ingest records/s when the step had no error; peak: the highest "
    "held throughput of the back end; it saturates at the first step whose held throughput "
    "reaches 90 % of the peak, or, if earlier, the first step whose ingest p99 is more than "
    "twice the previous step's while its throughput is less than 10 % above the previous "
    "step's; 'not reached' when that step is the last and its throughput still rose 10 % or "
    "more over the step before"
)


@dataclass(frozen=True, slots=True)
class Backend:
    """A database and how many server processes stand in front of it."""

    key: str
    label: str
    postgres: bool
    workers: int


BACKENDS = {
    b.key: b
    for b in (
        Backend("sqlite", "SQLite, 1 process", postgres=False, workers=1),
        Backend("pg1", "PostgreSQL, 1 process", postgres=True, workers=1),
        Backend("pg2", "PostgreSQL, 2 processes", postgres=True, workers=2),
        Backend("pg4", "PostgreSQL, 4 processes", postgres=True, workers=4),
    )
}


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run does: back ends, steps of virtual users, and each step's bounds."""

    quick: bool
    backends: tuple[str, ...]
    steps: tuple[int, ...]
    """Virtual users per step (cameras plus investigators)."""
    seconds: float
    """A step ends when this much time has passed ..."""
    max_requests: int
    """... or when this many requests have been sent, whichever comes first."""
    batch: int = 10
    """Sealed hits per ingest request."""
    bundle_every: int = 20
    """The step's every n-th camera request fetches that camera's bundle instead of ingesting."""
    max_records: int = 100
    """Each warrant's record limit: what one search returns at most."""
    crop_bytes: int = CROP_BYTES

    @property
    def cameras(self) -> int:
        return max(cameras_in(users) for users in self.steps)

    @property
    def investigators(self) -> int:
        return max(investigators_in(users) for users in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "quick": self.quick,
            "backends": [BACKENDS[b].label for b in self.backends],
            "steps_users": list(self.steps),
            "step_seconds": self.seconds,
            "step_max_requests": self.max_requests,
            "batch_records": self.batch,
            "bundle_every": self.bundle_every,
            "warrant_max_records": self.max_records,
            "crop_bytes": self.crop_bytes,
            "cameras_enrolled": self.cameras,
            "investigators": self.investigators,
        }


def plan_for(quick: bool) -> Plan:
    """The full run (about 5 minutes on 2 cores), or a smoke run (``quick``)."""
    if quick:
        return Plan(True, tuple(BACKENDS), (2, 4, 8), seconds=2.0, max_requests=300)
    return Plan(False, tuple(BACKENDS), (2, 4, 8, 16, 32, 64), seconds=8.0, max_requests=1_500)


def investigators_in(users: int) -> int:
    """About 1 user in 8 is an investigator, and at least one."""
    return max(1, users // 8)


def cameras_in(users: int) -> int:
    return max(1, users - investigators_in(users))


# --- one step ------------------------------------------------------------------------------


@dataclass(slots=True)
class Op:
    """What one kind of request did in a step."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    records: int = 0
    """Records stored (ingest) or returned (search)."""
    stored_at: list[tuple[float, int]] = field(default_factory=list)
    """(perf_counter at the answer, records it stored): the per-second throughput."""

    def fail(self, problem: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or problem

    def to_json(self, seconds: float) -> dict[str, Any]:
        n = len(self.latencies)
        return {
            "requests": n,
            "requests_per_s": round(n / seconds, 2),
            "records": self.records,
            "records_per_s": round(self.records / seconds, 1),
            "p50_ms": round(percentile(self.latencies, 50) * 1e3, 2) if n else None,
            "p99_ms": round(percentile(self.latencies, 99) * 1e3, 2) if n else None,
            "errors": self.errors,
            "first_error": self.first_error,
        }


@dataclass(slots=True)
class StepResult:
    """One step: its users, how long it ran, why it ended, and each operation's figures."""

    users: int
    cameras: int
    investigators: int
    seconds: float = 0.0
    ended_by: str = "time"
    """``time``, ``count`` (the request bound), or ``records`` (a camera ran out of sealed hits)."""
    ops: dict[str, Op] = field(default_factory=lambda: {name: Op() for name in OPERATIONS})
    camera_requests: int = 0

    @property
    def errors(self) -> int:
        return sum(op.errors for op in self.ops.values())

    started: float = 0.0

    @property
    def ingest_rate(self) -> float:
        """Records stored per second over the whole step."""
        return self.ops["ingest"].records / self.seconds if self.seconds else 0.0

    def ingest_per_second(self) -> list[int]:
        """Records stored in each whole second of the step (a partial last second dropped)."""
        windows = [0] * int(self.seconds)
        for at, stored in self.ops["ingest"].stored_at:
            second = int(at - self.started)
            if second < len(windows):
                windows[second] += stored
        return windows

    @property
    def ingest_p99(self) -> float:
        latencies = self.ops["ingest"].latencies
        return percentile(latencies, 99) if latencies else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "cameras": self.cameras,
            "investigators": self.investigators,
            "seconds": round(self.seconds, 3),
            "ended_by": self.ended_by,
            "requests": sum(len(op.latencies) for op in self.ops.values()),
            "errors": self.errors,
            "ops": {name: op.to_json(self.seconds) for name, op in self.ops.items()},
        }


class Gate:
    """Admits requests until the step's deadline or request bound (one event loop: no lock)."""

    def __init__(self, seconds: float, max_requests: int) -> None:
        self.deadline = time.perf_counter() + seconds
        self.left = max_requests
        self.ended_by = ""

    def admit(self) -> bool:
        if self.ended_by:
            return False
        if time.perf_counter() >= self.deadline:
            self.ended_by = "time"
        elif self.left <= 0:
            self.ended_by = "count"
        else:
            self.left -= 1
            return True
        return False


async def _send(op: Op, request: Awaitable[httpx.Response]) -> httpx.Response | None:
    """Await ``request``, timing it into ``op``; None (and an error counted) unless it was 2xx."""
    start = time.perf_counter()
    try:
        reply = await request
    except httpx.HTTPError as error:
        op.latencies.append(time.perf_counter() - start)
        op.fail(f"{type(error).__name__}: {error}"[:300])
        return None
    op.latencies.append(time.perf_counter() - start)
    if not 200 <= reply.status_code < 300:
        op.fail(f"HTTP {reply.status_code}: {reply.text[:200]}")
        return None
    return reply


async def _camera(
    client: httpx.AsyncClient,
    camera: LoadCamera,
    pool: deque[bytes],
    gate: Gate,
    step: StepResult,
    plan: Plan,
) -> None:
    while gate.admit():
        # The step's every n-th camera request, whichever camera sends it, fetches a bundle:
        # the same share at every concurrency.
        step.camera_requests += 1
        if step.camera_requests % plan.bundle_every == 0:
            headers = signed_headers(camera.key, camera.id, "GET", BUNDLE_PATH)
            await _send(step.ops["bundle"], client.get(BUNDLE_PATH, headers=headers))
            continue
        if not pool:
            gate.ended_by = gate.ended_by or "records"
            return
        body = pool.popleft()
        headers = signed_headers(camera.key, camera.id, "POST", INGEST_PATH, body)
        ingest = step.ops["ingest"]
        reply = await _send(ingest, client.post(INGEST_PATH, content=body, headers=headers))
        if reply is not None:
            stored = int(reply.json()["stored"])
            ingest.records += stored
            ingest.stored_at.append((time.perf_counter(), stored))
            if stored != plan.batch:
                ingest.fail(f"stored {stored} of {plan.batch} new records")


async def _investigator(
    client: httpx.AsyncClient, investigator: LoadInvestigator, gate: Gate, step: StepResult
) -> None:
    headers = {"authorization": f"Bearer {investigator.token}"}
    path = f"/v1/warrants/{investigator.warrant_id}/search"
    search = step.ops["search"]
    while gate.admit():
        reply = await _send(search, client.post(path, headers=headers))
        if reply is not None:
            search.records += len(reply.json()["records"])


async def run_step(
    base_url: str,
    world: LoadWorld,
    pools: dict[str, deque[bytes]],
    users: int,
    plan: Plan,
    tick: Callable[[float, int], None] | None = None,
) -> StepResult:
    """``users`` virtual users against ``base_url`` until the step's time or count runs out."""
    step = StepResult(users, cameras_in(users), investigators_in(users))
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=REQUEST_TIMEOUT, limits=limits
    ) as client:
        # Open every user's connection before the clock starts.
        await asyncio.gather(*(client.get("/v1/health") for _ in range(users)))
        gate = Gate(plan.seconds, plan.max_requests)
        start = step.started = time.perf_counter()
        users_done = asyncio.gather(
            *(
                _camera(client, camera, pools[camera.id], gate, step, plan)
                for camera in world.cameras[: step.cameras]
            ),
            *(
                _investigator(client, investigator, gate, step)
                for investigator in world.investigators[: step.investigators]
            ),
        )
        while tick is not None and not users_done.done():
            tick(time.perf_counter() - start, plan.max_requests - gate.left)
            await asyncio.wait([users_done], timeout=0.25)
        await users_done
        step.seconds = time.perf_counter() - start
        step.ended_by = gate.ended_by or "time"
    return step


def top_up(world: LoadWorld, pools: dict[str, deque[bytes]], users: int, plan: Plan) -> int:
    """Seal hits for the step's cameras until each holds its share of the request bound.

    Returns the number of records sealed (not timed: this is the cameras' work).
    """
    share = math.ceil(POOL_MARGIN * plan.max_requests / users) + 2
    sealed = 0
    for camera in world.cameras[: cameras_in(users)]:
        pool = pools[camera.id]
        missing = share - len(pool)
        if missing <= 0:
            continue
        records = seal_hits(
            world.prepared,
            missing * plan.batch,
            crop_bytes=plan.crop_bytes,
            camera_id=camera.id,
            camera_key=camera.key,
            plates=world.plates,
        )
        pool.extend(
            ingest_body(records[i : i + plan.batch]) for i in range(0, len(records), plan.batch)
        )
        sealed += len(records)
    return sealed


# --- one back end -------------------------------------------------------------------------


@dataclass(slots=True)
class BackendResult:
    """A back end's steps and its integrity count."""

    backend: Backend
    steps: list[StepResult]
    acknowledged: int = 0
    stored: int = 0
    setup_seconds: float = 0.0
    sealed: int = 0
    idle_health_ms: float = 0.0
    """Median of sequential GET /v1/health on one keep-alive connection, before the steps."""


def idle_round_trip(base_url: str, requests: int = 21) -> float:
    """Seconds, median, of a GET /v1/health on one idle keep-alive connection.

    About 40 ms instead of about 1 ms means the server's connections run with
    Nagle's algorithm on, each answer after the first waiting for the client's
    delayed ACK (``uvicorn --workers`` leaves TCP_NODELAY off: Kludex/uvicorn#3149).
    """
    samples = []
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client:
        client.get("/v1/health")
        for _ in range(requests):
            start = time.perf_counter()
            client.get("/v1/health")
            samples.append(time.perf_counter() - start)
    return percentile(samples, 50)


def count_records(database_url: str) -> int:
    """How many records the records server's database holds."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return int(session.exec(select(func.count()).select_from(Record)).one())
    finally:
        engine.dispose()


def run_backend(
    backend: Backend,
    scratch: Path,
    plan: Plan,
    cluster: PostgresCluster | None,
    console: Console,
) -> BackendResult:
    """Prepare a deployment on ``backend``, start its server(s), run every step, count."""
    scratch.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    world = prepare_load(
        scratch,
        cluster.database if backend.postgres and cluster is not None else None,
        cameras=plan.cameras,
        investigators=plan.investigators,
        max_records=plan.max_records,
    )
    result = BackendResult(backend, [], setup_seconds=time.perf_counter() - start)
    pools: dict[str, deque[bytes]] = {camera.id: deque() for camera in world.cameras}
    log = scratch / "server.log"
    with records_server(world.prepared.settings, log=log, workers=backend.workers) as server:
        base_url = server.url
        result.idle_health_ms = idle_round_trip(base_url) * 1e3
        console.print(f"  idle round trip (GET /v1/health): {result.idle_health_ms:.1f} ms")
        for users in plan.steps:
            result.sealed += top_up(world, pools, users, plan)
            step = _run_with_progress(base_url, world, pools, users, plan, backend, console)
            result.steps.append(step)
    result.acknowledged = sum(step.ops["ingest"].records for step in result.steps)
    result.stored = count_records(world.database_url)
    return result


def _run_with_progress(
    base_url: str,
    world: LoadWorld,
    pools: dict[str, deque[bytes]],
    users: int,
    plan: Plan,
    backend: Backend,
    console: Console,
) -> StepResult:
    label = (
        f"{backend.label}: {users} users "
        f"({cameras_in(users)} cameras, {investigators_in(users)} investigators)"
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[sent]} requests"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=plan.seconds, sent=0)

        def tick(elapsed: float, sent: int) -> None:
            progress.update(task, completed=min(elapsed, plan.seconds), sent=sent)

        step = asyncio.run(run_step(base_url, world, pools, users, plan, tick))
    ingest = step.ops["ingest"].to_json(step.seconds)
    console.print(
        f"  {label}: {ingest['records_per_s']:,} records/s, ingest p99 {ingest['p99_ms']} ms, "
        f"{step.errors} errors ({step.seconds:.1f} s, ended by {step.ended_by})"
    )
    return step


def run(
    plan: Plan, scratch: Path, *, cluster: PostgresCluster | None, console: Console
) -> list[BackendResult]:
    """Every back end of ``plan`` in turn (PostgreSQL ones only with ``cluster``)."""
    results = []
    for key in plan.backends:
        backend = BACKENDS[key]
        if backend.postgres and cluster is None:
            continue
        console.print(f"[bold]{backend.label}[/bold]: preparing the deployment")
        results.append(run_backend(backend, scratch / key, plan, cluster, console))
        console.print(steps_table(results[-1]))
    return results


# --- what the figures say -----------------------------------------------------------------


def saturation(steps: Sequence[StepResult]) -> dict[str, Any]:
    """Peak held throughput and the saturating step, by :data:`SATURATION_RULE`."""
    held = [(s.ingest_rate if s.errors == 0 else 0.0) for s in steps]
    peak = max(held, default=0.0)
    if peak <= 0:
        return {"peak_records_per_s": 0.0, "peak_users": None, "saturates_at_users": None,
                "reached": False, "why": "no step held any throughput without errors"}  # fmt: skip
    chosen, why = len(steps) - 1, ""
    for i, step in enumerate(steps):
        if held[i] >= 0.9 * peak:
            chosen, why = i, "reaches 90 % of the peak"
            break
        worse = i > 0 and step.ingest_p99 > 2 * steps[i - 1].ingest_p99
        if worse and held[i - 1] > 0 and held[i] < 1.1 * held[i - 1]:
            chosen, why = i, "p99 more than doubled while throughput gained under 10 %"
            break
    still_rising = chosen == len(steps) - 1 and (
        chosen == 0 or held[chosen] >= 1.1 * held[chosen - 1]
    )
    return {
        "peak_records_per_s": round(peak, 1),
        "peak_users": steps[held.index(peak)].users,
        "saturates_at_users": None if still_rising else steps[chosen].users,
        "reached": not still_rising,
        "why": "not reached: throughput still rising at the last step" if still_rising else why,
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def steps_table(result: BackendResult) -> Table:
    """Per step and operation: requests/s (records/s), p50 / p99 ms; errors, why it ended."""
    table = Table(title=f"load: {result.backend.label} (latencies in ms)")
    table.add_column("users\ncam+inv", justify="right")
    for name in OPERATIONS:
        rate = "req/s" if name == "bundle" else "req/s (rec/s)"
        table.add_column(f"{name}\n{rate}", justify="right", no_wrap=True)
        table.add_column(f"{name}\np50 / p99", justify="right", no_wrap=True)
    table.add_column("errors", justify="right")
    table.add_column("ended\nby")
    for step in result.steps:
        cells = [f"{step.users} = {step.cameras}+{step.investigators}"]
        for name in OPERATIONS:
            op = step.ops[name].to_json(step.seconds)
            rate = f"{op['requests_per_s']:,.1f}"
            if name != "bundle":
                rate += f" ({op['records_per_s']:,.0f})"
            cells += [rate, f"{_ms(op['p50_ms'])} / {_ms(op['p99_ms'])}"]
        cells += [str(step.errors), step.ended_by]
        table.add_row(*cells)
    return table


def rows_of(results: Sequence[BackendResult]) -> list[Row]:
    """The rows of the report: each step's ingest throughput, then each back end's verdicts."""
    rows: list[Row] = []
    for result in results:
        label = f"load, {result.backend.label}"
        for step in result.steps:
            name = (
                f"{label}, {step.users} users ({step.cameras} cameras, "
                f"{step.investigators} investigators): ingest records/s"
            )
            # The median of the step's whole seconds, with their spread; the step's
            # average (what saturation is judged on) is in the extra fields.
            windows = step.ingest_per_second() or [round(step.ingest_rate)]
            rows.append(
                Row(name, statistics.median(windows), "rec/s", min(windows), max(windows),
                    len(windows), extra={"backend": result.backend.label,
                                         "per_second": windows, **step.to_json()})
            )  # fmt: skip
        verdict = saturation(result.steps)
        rows.append(
            figure(f"{label}: peak held ingest records/s (no errors)",
                   verdict["peak_records_per_s"], unit="rec/s", n=len(result.steps),
                   backend=result.backend.label, users=verdict["peak_users"])
        )  # fmt: skip
        last = result.steps[-1].users if result.steps else 0
        rows.append(
            figure(f"{label}: saturates at" if verdict["reached"] else f"{label}: not saturated by",
                   verdict["saturates_at_users"] or last, unit="users", n=len(result.steps),
                   backend=result.backend.label, rule=SATURATION_RULE, **verdict)
        )  # fmt: skip
        errors = sum(step.errors for step in result.steps)
        first = next(
            (op.first_error for s in result.steps for op in s.ops.values() if op.errors), ""
        )
        rows.append(
            figure(f"{label}: errors, all steps and operations", errors, unit="errors",
                   n=sum(len(op.latencies) for s in result.steps for op in s.ops.values()),
                   goal="0", backend=result.backend.label, first_error=first)
        )  # fmt: skip
        rows.append(
            # Stored minus acknowledged: 0 when nothing was lost or stored twice.
            figure(f"{label}: records acknowledged vs stored",
                   result.stored - result.acknowledged, unit="records", n=1,
                   goal=f"0 (of {result.acknowledged:,} acknowledged)",
                   backend=result.backend.label, acknowledged=result.acknowledged,
                   stored=result.stored, equal=result.acknowledged == result.stored)
        )  # fmt: skip
    return rows


def notes() -> list[str]:
    cores = os.cpu_count()
    return [
        f"The generator (one asyncio process, httpx2) and the server processes (and PostgreSQL) "
        f"share this machine's {cores} cores: the generator's CPU is taken from the servers, and "
        "its event loop's delays are part of the latencies.",
        "Closed loop: each virtual user sends its next request when the previous answer "
        "arrives, with no think time; a step's throughput is what it completed over its "
        "duration, the last answers included.",
        "Sealing records and building ingest bodies is the cameras' work, done between steps "
        "and not timed; each request is signed when it is sent.",
        "Records accumulate over a back end's steps: later steps ingest into, and search, a "
        "larger table. Each back end starts from an empty database.",
        "SQLite: WAL, synchronous=FULL, one process. PostgreSQL: one throw-away cluster, fsync "
        "on, defaults; several processes are uvicorn workers on one socket, and a keep-alive "
        "connection stays with the worker that accepted it.",
        "Latencies are nearest-rank percentiles of every request of the step.",
        "A step's ingest records/s row is the median of its whole seconds (low and high: the "
        "slowest and fastest second); the step's average over its whole duration is "
        "ops.ingest.records_per_s, and saturation is judged on it.",
        "idle_health_p50_ms: GET /v1/health, one at a time on one keep-alive connection, before "
        "the steps; about 40 ms instead of about 1 ms would mean the server answers with Nagle's "
        "algorithm on (uvicorn --workers leaves TCP_NODELAY off, Kludex/uvicorn#3149; "
        "`underseal-server records serve --workers` binds its own socket to avoid it), and each "
        "answer after a connection's first may wait for a delayed ACK.",
    ]


def write(plan: Plan, results: Sequence[BackendResult], skipped: Sequence[str] = ()) -> Path:
    """The table and ``bench/results/load[-quick].json``, with the plan, rule and notes added."""
    path = report("load-quick" if plan.quick else "load", rows_of(results))
    payload = json.loads(path.read_text())
    payload["load"] = {
        "plan": plan.to_json(),
        "saturation_rule": SATURATION_RULE,
        "notes": notes(),
        "skipped": list(skipped),
        "backends": [
            {
                "backend": r.backend.label,
                "server_processes": r.backend.workers,
                "setup_seconds": round(r.setup_seconds, 1),
                "records_sealed": r.sealed,
                "idle_health_p50_ms": round(r.idle_health_ms, 2),
                "acknowledged": r.acknowledged,
                "stored": r.stored,
                "saturation": saturation(r.steps),
                "steps": [s.to_json() for s in r.steps],
            }
            for r in results
        ],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: steps 2, 4, 8 of 2 s")
    parser.add_argument("--seconds", type=float, help="seconds per step (default 8; quick 2)")
    parser.add_argument(
        "--max-requests", type=int, help="requests per step at most (default 1500; quick 300)"
    )
    parser.add_argument(
        "--steps", help="virtual users per step, comma-separated (default 2,4,8,16,32,64)"
    )
    parser.add_argument(
        "--backends",
        help=f"back ends to run, comma-separated, from {', '.join(BACKENDS)} (default: all)",
    )
    parser.add_argument(
        "--bundle-every", type=int, help="every n-th camera request fetches a bundle (default 20)"
    )
    args = parser.parse_args(list(argv or []))
    plan = plan_for(args.quick)
    if args.seconds is not None:
        plan = replace(plan, seconds=args.seconds)
    if args.max_requests is not None:
        plan = replace(plan, max_requests=args.max_requests)
    if args.bundle_every is not None:
        plan = replace(plan, bundle_every=args.bundle_every)
    if args.steps:
        plan = replace(plan, steps=tuple(int(s) for s in _csv(args.steps)))
    if args.backends:
        unknown = set(_csv(args.backends)) - set(BACKENDS)
        if unknown:
            parser.error(f"no such back end: {', '.join(sorted(unknown))}")
        plan = replace(plan, backends=tuple(_csv(args.backends)))
    if plan.seconds <= 0 or plan.max_requests < 1 or plan.bundle_every < 2 or not plan.steps:
        parser.error("steps, seconds, requests and bundle interval must be positive")
    if min(plan.steps) < 2:
        parser.error("a step needs at least 2 users (a camera and an investigator)")
    console = Console(width=150)
    skipped: list[str] = []
    wants_postgres = any(BACKENDS[b].postgres for b in plan.backends)
    with tempfile.TemporaryDirectory(prefix="underseal-load-") as scratch:
        if wants_postgres and pg_bin() is None:
            skipped = [BACKENDS[b].label for b in plan.backends if BACKENDS[b].postgres]
            console.print(
                "PostgreSQL is not installed (make setup installs it): skipping "
                + "; ".join(skipped)
            )
        if wants_postgres and not skipped:
            with PostgresCluster(durable=True) as cluster:
                results = run(plan, Path(scratch), cluster=cluster, console=console)
        else:
            results = run(plan, Path(scratch), cluster=None, console=console)
    path = write(plan, results, skipped)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
