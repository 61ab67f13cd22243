"""A deployment with a history, for the portal tests: three cameras, a hotlist, hits,
warrants granted, denied and pending, a retention run, hourly camera counts.

Everything goes through the real apps (tests/server/deployment.py); the
plates listed here are what the privacy scan looks for on every page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey
from sqlmodel import Session, select
from underseal_server.db import make_engine
from underseal_server.records.models import EpochKey, HotlistEntry, Record

from tests.server.deployment import CAMERA, Deployment, ok
from underseal.encoding import b64e
from underseal.plates import fold
from underseal.signed_requests import sign_request

DAY = 86_400
LISTED = {
    "7ABC123": "stolen_vehicle",
    "4XYZ567": "amber_alert",
    "5LMN890": "protection_order",  # removed again
}
PENDING = "6PQR234"  # entered, never approved
LATE = "2STU789"  # listed after the retention run
HOT_FILE = {"8DEF901": "stolen_plate", "3GHJ456": "stolen_vehicle"}
PLATES = [*LISTED, PENDING, LATE, *HOT_FILE]
CASES = ["SPD-2026-0042", "NCIC-0001", "NCIC-0002"]
EXTRA_CAMERAS = {
    "cam-north-ave": (
        39.8012,
        -89.6431,
        180.0,
        60.0,
        "Sangamon County Sheriff",
        "North Ave, southbound",
    ),
    "cam-west-rd": (39.7655, -89.7010, 45.0, 30.0, "Springfield PD", "West Rd at Veterans Pkwy"),
}


@dataclass
class SeededWorld:
    deployment: Deployment
    camera_keys: dict[str, SigningKey]
    secrets: dict[str, bytes] = field(default_factory=dict, repr=False)
    """What must never appear on the portal, by name (values are never printed)."""


def _report_stats(world: Deployment, camera: str, key: SigningKey, scale: int) -> None:
    now = world.clock()
    top = now // 3600 * 3600
    hours = []
    for day in range(3):
        for h in range(3):
            start = top - day * DAY - h * 3600
            passes = 180 * scale + 7 * h + day
            hours.append(
                {
                    "hour": start,
                    "frames": 108_000,
                    "reads": passes * 3,
                    "passes": passes,
                    "hits": (scale + h) % 3,
                    "uptime_seconds": 3600,
                    "healthy_seconds": 3600 - 60 * h,
                }
            )
    body = json.dumps({"hours": hours}).encode()
    headers = sign_request(
        key, camera_id=camera, method="POST", path="/v1/camera/stats", body=body, now=now
    )
    headers["content-type"] = "application/json"
    ok(world.records.post("/v1/camera/stats", content=body, headers=headers), 200)


def seed(root: Path) -> SeededWorld:
    """Build the deployment and its history; the clock ends 35 days after it started."""
    world = Deployment(root, oversight=PrivateKey.generate().public_key)
    keys = {CAMERA: world.camera_key}
    for camera, (lat, lon, direction, fov, agency, where) in EXTRA_CAMERAS.items():
        key = SigningKey.generate()
        keys[camera] = key
        ok(
            world.admin.post(
                "/v1/cameras",
                json={
                    "id": camera,
                    "verify_key": b64e(bytes(key.verify_key)),
                    "box_key": b64e(bytes(PrivateKey.generate().public_key)),
                    "agency": agency,
                    "latitude": lat,
                    "longitude": lon,
                    "direction": direction,
                    "field_of_view": fov,
                    "description": where,
                },
            )
        )
    world.ceremony(days=2)
    entries = {plate: world.list_plate(plate, reason=r, days=90) for plate, r in LISTED.items()}
    ok(world.as_["officer"].delete(f"/v1/hotlist/{entries['5LMN890']}"), 200)
    ok(
        world.as_["officer"].post(
            "/v1/hotlist",
            json={
                "plate": PENDING,
                "reason": "felony_warrant",
                "case_number": CASES[0],
                "expires_at": world.clock() + 90 * DAY,
            },
        )
    )
    expires = world.clock() + 90 * DAY
    csv = "plate,reason,case_number,expires_at\n" + "".join(
        f"{plate},{reason},{case},{expires}\n"
        for (plate, reason), case in zip(HOT_FILE.items(), CASES[1:], strict=True)
    )
    ok(
        world.as_["ncic-feed"].post(
            "/v1/hotlist/import?source=NCIC",
            content=csv,
            headers={"content-type": "text/csv"},
        )
    )
    bundle = world.bundle()
    hits = [world.seal_hit("7ABC123", bundle), world.seal_hit("8DEF901", bundle)]
    ok(world.ingest(*hits), 200)
    ok(world.warrant("W-1", ["7ABC123"]), 200)
    assert [e.plate for e in world.investigate("W-1").opened] == ["7ABC123"]
    _request(world, "W-2", ["4XYZ567"])
    ok(
        world.as_["superior-court"].post(
            "/v1/warrant-requests/W-2/deny", json={"reason": "no probable cause shown"}
        ),
        200,
    )
    secrets = _secrets(world)  # token keys go at retention: collect them first
    # Past retention: the first days' keys and records are destroyed.
    world.clock.advance(35 * DAY)
    ok(world.admin.post("/v1/retention/run"), 200)
    world.ceremony(days=2)
    world.list_plate(LATE, reason="stolen_vehicle", days=30)
    _request(world, "W-3", [LATE])
    for scale, (camera, key) in enumerate(keys.items(), start=1):
        _report_stats(world, camera, key, scale)
    secrets.update(_secrets(world))
    return SeededWorld(world, keys, secrets)


def _request(world: Deployment, request_id: str, plates: list[str]) -> None:
    now = world.clock()
    ok(
        world.as_["detective"].post(
            "/v1/warrant-requests",
            json={
                "id": request_id,
                "case": CASES[0],
                "purpose": "stolen vehicle recovery",
                "plates": plates,
                "time_from": now - DAY,
                "time_to": now,
                "max_records": 5,
                "legal_hold": False,
            },
        )
    )


def _secrets(world: Deployment) -> dict[str, bytes]:
    settings = world.records_app.state.records.settings
    found: dict[str, bytes] = {
        "authority key": settings.authority_key.get_secret_value().encode(),
        "log key seed": settings.log_key.get_secret_value().encode(),
        **{f"token of {name}": token.encode() for name, token in world.tokens.items()},
    }
    for plate in PLATES:
        found[f"plate {len(found)}"] = plate.encode()
        found[f"folded plate {len(found)}"] = fold(plate).encode()
    for number, case in enumerate(CASES):
        found[f"case number {number}"] = case.encode()
    engine = make_engine(world.records_url)
    try:
        with Session(engine) as session:
            blobs = {
                "match token": [r.match_token for r in session.exec(select(Record))],
                "hotlist ref": [e.ref for e in session.exec(select(HotlistEntry))],
                "epoch token key": [
                    e.token_key for e in session.exec(select(EpochKey)) if e.token_key is not None
                ],
            }
    finally:
        engine.dispose()
    for name, values in blobs.items():
        for number, value in enumerate(values):
            found[f"{name} {number} (base64url)"] = b64e(value).encode()
            found[f"{name} {number} (hex)"] = value.hex().encode()
    return found
