"""The load generator (``make load``) at a tiny scale: real servers, real requests, no timing.

Two short steps against the records server on SQLite (one process) and on
PostgreSQL (two worker processes). What is asserted is behaviour, never a
speed: no request failed, every operation ran, the database holds exactly
the records the server acknowledged, and the JSON carries its fields.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bench import harness
from bench.load import OPERATIONS, SATURATION_RULE, Plan, run, write
from tests.server.pgcluster import PostgresCluster

TINY = Plan(
    quick=True,
    backends=(),
    steps=(2, 4),
    seconds=300.0,  # never reached: each step ends by its request bound, however slow the machine
    max_requests=40,
    bundle_every=3,
    max_records=20,
    crop_bytes=200,
)


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plan: Plan, **kw: Any) -> dict[str, Any]:
    monkeypatch.setattr(harness, "RESULTS", tmp_path / "results")
    console = Console(file=io.StringIO(), width=150)
    results = run(plan, tmp_path / "scratch", console=console, **kw)
    path = write(plan, results)
    assert path == tmp_path / "results" / "load-quick.json"
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload


def _check(payload: dict[str, Any], label: str, processes: int) -> None:
    load = payload["load"]
    assert load["saturation_rule"] == SATURATION_RULE
    assert any("share" in note and "cores" in note for note in load["notes"])
    assert load["plan"]["steps_users"] == [2, 4]
    [backend] = load["backends"]
    assert backend["backend"] == label
    assert backend["server_processes"] == processes
    assert backend["idle_health_p50_ms"] > 0
    # Nothing lost, nothing stored twice: the table holds what was acknowledged.
    assert backend["stored"] == backend["acknowledged"] > 0
    assert {"peak_records_per_s", "saturates_at_users", "reached", "why"} <= set(
        backend["saturation"]
    )
    steps = backend["steps"]
    assert [(s["users"], s["cameras"], s["investigators"]) for s in steps] == [(2, 1, 1), (4, 3, 1)]
    for step in steps:
        assert step["errors"] == 0, step
        assert step["ended_by"] == "count"
        assert step["requests"] == TINY.max_requests
        assert step["seconds"] > 0
        for op in step["ops"].values():
            assert op["errors"] == 0
            assert op["first_error"] == ""
            assert set(op) >= {"requests_per_s", "records_per_s", "p50_ms", "p99_ms"}
    for step in steps:  # every operation ran in every step
        assert all(step["ops"][name]["requests"] > 0 for name in OPERATIONS), step["ops"]
    assert sum(s["ops"]["ingest"]["records"] for s in steps) == backend["acknowledged"]
    # Investigators found records the cameras had sent (each search at most the limit).
    searched = [s["ops"]["search"] for s in steps]
    assert sum(op["records"] for op in searched) > 0
    assert all(op["records"] <= op["requests"] * TINY.max_records for op in searched)
    rows = {row["name"]: row for row in payload["rows"]}
    integrity = rows[f"load, {label}: records acknowledged vs stored"]
    assert integrity["extra"]["equal"] is True
    assert integrity["median"] == 0
    assert rows[f"load, {label}: errors, all steps and operations"]["median"] == 0
    assert payload["machine"]["cores"]


def test_load_on_sqlite_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = replace(TINY, backends=("sqlite",))
    _check(_run(tmp_path, monkeypatch, plan, cluster=None), "SQLite, 1 process", 1)


def test_load_on_postgresql_two_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_cluster: PostgresCluster
) -> None:
    plan = replace(TINY, backends=("pg2",))
    payload = _run(tmp_path, monkeypatch, plan, cluster=postgres_cluster)
    _check(payload, "PostgreSQL, 2 processes", 2)
