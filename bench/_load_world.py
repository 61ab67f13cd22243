"""The deployment the load generator drives: many cameras, several plates, several investigators.

Built in the generator's process with the tests' :class:`Deployment` (as
:func:`bench._server_world.prepare` does for one camera), then handed to a
records server in other processes: every camera is enrolled with its own
signing and box keys, every plate is listed and approved, and every
investigator is a principal of its own with one granted warrant.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from bench._server_world import PLATE, Prepared, write_settings
from tests.server.deployment import Deployment, ok
from underseal.encoding import b64e
from underseal.epochs import epoch_of
from underseal.warrant import Warrant, WarrantScope, sign_warrant

__all__ = ["PLATES", "LoadCamera", "LoadInvestigator", "LoadWorld", "prepare_load"]

PLATES = (PLATE, "4DEF567", "9GHJ012", "2KLM345", "5NPR678", "8STU901", "3VWX234", "6YZA567")
"""The hotlist: every hit is on one of these, in turn."""
CASE = "SPD-2026-0042"
PURPOSE = "stolen vehicle recovery"


@dataclass(frozen=True, slots=True)
class LoadCamera:
    """An enrolled camera as the generator plays it: its id and its signing key."""

    id: str
    key: SigningKey


@dataclass(frozen=True, slots=True)
class LoadInvestigator:
    """An investigator's bearer token and the id of the warrant granted to them."""

    warrant_id: str
    token: str


@dataclass(frozen=True, slots=True)
class LoadWorld:
    """A prepared deployment (keys, bundle, certificate, settings file) and who plays in it."""

    prepared: Prepared
    cameras: tuple[LoadCamera, ...]
    plates: tuple[str, ...]
    investigators: tuple[LoadInvestigator, ...]

    @property
    def database_url(self) -> str:
        return self.prepared.world.records_url


def prepare_load(
    root: Path,
    database: Callable[[str], str] | None,
    *,
    cameras: int,
    investigators: int,
    max_records: int,
) -> LoadWorld:
    """Enrol ``cameras`` cameras, list :data:`PLATES`, grant ``investigators`` warrants.

    Investigator ``i`` holds a warrant over two plates (``i`` and ``i + 1``,
    in turn), for yesterday to tomorrow, of at most ``max_records`` records.
    The deployment's clock is the system's, as the server process's will be.
    """
    world = Deployment(root, database_url=database)
    world.clock.now = int(time.time())
    world.ceremony(days=2)
    for plate in PLATES:
        world.list_plate(plate)
    enrolled = []
    for number in range(cameras):
        camera = LoadCamera(f"cam-load-{number:03d}", SigningKey.generate())
        ok(
            world.admin.post(
                "/v1/cameras",
                json={
                    "id": camera.id,
                    "verify_key": b64e(bytes(camera.key.verify_key)),
                    "box_key": b64e(bytes(PrivateKey.generate().public_key)),
                    "agency": "Springfield PD",
                    "latitude": 39.78 + number / 1000,
                    "longitude": -89.65,
                    "direction": float(number * 45 % 360),
                    "field_of_view": 40.0,
                },
            )
        )
        enrolled.append(camera)
    granted = []
    for number in range(investigators):
        principal = f"investigator-{number:02d}"
        token = ok(
            world.admin.post("/v1/principals", json={"id": principal, "role": "investigator"})
        )
        plates = [PLATES[number % len(PLATES)], PLATES[(number + 1) % len(PLATES)]]
        warrant_id = f"w-load-{number:02d}"
        _grant(world, principal, str(token["token"]), warrant_id, plates, max_records)
        granted.append(LoadInvestigator(warrant_id, str(token["token"])))
    bundle = world.bundle()
    certificate = world.certificate(epoch_of(world.clock()))
    settings = write_settings(world, root)
    # The server processes own the database from here on.
    world.close()
    return LoadWorld(
        Prepared(world, bundle, certificate, settings), tuple(enrolled), PLATES, tuple(granted)
    )


def _grant(
    world: Deployment,
    principal: str,
    token: str,
    warrant_id: str,
    plates: list[str],
    max_records: int,
) -> None:
    """File a warrant request as ``principal`` and have the court grant it."""
    now = world.clock()
    time_from, time_to = now - 86_400, now + 86_400
    headers = {"authorization": f"Bearer {token}"}
    ok(
        world.records.post(
            "/v1/warrant-requests",
            headers=headers,
            json={
                "id": warrant_id,
                "case": CASE,
                "purpose": PURPOSE,
                "plates": plates,
                "max_records": max_records,
                "time_from": time_from,
                "time_to": time_to,
            },
        )
    )
    warrant = Warrant(
        id=warrant_id,
        court_id="superior-court",
        investigator=principal,
        case=CASE,
        issued_at=now,
        not_after=now + 7 * 86_400,
        scope=WarrantScope(
            plates=tuple(plates), time_from=time_from, time_to=time_to, purpose=PURPOSE
        ),
        max_records=max_records,
    )
    signed = sign_warrant(warrant, world.court_key)
    ok(
        world.as_["superior-court"].post(
            f"/v1/warrant-requests/{warrant_id}/grant", json={"warrant": b64e(signed.to_bytes())}
        ),
        200,
    )
