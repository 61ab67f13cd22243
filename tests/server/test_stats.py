"""Cameras' hourly aggregates: signed, counts only, idempotent, summed to public days."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from underseal_server.db import make_engine

from tests.server.conftest import UrlFactory
from tests.server.deployment import CAMERA, NOW, Deployment
from underseal.signed_requests import sign_request

STATS = "/v1/camera/stats"
HOUR = NOW // 3600 * 3600  # the hour the deployment's clock is in
DAY = NOW // 86_400 * 86_400


@pytest.fixture
def world(tmp_path: Path, database: UrlFactory | None) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path, database_url=database)
    yield deployment
    deployment.close()


def hour(start: int, **counts: int) -> dict[str, int]:
    base = {
        "frames": 100,
        "reads": 40,
        "passes": 10,
        "hits": 1,
        "uptime_seconds": 3600,
        "healthy_seconds": 3500,
    }
    return {"hour": start, **base, **counts}


def body(*hours: dict[str, Any]) -> bytes:
    return json.dumps({"hours": list(hours)}).encode()


def stored(world: Deployment) -> list[tuple[Any, ...]]:
    engine = make_engine(world.records_url)
    try:
        with engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.execute(
                    text(
                        "SELECT camera_id, hour, day, frames, reads, passes, hits,"
                        " uptime_seconds, healthy_seconds FROM camera_hour ORDER BY hour"
                    )
                )
            ]
    finally:
        engine.dispose()


def error_code(reply: Any) -> str:
    return str(reply.json()["error"]["code"])


def test_a_report_is_stored_per_camera_and_hour(world: Deployment) -> None:
    reply = world.camera_request("POST", STATS, body(hour(HOUR - 3600), hour(HOUR, frames=7)))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"hours": 2}
    assert stored(world) == [
        (CAMERA, HOUR - 3600, HOUR // 86_400, 100, 40, 10, 1, 3600, 3500),
        (CAMERA, HOUR, HOUR // 86_400, 7, 40, 10, 1, 3600, 3500),
    ]


def test_resending_an_hour_keeps_the_largest_counts(world: Deployment) -> None:
    first = body(hour(HOUR, frames=50, reads=20, passes=5, hits=0))
    assert world.camera_request("POST", STATS, first).status_code == 200
    # The same report again (a retry whose answer was lost): nothing changes.
    assert world.camera_request("POST", STATS, first).status_code == 200
    assert [r[3:7] for r in stored(world)] == [(50, 20, 5, 0)]
    # The hour grew: the new counts replace the old.
    grown = body(hour(HOUR, frames=80, reads=30, passes=8, hits=1))
    assert world.camera_request("POST", STATS, grown).status_code == 200
    assert [r[3:7] for r in stored(world)] == [(80, 30, 8, 1)]
    # A delayed older report (or a camera restarted without its counts) lowers nothing.
    assert world.camera_request("POST", STATS, first).status_code == 200
    assert [r[3:7] for r in stored(world)] == [(80, 30, 8, 1)]
    assert len(stored(world)) == 1


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (body(hour(HOUR, frames=-1)), 422, "invalid_stats"),
        (body(hour(HOUR, reads=10_000_001)), 422, "invalid_stats"),
        (body(hour(HOUR, uptime_seconds=3601)), 422, "invalid_stats"),
        (body({**hour(HOUR), "frames": 1.5}), 422, "invalid_stats"),
        (body({**hour(HOUR), "frames": True}), 422, "invalid_stats"),
        (body({**hour(HOUR), "frames": "12"}), 422, "invalid_stats"),
        (body({k: v for k, v in hour(HOUR).items() if k != "hits"}), 422, "invalid_stats"),
        (body({**hour(HOUR), "plate": "7ABC123"}), 422, "unknown_field"),
        (json.dumps({"hours": [hour(HOUR)], "token": "AAAA"}).encode(), 422, "unknown_field"),
        (body(*(hour(HOUR - 3600 * i) for i in range(49))), 413, "too_many_hours"),
        (body(), 422, "invalid_stats"),
        (b"not json", 422, "invalid_stats"),
        (body(hour(HOUR + 3600)), 422, "future_hour"),
        (body(hour(HOUR + 1800)), 422, "bad_hour"),
        (body(hour(HOUR - 8 * 86_400)), 422, "stale_hour"),
        (body(hour(HOUR), hour(HOUR)), 422, "duplicate_hour"),
        (body(hour(HOUR, hits=11, passes=10)), 422, "inconsistent_counts"),
        (body(hour(HOUR, healthy_seconds=20, uptime_seconds=10)), 422, "inconsistent_counts"),
    ],
)
def test_bad_reports_get_a_specific_error_and_store_nothing(
    world: Deployment, payload: bytes, status: int, code: str
) -> None:
    # A good hour first in every bad report: a refused report stores none of its hours.
    opening = b'{"hours": ['
    if payload.startswith(opening + b"{"):
        good = json.dumps(hour(HOUR - 7200)).encode()
        payload = payload.replace(opening, opening + good + b", ", 1)
    reply = world.camera_request("POST", STATS, payload)
    assert (reply.status_code, error_code(reply)) == (status, code), reply.text
    assert b"7ABC123" not in reply.content  # the input is never echoed
    assert stored(world) == []


def test_an_hour_a_little_ahead_is_accepted_within_the_clock_window(world: Deployment) -> None:
    next_hour = HOUR + 3600
    world.clock.advance(next_hour - NOW - 200)  # the camera's clock may run 300 s ahead
    reply = world.camera_request("POST", STATS, body(hour(next_hour, frames=3)))
    assert reply.status_code == 200, reply.text


def test_unsigned_forged_and_replayed_reports_are_refused(world: Deployment) -> None:
    payload = body(hour(HOUR))
    # No signature at all.
    reply = world.records.post(STATS, content=payload, headers={"content-type": "application/json"})
    assert (reply.status_code, error_code(reply)) == (401, "unauthorized")
    # Signed over other bytes than those sent.
    headers = sign_request(
        world.camera_key, camera_id=CAMERA, method="POST", path=STATS, body=payload, now=NOW
    )
    tampered = body(hour(HOUR, hits=9, passes=10))
    reply = world.records.post(STATS, content=tampered, headers=headers)
    assert reply.status_code == 403, reply.text
    # A bearer token (here the administrator's) is not a camera.
    assert world.admin.post(STATS, content=payload).status_code == 401
    assert stored(world) == []
    # The same signed request twice: the second is a replay.
    nonce = os.urandom(16)
    assert world.camera_request("POST", STATS, payload, nonce=nonce).status_code == 200
    before = stored(world)
    reply = world.camera_request("POST", STATS, body(hour(HOUR, frames=999)), nonce=nonce)
    assert reply.status_code in (403, 409)  # the body no longer matches, or the nonce is used
    reply = world.camera_request("POST", STATS, payload, nonce=nonce)
    assert (reply.status_code, error_code(reply)) == (409, "replay")
    assert stored(world) == before
    # A disabled camera's reports are refused.
    world.admin.post(f"/v1/cameras/{CAMERA}/disable").raise_for_status()
    world.records_app.state.records.camera_keys._entries.clear()
    reply = world.camera_request("POST", STATS, body(hour(HOUR, frames=5000)))
    assert reply.status_code == 403, reply.text
    assert stored(world) == before


def test_the_public_daily_view_sums_hours_per_camera_and_day(world: Deployment) -> None:
    yesterday = DAY - 86_400
    assert world.camera_request(
        "POST",
        STATS,
        body(
            hour(yesterday + 22 * 3600, frames=10, reads=4, passes=2, hits=0),
            hour(yesterday + 23 * 3600, frames=20, reads=6, passes=3, hits=1),
            hour(DAY, frames=5, reads=1, passes=1, hits=0, uptime_seconds=600, healthy_seconds=0),
            hour(HOUR, frames=1, reads=1, passes=1, hits=1),
        ),
    ).is_success
    reply = world.records.get("/v1/public/stats/daily")  # no credentials: public
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["until"] == "2026-09-21"
    assert data["since"] == "2026-08-23"  # 30 days
    assert data["days"] == [
        {
            "date": "2026-09-20",
            "camera_id": CAMERA,
            "frames": 30,
            "reads": 10,
            "passes": 5,
            "hits": 1,
            "hours": 2,
            "uptime_seconds": 7200,
            "healthy_seconds": 7000,
        },
        {
            "date": "2026-09-21",
            "camera_id": CAMERA,
            "frames": 6,
            "reads": 2,
            "passes": 2,
            "hits": 1,
            "hours": 2,
            "uptime_seconds": 4200,
            "healthy_seconds": 3500,
        },
    ]
    one_day = world.records.get(
        "/v1/public/stats/daily", params={"since": "2026-09-21", "until": "2026-09-21"}
    ).json()
    assert [d["date"] for d in one_day["days"]] == ["2026-09-21"]
    other = world.records.get("/v1/public/stats/daily", params={"camera": "cam-elsewhere"})
    assert other.json()["days"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since": "2026-09-22", "until": "2026-09-21"}, "bad_range"),
        ({"since": "2025-01-01", "until": "2026-09-21"}, "bad_range"),
        ({"since": "1969-12-31", "until": "1970-01-02"}, "bad_range"),
        ({"since": "yesterday"}, "invalid_request"),
    ],
)
def test_the_daily_view_refuses_bad_ranges(
    world: Deployment, params: dict[str, str], code: str
) -> None:
    reply = world.records.get("/v1/public/stats/daily", params=params)
    assert (reply.status_code, error_code(reply)) == (422, code), reply.text
