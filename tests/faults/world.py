"""A deployment of real processes to break: records server, three custodians, one camera.

Each service runs through the operator CLI (``underseal_server.cli ... serve``)
as a :class:`ServerProcess`, in its own process group, so ``kill -9`` reaches
a server and every one of its uvicorn workers, as a crashed host or an OOM
kill would. A restarted service keeps its port and its database. The camera
is the real :class:`CameraRuntime` over HTTP; the investigator the real
:func:`investigate`.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import make_url
from underseal_device.camera.capture import Backoff
from underseal_device.camera.errors import UplinkError
from underseal_device.camera.runtime import CameraRuntime
from underseal_device.camera.state import DeviceSettings, StateDir
from underseal_server.auditor import AuditReport, audit
from underseal_server.ceremony import CustodianEndpoint, prepare_epochs
from underseal_server.db import make_engine, session_scope
from underseal_server.demo.server_process import ServerProcess, serve_command
from underseal_server.identity import Role, issue_token
from underseal_server.investigator import Outcome, investigate
from underseal_server.migrations import Service, migrate

from tests.camera.conftest import queue_plate_hits
from underseal.encoding import b64d, b64e
from underseal.epochs import epoch_of
from underseal.warrant import Warrant, WarrantScope, sign_warrant

CLI = [sys.executable, "-m", "underseal_server.cli"]
PLATE = "7ABC123"
CAMERA = "cam-fault"
START_TIMEOUT = 90.0


def _seed() -> str:
    return b64e(os.urandom(32))


def _service(
    name: str, kind: str, env: dict[str, str], logs: Path, *, workers: int = 1
) -> ServerProcess:
    """``name`` by the CLI, every start's output in ``logs/NAME.log``."""
    command = serve_command(kind, workers=workers, cli=CLI)
    log = logs / f"{name}.log"
    return ServerProcess(name, command, env=env, log=log, start_timeout=START_TIMEOUT)


class Database:
    """Direct, read-only looks into a service's database (SQLite file or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.is_sqlite:
            db = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=10)
            try:
                return list(db.execute(sql).fetchall())
            finally:
                db.close()
        url = make_url(self.url)
        query = {k: str(v) for k, v in url.query.items()}
        with psycopg.connect(
            host=query["host"],
            port=int(query["port"]),
            user=url.username,
            dbname=url.database,
            connect_timeout=5,
        ) as conn:
            return list(conn.execute(sql).fetchall())

    def count(self, table: str) -> int:
        return int(self.rows(f"SELECT count(*) FROM {table}")[0][0])

    def record_ids(self) -> list[bytes]:
        """Every record id the records server stored, repeats included."""
        return [bytes(r[0]) for r in self.rows("SELECT record_id FROM record")]

    def integrity(self) -> str:
        """SQLite's own check of the file (``ok``); PostgreSQL keeps its own (WAL recovery)."""
        return str(self.rows("PRAGMA integrity_check")[0][0]) if self.is_sqlite else "ok"


def _bootstrap(url: str, service: Service) -> str:
    """Create the service's tables and its first administrator, as ``add-principal`` does."""
    engine = make_engine(url)
    try:
        migrate(engine, service)
        with session_scope(engine) as session:
            return issue_token(
                session,
                principal_id="admin",
                role=Role.ADMINISTRATOR,
                agency="",
                now=int(time.time()),
            )
    finally:
        engine.dispose()


def _ok(reply: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body: dict[str, Any] = reply.json()
    return body


class World:
    """A records server (``workers`` processes on ``database_url``) and three custodians."""

    def __init__(self, root: Path, *, records_url: str, workers: int = 1) -> None:
        self.root = root
        logs = root / "logs"
        logs.mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSEAL_")}
        self.dealer, self.court = SigningKey.generate(), SigningKey.generate()
        self._clients: list[httpx.Client] = []
        self.records_db = Database(records_url)
        admin_token = _bootstrap(records_url, "records")
        self.records = _service(
            "records",
            "records",
            {
                **base,
                "UNDERSEAL_RECORDS_DATABASE_URL": records_url,
                "UNDERSEAL_RECORDS_AUTHORITY_KEY": _seed(),
                "UNDERSEAL_RECORDS_LOG_KEY": _seed(),
            },
            logs,
            workers=workers,
        )
        self.custodians: list[ServerProcess] = []
        custodian_tokens: list[str] = []
        boxes: list[PublicKey] = []
        verify_keys: list[str] = []
        for index in (1, 2, 3):
            name = f"custodian-{index}"
            url = f"sqlite:///{root / name}.db"
            signing, box = SigningKey.generate(), PrivateKey.generate()
            custodian_tokens.append(_bootstrap(url, "custodian"))
            boxes.append(box.public_key)
            verify_keys.append(b64e(bytes(signing.verify_key)))
            self.custodians.append(
                _service(
                    name,
                    "custodian",
                    {
                        **base,
                        "UNDERSEAL_CUSTODIAN_CUSTODIAN_ID": name,
                        "UNDERSEAL_CUSTODIAN_SHARE_INDEX": str(index),
                        "UNDERSEAL_CUSTODIAN_DATABASE_URL": url,
                        "UNDERSEAL_CUSTODIAN_SIGNING_KEY": b64e(bytes(signing)),
                        "UNDERSEAL_CUSTODIAN_BOX_KEY": b64e(bytes(box)),
                        "UNDERSEAL_CUSTODIAN_DEALER_KEY": b64e(bytes(self.dealer.verify_key)),
                    },
                    logs,
                )
            )
        self.custodian_dbs = [
            Database(c.env["UNDERSEAL_CUSTODIAN_DATABASE_URL"]) for c in self.custodians
        ]
        self.custodian_admins: list[httpx.Client] = []
        self._investigator_tokens: list[str] = []
        try:
            for service in self.services:
                service.launch()
            for service in self.services:
                service.wait_ready()
            self._enrol(admin_token, custodian_tokens, boxes, verify_keys)
        except BaseException:
            self.close()
            raise

    def _enrol(
        self,
        admin_token: str,
        custodian_tokens: list[str],
        boxes: list[PublicKey],
        verify_keys: list[str],
    ) -> None:
        """Accounts, the court, the custodians, the key ceremony and one listed plate."""
        self.admin = self.client(self.records.url, admin_token)
        self.tokens: dict[str, str] = {}
        for principal, role in [
            ("officer", "hotlist_officer"),
            ("approver", "hotlist_approver"),
            ("detective", "investigator"),
            ("court", "court"),
        ]:
            reply = self.admin.post("/v1/principals", json={"id": principal, "role": role})
            self.tokens[principal] = str(_ok(reply)["token"])
        court_key = b64e(bytes(self.court.verify_key))
        _ok(
            self.admin.post(
                "/v1/courts", json={"id": "court", "name": "Court", "verify_key": court_key}
            )
        )
        endpoints = []
        for index, (service, token) in enumerate(
            zip(self.custodians, custodian_tokens, strict=True), 1
        ):
            admin = self.client(service.url, token)
            self.custodian_admins.append(admin)
            _ok(
                self.admin.post(
                    "/v1/custodians",
                    json={
                        "id": service.name,
                        "index": index,
                        "verify_key": verify_keys[index - 1],
                        "box_key": b64e(bytes(boxes[index - 1])),
                    },
                )
            )
            _ok(admin.post("/v1/courts", json={"id": "court", "verify_key": court_key}))
            account = _ok(
                admin.post("/v1/principals", json={"id": "detective", "role": "investigator"})
            )
            self._investigator_tokens.append(str(account["token"]))
            endpoints.append(CustodianEndpoint(service.name, index, boxes[index - 1], admin))
        today = epoch_of(int(time.time()))
        published = prepare_epochs(
            [today, today + 1], dealer=self.dealer, custodians=endpoints, records=self.admin,
            threshold=2,
        )  # fmt: skip
        assert published == [today, today + 1]
        entry = _ok(
            self.as_("officer").post(
                "/v1/hotlist",
                json={
                    "plate": PLATE,
                    "reason": "stolen_vehicle",
                    "case_number": "C-9",
                    "expires_at": int(time.time()) + 40 * 86_400,
                },
            )
        )
        _ok(self.as_("approver").post(f"/v1/hotlist/{entry['id']}/approve"), 200)
        checkpoint = _ok(self.client(self.records.url).get("/v1/log/checkpoint"), 200)
        self.log_key = VerifyKey(b64d(checkpoint["log_key"], size=32))

    @property
    def services(self) -> list[ServerProcess]:
        return [self.records, *self.custodians]

    def client(self, url: str, token: str | None = None, *, timeout: float = 30) -> httpx.Client:
        """A client closed with the world."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=url, headers=headers, timeout=timeout)
        self._clients.append(client)
        return client

    def as_(self, principal: str) -> httpx.Client:
        return self.client(self.records.url, self.tokens[principal])

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for service in self.services:
            service.stop()

    # --- the camera -----------------------------------------------------------------------

    def camera(self, *, batch_size: int = 20) -> CameraRuntime:
        """A camera enrolled everywhere and synced, retrying for about a minute when refused.

        The retry window is the camera's own backoff, shortened from the shipped
        one (1 s doubling to 32 s) so a test waits seconds, not minutes.
        """
        state = StateDir(self.root / "camera")
        keys = state.enroll(
            DeviceSettings(camera_id=CAMERA, latitude_e6=39_780_000, longitude_e6=-89_650_000)
        )
        _ok(
            self.admin.post(
                "/v1/cameras",
                json={
                    "id": CAMERA,
                    **keys.public,
                    "agency": "Springfield PD",
                    "latitude": 39.78,
                    "longitude": -89.65,
                    "direction": 90.0,
                    "field_of_view": 40.0,
                },
            )
        )
        for admin in self.custodian_admins:
            _ok(
                admin.post(
                    "/v1/cameras", json={"id": CAMERA, "verify_key": keys.public["verify_key"]}
                )
            )
        runtime = CameraRuntime(state, client=self.client(self.records.url, timeout=15))
        runtime.uplink.backoff = Backoff(initial=0.2, maximum=1.0, attempts=80)
        runtime.uplink.batch_size = batch_size
        runtime.sync()
        return runtime

    # --- warrants ---------------------------------------------------------------------------

    def grant(self, warrant_id: str, *, max_records: int) -> None:
        """The detective files a warrant request for the plate; the court signs and grants it."""
        now = int(time.time())
        scope = WarrantScope(
            plates=(PLATE,), time_from=now - 3600, time_to=now + 3600, purpose="stolen vehicle"
        )
        _ok(
            self.as_("detective").post(
                "/v1/warrant-requests",
                json={
                    "id": warrant_id,
                    "case": "C-9",
                    "purpose": scope.purpose,
                    "plates": list(scope.plates),
                    "time_from": scope.time_from,
                    "time_to": scope.time_to,
                    "max_records": max_records,
                },
            )
        )
        warrant = sign_warrant(
            Warrant(
                id=warrant_id,
                court_id="court",
                investigator="detective",
                case="C-9",
                issued_at=now,
                not_after=now + 7 * 86_400,
                scope=scope,
                max_records=max_records,
            ),
            self.court,
        )
        _ok(
            self.as_("court").post(
                f"/v1/warrant-requests/{warrant_id}/grant",
                json={"warrant": b64e(warrant.to_bytes())},
            ),
            200,
        )

    def investigate(self, warrant_id: str, *, timeout: float = 30) -> Outcome:
        """The detective's investigation, each custodian asked with a client ``timeout``."""
        custodians = [
            (service.name, self.client(service.url, token, timeout=timeout))
            for service, token in zip(self.custodians, self._investigator_tokens, strict=True)
        ]
        return investigate(warrant_id, records=self.as_("detective"), custodians=custodians)

    def audit(self, previous: bytes | None = None) -> AuditReport:
        """The outside auditor's check of the records log (append-only since ``previous``)."""
        return audit(self.client(self.records.url), self.log_key, previous)


def queue_hits(runtime: CameraRuntime, n: int) -> set[bytes]:
    """Seal ``n`` hits of the listed plate through the camera's own matcher and sealer."""
    return set(queue_plate_hits(runtime, PLATE, n, now=int(time.time())))


@contextmanager
def uplink_errors(runtime: CameraRuntime) -> Iterator[list[UplinkError]]:
    """Every error the camera's uplink met while the block ran (each one it then handled)."""
    seen: list[UplinkError] = []
    real: Callable[..., httpx.Response] = runtime.uplink.request

    def watched(method: str, path: str, body: bytes = b"") -> httpx.Response:
        try:
            return real(method, path, body)
        except UplinkError as error:
            seen.append(error)
            raise

    runtime.uplink.request = watched  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        runtime.uplink.request = real  # type: ignore[method-assign]


class Hold:
    """The camera's uplink, held before its next request once it has delivered n batches."""

    def __init__(self, batches: int) -> None:
        self.batches = batches
        self.delivered = 0
        self.reached = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def wait_reached(self, timeout: float = 60) -> None:
        assert self.reached.wait(timeout), f"the camera never delivered {self.batches} batches"


@contextmanager
def hold_after(runtime: CameraRuntime, batches: int) -> Iterator[Hold]:
    """Hold the camera after ``batches`` deliveries until the test has applied its fault.

    The fault then lands while the camera is mid-run, however fast the machine.
    """
    hold = Hold(batches)
    real: Callable[..., httpx.Response] = runtime.uplink.request

    def held(method: str, path: str, body: bytes = b"") -> httpx.Response:
        if hold.delivered >= hold.batches and not hold._released.is_set():
            hold.reached.set()
            assert hold._released.wait(120), "the test never released the camera"
        reply = real(method, path, body)
        if method == "POST" and path == "/v1/camera/records":
            hold.delivered += 1
        return reply

    runtime.uplink.request = held  # type: ignore[method-assign]
    try:
        yield hold
    finally:
        hold.release()
        runtime.uplink.request = real  # type: ignore[method-assign]


def wait_for(what: str, condition: Callable[[], bool], *, timeout: float = 60) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)
