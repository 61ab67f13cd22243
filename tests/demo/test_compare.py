"""`underseal compare` on a tiny city: both designs measured, the report written.

Runs the comparison in process with a configuration of a few seconds and
checks real properties of what it stored, not the prose.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner
from underseal_server.demo.cli import app
from underseal_server.demo.compare.report import CHARTS, write_report
from underseal_server.demo.compare.run import Results, run_comparison
from underseal_server.demo.compare.traffic import CityConfig, simulate

from underseal.plates import fold

TINY = CityConfig(
    seed=3, grid=8, cameras=12, days=7, reads_per_camera_day=250, hotlist_size=40, hit_rate=0.01
)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, Path]:
    root = tmp_path_factory.mktemp("compare")
    # Small chunks: each day arrives in several parts, as a city's day does by default.
    results = run_comparison(TINY, root / "work", quiet=True, chunk=1_000)
    report = write_report(results, root / "report", command="underseal compare --test")
    return results, report


def test_conventional_stores_every_read(run: tuple[Results, Path]) -> None:
    results, _ = run
    traffic = simulate(TINY)
    assert results.total_reads == traffic.total_reads > 10_000
    assert results.days[-1].conventional_records == results.total_reads
    assert [d.reads for d in results.days] == [len(d) for d in traffic.days]
    assert results.conventional_path is not None
    db = sqlite3.connect(results.conventional_path)
    (n,) = db.execute("SELECT count(*) FROM read").fetchone()
    db.close()
    assert n == results.total_reads


def test_underseal_stores_exactly_the_hits(run: tuple[Results, Path]) -> None:
    results, _ = run
    traffic = simulate(TINY)
    listed = {fold(p) for p in traffic.hotlist}
    hits = sum(1 for r in traffic.reads() if fold(r.plate) in listed)
    assert hits > 0
    assert results.days[-1].underseal_records == hits
    assert sum(d.hits for d in results.days) == hits
    assert results.underseal_path is not None
    db = sqlite3.connect(results.underseal_path)
    (n,) = db.execute("SELECT count(*) FROM record").fetchone()
    (alerts_left,) = db.execute("SELECT count(*) FROM alert").fetchone()
    db.close()
    assert n == hits
    assert alerts_left == 0  # dropped after their TTL, as the records server does
    db = sqlite3.connect(results.underseal_path)
    (counted,) = db.execute("SELECT sum(reads) FROM camera_hour").fetchone()
    (hours,) = db.execute("SELECT sum(hits) FROM camera_hour").fetchone()
    db.close()
    assert counted == results.total_reads  # the cameras' hourly totals count every read
    assert hours == hits


def test_alert_counts_are_equal_and_identical(run: tuple[Results, Path]) -> None:
    results, _ = run
    assert results.conventional_alerts == results.underseal_alerts > 0
    assert results.alerts_identical
    assert [c for c, u in results.alerts_per_day] == [u for c, u in results.alerts_per_day]


def test_no_non_hit_plate_in_underseal_bytes(run: tuple[Results, Path]) -> None:
    results, _ = run
    assert results.underseal_path is not None
    path = results.underseal_path
    data = b"".join(
        p.read_bytes()
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
        if p.exists()
    )
    plates = results.non_hit_plates()
    assert len(plates) > 1_000
    for plate in plates:
        assert plate.encode() not in data
        assert fold(plate).encode() not in data
    # The scan can see plates: the conventional file holds every one of them.
    assert results.conventional_path is not None
    conventional = results.conventional_path.read_bytes()
    assert all(p.encode() in conventional for p in plates[:200])


def test_adversaries_and_warrants(run: tuple[Results, Path]) -> None:
    results, _ = run
    truth = results.truth
    assert truth is not None
    breach = results.rows[1]
    assert breach.conventional == truth
    assert breach.measured
    assert breach.underseal.plates <= results.listed_in_city
    assert breach.underseal.observations == results.underseal_alerts
    assert truth.plates == results.vehicles
    assert truth.trajectories > breach.underseal.trajectories
    assert results.warrant_listed is not None
    conv_n, opened = results.warrant_listed
    assert conv_n == opened.found_by_token == opened.opened == opened.in_scope > 0
    assert results.warrant_unlisted is not None
    conv_n, opened = results.warrant_unlisted
    assert conv_n > 0
    assert opened.found_by_token == 0


def test_report_lists_assumptions_and_charts_are_pngs(run: tuple[Results, Path]) -> None:
    results, report = run
    text = report.read_text(encoding="utf-8")
    assumptions = text.split("## Assumptions", 1)[1].split("\n## ", 1)[0]
    bullets = [line for line in assumptions.splitlines() if line.startswith("- ")]
    assert len(bullets) >= 6
    assert "simulated as text" in assumptions
    assert "underseal compare --test" in text
    assert "argument" in text
    assert "measured" in text
    for name in CHARTS:
        png = (report.parent / name).read_bytes()
        assert png.startswith(PNG)
        assert len(png) < 200_000
        assert f"({name})" in text
    for plate in results.non_hit_plates():
        assert plate not in text


def test_cli_quick_run_prints_no_plate(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "compare",
            "--out",
            str(tmp_path / "out"),
            "--workdir",
            str(tmp_path / "work"),
            "--cameras",
            "10",
            "--days",
            "2",
            "--reads-per-camera-day",
            "200",
            "--hotlist-size",
            "20",
            "--seed",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "identical" in result.output
    assert (tmp_path / "out" / "README.md").exists()
    db = sqlite3.connect(tmp_path / "work" / "conventional.db")
    plates = [p for (p,) in db.execute("SELECT DISTINCT plate FROM read")]
    db.close()
    assert plates
    for plate in plates:
        assert plate not in result.output
