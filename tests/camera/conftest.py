"""A real records server with custodians (tests/server/deployment.py) and a camera enrolled on it.

The camera talks to the server through :class:`WireTap`, an httpx transport
that keeps a copy of every byte the camera sends and can be switched off to
play a server outage; behind it is the real app (Starlette's TestClient).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from underseal_device.camera.runtime import CameraRuntime
from underseal_device.camera.state import DeviceSettings, StateDir
from underseal_device.camera.vote import PassRead, Reading

from tests.server.deployment import Deployment, ok

CAMERA_ID = "cam-under-test"
HOT = "7ABC123"


class WireTap(httpx.BaseTransport):
    """Forwards requests to an in-process app, recording each request's bytes."""

    def __init__(self, app: TestClient) -> None:
        self.app = app
        self.sent: list[bytes] = []
        self.down = False
        self.drop_answers = 0  # the server handles the request, but the answer is lost
        # A man in the middle: rewrites the answer to a path.
        self.rewrite: Callable[[str, bytes], bytes] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        head = f"{request.method} {request.url}\n".encode() + b"".join(
            k + b": " + v + b"\n" for k, v in request.headers.raw
        )
        self.sent.append(head + b"\n" + body)
        if self.down:
            raise httpx.ConnectError("server down (test)", request=request)
        target = request.url.raw_path.decode("ascii")
        reply = self.app.request(
            request.method, target, content=body, headers=dict(request.headers)
        )
        if self.drop_answers:
            self.drop_answers -= 1
            raise httpx.ReadTimeout("answer lost (test)", request=request)
        content = reply.content
        if self.rewrite is not None:
            content = self.rewrite(request.url.path, content)
        headers = {k: v for k, v in reply.headers.items() if k != "content-length"}
        return httpx.Response(reply.status_code, headers=headers, content=content)

    def everything_sent(self) -> bytes:
        return b"\n".join(self.sent)


@dataclass
class CameraWorld:
    world: Deployment
    state: StateDir
    tap: WireTap
    runtime: CameraRuntime
    sleeps: list[float] = field(default_factory=list)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url="http://testserver", transport=self.tap)


def enrol_camera(world: Deployment, state: StateDir, camera_id: str = CAMERA_ID) -> None:
    keys = state.enroll(
        DeviceSettings(camera_id=camera_id, latitude_e6=39_780_000, longitude_e6=-89_650_000)
    )
    ok(
        world.admin.post(
            "/v1/cameras",
            json={
                "id": camera_id,
                **keys.public,
                "agency": "Springfield PD",
                "latitude": 39.78,
                "longitude": -89.65,
                "direction": 90.0,
                "field_of_view": 40.0,
            },
        )
    )
    for admin in world.custodian_admins:
        ok(
            admin.post(
                "/v1/cameras",
                json={"id": camera_id, "verify_key": keys.public["verify_key"]},
            )
        )


@pytest.fixture
def camera_world(tmp_path: Path) -> Iterator[CameraWorld]:
    (tmp_path / "server").mkdir()
    world = Deployment(tmp_path / "server")
    world.ceremony(days=2)
    world.list_plate(HOT)
    state = StateDir(tmp_path / "camera")
    enrol_camera(world, state)
    tap = WireTap(world.records)
    sleeps: list[float] = []
    runtime = CameraRuntime(
        state,
        client=httpx.Client(base_url="http://testserver", transport=tap),
        clock=world.clock,
        sleep=sleeps.append,
    )
    yield CameraWorld(world, state, tap, runtime, sleeps)
    runtime.close()
    world.close()


def queue_plate_hits(runtime: CameraRuntime, plate: str, n: int, *, now: int) -> list[bytes]:
    """Seal ``n`` hits of ``plate`` (listed) through the camera's own matcher and sealer."""
    pipeline = runtime.pipeline(reader=None)  # type: ignore[arg-type]
    ids = []
    for _ in range(n):
        passed = PassRead(
            readings=(Reading(plate, 0.95),), frames=4, first_seen=0, last_seen=1,
            box=(0, 0, 24, 12), crop=np.full((12, 24, 3), 200, np.uint8),
        )  # fmt: skip
        hit = pipeline.matcher.match(passed, now=now)
        assert hit is not None
        sealed = pipeline.sealer.seal(passed, hit, observed_at=now)
        assert runtime.outbox.put(sealed)
        ids.append(sealed.record_id)
    return ids
