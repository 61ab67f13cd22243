"""Hourly aggregate counts leave the camera, and nothing else with them; the server keeps them.

The camera's counters are sent by :meth:`CameraRuntime.report_stats` over
the signed uplink to the real records server behind the :class:`WireTap`;
the tests read back what the server stored and what its public daily view
shows, and scan every byte sent for plates and tokens.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from underseal_device.camera import cli
from underseal_device.camera.capture import FolderSource, MotionGate
from underseal_device.camera.counters import Counters, HourCounts, HourReport
from underseal_device.camera.runtime import CameraRuntime
from underseal_device.camera.tracking import Tracker

from tests.camera.conftest import CAMERA_ID, HOT, CameraWorld
from tests.camera.traffic import ColourReader, Vehicle, colour, render, write_folder
from tests.server.deployment import NOW
from underseal.encoding import b64e
from underseal.plates import fold

HOUR = NOW // 3600 * 3600
NON_HITS = ["5KXM209", "4TRW551"]
STATS_LINE = b"POST http://testserver/v1/camera/stats"


def traffic() -> list[Vehicle]:
    return [
        Vehicle(colour(0), start=2, frames=8, lane=0, readings=((HOT, 0.93),)),
        Vehicle(colour(1), start=14, frames=8, lane=1, readings=((NON_HITS[0], 0.9),)),
        Vehicle(colour(2), start=26, frames=8, lane=0, readings=((NON_HITS[1], 0.8),)),
    ]


def stats_sent(cw: CameraWorld) -> list[dict[str, Any]]:
    """The bodies of every stats request the camera sent, in order."""
    bodies = []
    for request in cw.tap.sent:
        if request.startswith(STATS_LINE):
            bodies.append(json.loads(request.split(b"\n\n", 1)[1]))
    return bodies


def stored(cw: CameraWorld) -> dict[int, tuple[int, ...]]:
    db = sqlite3.connect(cw.world.records_url.removeprefix("sqlite:///"))
    try:
        rows = db.execute(
            "SELECT camera_id, hour, frames, reads, passes, hits, uptime_seconds,"
            " healthy_seconds FROM camera_hour"
        ).fetchall()
    finally:
        db.close()
    assert all(row[0] == CAMERA_ID for row in rows)
    return {row[1]: tuple(row[2:]) for row in rows}


def counts(report: HourReport) -> tuple[int, ...]:
    r = report
    return (r.frames, r.reads, r.passes, r.hits, r.uptime_seconds, r.healthy_seconds)


def counters_with(hours: dict[int, HourCounts]) -> Counters:
    """Counters holding ``hours``, keyed by hours from the clock's current hour."""
    counters = Counters()
    for offset, value in hours.items():
        counters.hours[HOUR + 3600 * offset] = value
    return counters


def test_a_run_s_hourly_counts_reach_the_server_and_the_public_daily_view(
    camera_world: CameraWorld, tmp_path: Path
) -> None:
    cw = camera_world
    cw.runtime.sync()
    vehicles = traffic()
    pipeline = cw.runtime.pipeline(
        ColourReader(vehicles), tracker=Tracker(max_gap=0.35), motion=MotionGate()
    )
    pipeline.run(FolderSource(write_folder(tmp_path / "frames", render(vehicles, 40)), fps=10))
    cw.runtime.write_status(pipeline.counters)
    cw.world.clock.advance(30)
    cw.runtime.write_status(pipeline.counters)  # 30 s up, healthy (synced, bundle valid)
    hour = pipeline.counters.hours[HOUR]
    assert (hour.passes, hour.hits) == (3, 1)
    assert hour.frames > 0
    assert hour.reads >= 3 * 8
    assert (hour.uptime, hour.healthy) == (30.0, 30.0)

    report = cw.runtime.report_stats()
    assert (report.sent, report.refused, report.pending) == (1, 0, 0)
    expected = (hour.frames, hour.reads, 3, 1, 30, 30)
    assert stored(cw) == {HOUR: expected}
    assert stats_sent(cw) == [
        {
            "hours": [
                {
                    "hour": HOUR,
                    "frames": hour.frames,
                    "reads": hour.reads,
                    "passes": 3,
                    "hits": 1,
                    "uptime_seconds": 30,
                    "healthy_seconds": 30,
                }
            ]
        }
    ]
    daily = cw.world.records.get("/v1/public/stats/daily").json()["days"]
    assert daily == [
        {
            "date": "2026-09-21",
            "camera_id": CAMERA_ID,
            "frames": hour.frames,
            "reads": hour.reads,
            "passes": 3,
            "hits": 1,
            "hours": 1,
            "uptime_seconds": 30,
            "healthy_seconds": 30,
        }
    ]

    # Nothing about any vehicle went with the counts: no plate, folded plate or token.
    sent = b"\n".join(r for r in cw.tap.sent if r.startswith(STATS_LINE))
    bundle = cw.runtime.hotlist.bundle_for(NOW)  # type: ignore[union-attr]
    assert bundle is not None
    for plate in [HOT, *NON_HITS]:
        token = bundle.token_key.token(plate)
        for needle in (
            plate.encode(),
            fold(plate).encode(),
            token,
            b64e(token).encode(),
            base64.b64encode(token).rstrip(b"="),
            token.hex().encode(),
        ):
            assert needle not in sent


def test_an_acknowledged_hour_is_sent_again_only_when_it_grows(
    camera_world: CameraWorld,
) -> None:
    cw = camera_world
    counters = counters_with({0: HourCounts(frames=10, reads=4, passes=2, hits=0)})
    assert cw.runtime.report_stats(counters).sent == 1
    # Nothing changed: nothing is sent, not even a request.
    requests = len(cw.tap.sent)
    report = cw.runtime.report_stats(counters)
    assert (report.sent, report.pending) == (0, 0)
    assert len(cw.tap.sent) == requests
    # The current hour grows: it alone goes again, and the server takes the new counts.
    counters.hours[HOUR].frames += 5
    assert cw.runtime.report_stats(counters).sent == 1
    assert stored(cw)[HOUR][:4] == (15, 4, 2, 0)
    # An hour later: the finished hour is not sent again, only the new one.
    cw.world.clock.advance(3600)
    counters.hour(cw.world.clock()).frames += 7
    assert cw.runtime.report_stats(counters).sent == 1
    assert [[h["hour"] for h in body["hours"]] for body in stats_sent(cw)] == [
        [HOUR],
        [HOUR],
        [HOUR + 3600],
    ]
    assert {hour: row[0] for hour, row in stored(cw).items()} == {HOUR: 15, HOUR + 3600: 7}


def test_an_outage_is_retried_with_backoff_and_the_hours_wait_for_the_server(
    camera_world: CameraWorld,
) -> None:
    cw = camera_world
    counters = counters_with({0: HourCounts(frames=3, reads=2, passes=1, hits=1)})
    cw.tap.down = True
    # The run loop's delivery thread: one try per round, no sleeping.
    report = cw.runtime.report_stats(counters, retry=False)
    assert (report.sent, report.failed_attempts, report.pending) == (0, 1, 1)
    assert cw.sleeps == []
    # With retries: the uplink's backoff, then it gives up for this round.
    report = cw.runtime.report_stats(counters)
    assert (report.sent, report.failed_attempts, report.pending) == (0, 1, 1)
    assert cw.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert stored(cw) == {}
    cw.tap.down = False
    report = cw.runtime.report_stats(counters)
    assert (report.sent, report.pending) == (1, 0)
    assert stored(cw) == {HOUR: (3, 2, 1, 1, 0, 0)}


def test_a_lost_answer_is_retried_with_a_fresh_nonce_and_stored_once(
    camera_world: CameraWorld,
) -> None:
    cw = camera_world
    counters = counters_with({0: HourCounts(frames=9, reads=5, passes=2, hits=0)})
    cw.tap.drop_answers = 1  # the server stores it, the camera never hears back
    report = cw.runtime.report_stats(counters)
    assert (report.sent, report.pending) == (1, 0)
    assert len(cw.sleeps) == 1
    nonces = {
        line
        for request in cw.tap.sent
        if request.startswith(STATS_LINE)
        for line in request.split(b"\n")
        if line.startswith(b"x-underseal-nonce")
    }
    assert len(stats_sent(cw)) == len(nonces) == 2
    assert stored(cw) == {HOUR: (9, 5, 2, 0, 0, 0)}


def test_a_refused_hour_is_set_aside_and_the_others_are_stored(
    camera_world: CameraWorld, caplog: pytest.LogCaptureFixture
) -> None:
    cw = camera_world
    # An hour two hours ahead (a clock that jumped) is refused; the others must not wait on it.
    counters = counters_with(
        {-2: HourCounts(frames=1), 0: HourCounts(frames=2), 2: HourCounts(frames=3)}
    )
    report = cw.runtime.report_stats(counters)
    assert (report.sent, report.refused, report.pending) == (2, 1, 0)
    assert {hour: row[0] for hour, row in stored(cw).items()} == {HOUR - 7200: 1, HOUR: 2}
    assert "future_hour" in caplog.text
    # Not sent again until it changes.
    requests = len(cw.tap.sent)
    assert cw.runtime.report_stats(counters).sent == 0
    assert len(cw.tap.sent) == requests


def test_a_restarted_camera_goes_on_with_its_hours(camera_world: CameraWorld) -> None:
    cw = camera_world
    cw.runtime.sync()
    counters = counters_with({-1: HourCounts(frames=4), 0: HourCounts(frames=8, reads=3, passes=1)})
    cw.runtime.write_status(counters)
    assert cw.runtime.report_stats().sent == 2  # the hours write_status published
    before = stored(cw)
    cw.runtime.close()
    # A new process: the hours come back from status.json, and the pipeline counts on.
    again = CameraRuntime(cw.state, client=cw.client(), clock=cw.world.clock)
    try:
        pipeline = again.pipeline(ColourReader([]))
        assert pipeline.counters.hour_reports() == counters.hour_reports()
        # It does not know what the server acknowledged: it sends them once more, harmlessly.
        assert again.report_stats(pipeline.counters).sent == 2
        assert stored(cw) == before
        # Even a camera that lost its counts cannot lower an hour already reported.
        assert again.report_stats(counters_with({0: HourCounts(frames=1)})).sent == 1
        assert stored(cw) == before
    finally:
        again.close()


def test_stored_hours_that_do_not_parse_or_are_out_of_range_are_skipped() -> None:
    counters = Counters()
    restored = counters.restore_hours(
        {
            str(HOUR): {"frames": 1, "reads": 0, "passes": 0, "hits": 0},
            str(HOUR - 3600): {"frames": -1},
            str(HOUR - 7200): {"frames": True},
            str(HOUR - 10_800): {"plate": "7ABC123"},
            str(HOUR + 3600): {"frames": 1},  # the future
            str(HOUR - 49 * 3600): {"frames": 1},  # older than the two days kept
            str(HOUR - 1800): {"frames": 1},  # not an hour's start
            "soon": {"frames": 1},
            str(HOUR - 14_400): "many",
        },
        now=NOW,
    )
    assert restored == 1
    assert list(counters.hours) == [HOUR]
    assert Counters().restore_hours(None, now=NOW) == 0


def test_health_time_is_split_at_the_hour_and_long_gaps_do_not_count() -> None:
    counters = Counters()
    end_of_hour = HOUR + 3600
    counters.observe_health(end_of_hour - 20, ok=True)
    counters.observe_health(end_of_hour + 10, ok=True)
    counters.observe_health(end_of_hour + 40, ok=False)
    counters.observe_health(end_of_hour + 400, ok=True)  # a 6-minute gap: not running
    counters.observe_health(end_of_hour + 401, ok=True)
    assert counts(HourReport.of(HOUR, counters.hours[HOUR]))[4:] == (20, 20)
    assert counts(HourReport.of(end_of_hour, counters.hours[end_of_hour]))[4:] == (41, 11)


# A reader for `run --reader tests.camera.test_stats:scripted_reader`.
def scripted_reader() -> ColourReader:
    return ColourReader(traffic())


def test_the_run_command_sends_the_hourly_counts(
    tmp_path: Path, camera_world: CameraWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    cw = camera_world
    folder = write_folder(tmp_path / "f", render(traffic(), 40))
    cw.runtime.close()
    monkeypatch.setattr(
        cli,
        "_runtime",
        lambda state, server: CameraRuntime(state, client=cw.client(), clock=cw.world.clock),
    )
    result = CliRunner().invoke(
        cli.app,
        ["run", "--state-dir", str(cw.state.root), "--source", str(folder),
         "--server", "http://testserver", "--reader", "tests.camera.test_stats:scripted_reader",
         "--deliver-interval", "0.1", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    status = json.loads((cw.state.root / "status.json").read_text())
    hour = status["hours"][str(HOUR)]
    assert (hour["passes"], hour["hits"]) == (3, 1)
    assert stored(cw)[HOUR][:4] == (hour["frames"], hour["reads"], 3, 1)
    assert stats_sent(cw), "the run loop sent no stats"
