"""The real thing on loopback: a records server and three custodians as separate processes.

Started with the operator CLI (``underseal-server ... serve``), configured
only through the environment, talked to over HTTP. One shared clock-offset
file lets the test move all four services 31 days forward together.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey, VerifyKey
from underseal_server.auditor import audit
from underseal_server.ceremony import CustodianEndpoint, prepare_epochs
from underseal_server.demo.processes import run_cli
from underseal_server.demo.server_process import ServerProcess, serve_command
from underseal_server.investigator import investigate

from underseal.bundle import open_bundle
from underseal.encoding import b64d, b64e
from underseal.epochs import EpochCertificate, epoch_of
from underseal.evidence import Evidence
from underseal.sealed import RecordHeader, seal_record
from underseal.signed_requests import sign_request
from underseal.threshold import Partial
from underseal.warrant import Warrant, WarrantScope, sign_warrant

CLI = [sys.executable, "-m", "underseal_server.cli"]
PLATE = "7ABC123"
CAMERA = "cam-1"


def _service(name: str, kind: str, env: dict[str, str], root: Path) -> ServerProcess:
    return ServerProcess(name, serve_command(kind, cli=CLI), env=env, log=root / f"{name}.log")


def _cli(service: ServerProcess, *args: str) -> str:
    """``underseal-server ARGS`` with ``service``'s settings; its stdout."""
    return run_cli([*CLI, *args], env=service.env, timeout=120).strip()


@dataclass
class Cluster:
    root: Path
    offset: Path
    dealer: SigningKey
    records: ServerProcess
    custodians: list[ServerProcess]
    custodian_keys: list[dict[str, str]]  # each one's public keys, for the records server
    admin_token: str
    custodian_tokens: list[str]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = Path(tmp_path_factory.mktemp("processes"))
    offset = root / "clock-offset"
    offset.write_text("0")
    base = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSEAL_")}
    dealer = SigningKey.generate()
    records = _service(
        "records",
        "records",
        {
            **base,
            "UNDERSEAL_RECORDS_DATABASE_URL": f"sqlite:///{root / 'records.db'}",
            "UNDERSEAL_RECORDS_AUTHORITY_KEY": b64e(bytes(SigningKey.generate())),
            "UNDERSEAL_RECORDS_LOG_KEY": b64e(bytes(SigningKey.generate())),
            "UNDERSEAL_RECORDS_UNSAFE_CLOCK_OFFSET_FILE": str(offset),
        },
        root,
    )
    custodians, custodian_keys = [], []
    for index in (1, 2, 3):
        signing, box = SigningKey.generate(), PrivateKey.generate()
        service = _service(
            f"custodian-{index}",
            "custodian",
            {
                **base,
                "UNDERSEAL_CUSTODIAN_CUSTODIAN_ID": f"custodian-{index}",
                "UNDERSEAL_CUSTODIAN_SHARE_INDEX": str(index),
                "UNDERSEAL_CUSTODIAN_DATABASE_URL": f"sqlite:///{root / f'custodian-{index}.db'}",
                "UNDERSEAL_CUSTODIAN_SIGNING_KEY": b64e(bytes(signing)),
                "UNDERSEAL_CUSTODIAN_BOX_KEY": b64e(bytes(box)),
                "UNDERSEAL_CUSTODIAN_DEALER_KEY": b64e(bytes(dealer.verify_key)),
                "UNDERSEAL_CUSTODIAN_UNSAFE_CLOCK_OFFSET_FILE": str(offset),
            },
            root,
        )
        custodian_keys.append(
            {"verify_key": b64e(bytes(signing.verify_key)), "box_key": b64e(bytes(box.public_key))}
        )
        custodians.append(service)
    admin_token = _cli(records, "records", "add-principal", "admin")
    custodian_tokens = [_cli(c, "custodian", "add-principal", "admin") for c in custodians]
    try:
        for service in [records, *custodians]:
            service.start()
        yield Cluster(
            root, offset, dealer, records, custodians, custodian_keys, admin_token, custodian_tokens
        )
    finally:
        for client in _OPEN:
            client.close()
        for service in [records, *custodians]:
            service.stop()


_OPEN: list[httpx.Client] = []


def _client(url: str, token: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    client = httpx.Client(base_url=url, headers=headers, timeout=30)
    _OPEN.append(client)
    return client


def _ok(reply: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_ingest_warrant_threshold_decrypt_retention_and_audit(services: Cluster) -> None:
    records = services.records
    custodians = services.custodians
    admin = _client(records.url, services.admin_token)
    court, camera, camera_box = SigningKey.generate(), SigningKey.generate(), PrivateKey.generate()
    # Enrolment, over HTTP, in both the server's and every custodian's registry.
    tokens = {}
    for principal, role in [
        ("officer", "hotlist_officer"),
        ("approver", "hotlist_approver"),
        ("detective", "investigator"),
        ("court", "court"),
    ]:
        tokens[principal] = _ok(admin.post("/v1/principals", json={"id": principal, "role": role}))[
            "token"
        ]
    _ok(
        admin.post(
            "/v1/cameras",
            json={
                "id": CAMERA,
                "verify_key": b64e(bytes(camera.verify_key)),
                "box_key": b64e(bytes(camera_box.public_key)),
                "agency": "Springfield PD",
                "latitude": 39.78,
                "longitude": -89.65,
                "direction": 90.0,
                "field_of_view": 40.0,
            },
        )
    )
    _ok(
        admin.post(
            "/v1/courts",
            json={
                "id": "court",
                "name": "Superior Court",
                "verify_key": b64e(bytes(court.verify_key)),
            },
        )
    )
    endpoints, investigators = [], []
    for index, (service, token, public) in enumerate(
        zip(custodians, services.custodian_tokens, services.custodian_keys, strict=True), 1
    ):
        c_admin = _client(service.url, token)
        _ok(admin.post("/v1/custodians", json={"id": service.name, "index": index, **public}))
        _ok(
            c_admin.post(
                "/v1/courts", json={"id": "court", "verify_key": b64e(bytes(court.verify_key))}
            )
        )
        _ok(
            c_admin.post(
                "/v1/cameras", json={"id": CAMERA, "verify_key": b64e(bytes(camera.verify_key))}
            )
        )
        account = _ok(
            c_admin.post("/v1/principals", json={"id": "detective", "role": "investigator"})
        )
        endpoints.append(
            CustodianEndpoint(
                service.name,
                index,
                PrivateKey(b64d(service.env["UNDERSEAL_CUSTODIAN_BOX_KEY"])).public_key,
                c_admin,
            )
        )
        investigators.append((service.name, _client(service.url, str(account["token"]))))
    # Key ceremony, hotlist with a second approver, the camera's bundle.
    now = int(time.time())
    today = epoch_of(now)
    assert prepare_epochs(
        [today, today + 1],
        dealer=services.dealer,
        custodians=endpoints,
        records=admin,
        threshold=2,
    ) == [today, today + 1]
    entry = _ok(
        _client(records.url, tokens["officer"]).post(
            "/v1/hotlist",
            json={
                "plate": PLATE,
                "reason": "stolen_vehicle",
                "case_number": "C-1",
                "expires_at": now + 86_400 * 40,
            },
        )
    )
    _ok(_client(records.url, tokens["approver"]).post(f"/v1/hotlist/{entry['id']}/approve"), 200)
    reply = httpx.get(
        f"{records.url}/v1/camera/bundle",
        headers=sign_request(
            camera, camera_id=CAMERA, method="GET", path="/v1/camera/bundle", body=b"", now=now
        ),
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    authority = _client(records.url).get("/v1/camera/config")  # unsigned: refused
    assert authority.status_code == 401
    checkpoint = _client(records.url).get("/v1/log/checkpoint").json()
    bundle = open_bundle(
        reply.content,
        camera_id=CAMERA,
        camera_key=camera_box,
        authority=_authority_key(records, camera, now),
        now=now,
        min_serial=0,
    )
    match = bundle.match(PLATE)
    assert match is not None
    certificate = EpochCertificate.from_bytes(
        b64d(_ok(_client(records.url).get(f"/v1/epochs/{today}"), 200)["certificate"])
    )
    evidence = Evidence(
        plate=PLATE,
        confidence_pm=950,
        observed_at=now,
        camera_id=CAMERA,
        latitude_e6=39_780_000,
        longitude_e6=-89_650_000,
        hotlist_ref=b64e(match.ref),
        crop_jpeg="",
    )
    record = seal_record(
        header=RecordHeader(
            record_id=os.urandom(16), camera_id=CAMERA, epoch=today, match_token=match.token
        ),
        evidence=evidence.to_bytes(),
        epoch_key=certificate.public_key(),
        device=camera,
    )
    body = json.dumps({"records": [b64e(record.to_bytes())]}).encode()
    headers = sign_request(
        camera, camera_id=CAMERA, method="POST", path="/v1/camera/records", body=body, now=now
    )
    assert (
        _ok(
            httpx.post(
                f"{records.url}/v1/camera/records", content=body, headers=headers, timeout=30
            ),
            200,
        )["stored"]
        == 1
    )
    replay = httpx.post(
        f"{records.url}/v1/camera/records", content=body, headers=headers, timeout=30
    )
    assert replay.status_code == 409
    # A court-signed warrant, filed and granted; 2 of 3 custodians with one down.
    detective = _client(records.url, tokens["detective"])
    _ok(
        detective.post(
            "/v1/warrant-requests",
            json={
                "id": "w-1",
                "case": "C-1",
                "purpose": "stolen vehicle",
                "plates": [PLATE],
                "time_from": now - 3600,
                "time_to": now + 3600,
                "max_records": 5,
            },
        )
    )
    warrant = sign_warrant(
        Warrant(
            id="w-1",
            court_id="court",
            investigator="detective",
            case="C-1",
            issued_at=now,
            not_after=now + 60 * 86_400,
            scope=WarrantScope(
                plates=(PLATE,), time_from=now - 3600, time_to=now + 3600, purpose="stolen vehicle"
            ),
            max_records=5,
        ),
        court,
    )
    _ok(
        _client(records.url, tokens["court"]).post(
            "/v1/warrant-requests/w-1/grant", json={"warrant": b64e(warrant.to_bytes())}
        ),
        200,
    )
    custodians[1].stop()
    outcome = investigate("w-1", records=detective, custodians=investigators)
    assert [e.plate for e in outcome.opened] == [PLATE]
    assert set(outcome.custodians_failed) == {"custodian-2"}

    # A forged partial is caught: custodian 1's answer altered, custodian 2 down → not enough.
    class Forger(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            real = investigators[0][1].post(
                "/v1/partials",
                content=request.content,
                headers={"content-type": "application/json"},
            )
            body = real.json()
            for item in body["partials"]:
                p = Partial.from_json(item["partial"])
                item["partial"] = Partial(p.index, p.point, p.response, p.challenge).to_json()
            return httpx.Response(200, json=body)

    forger = httpx.Client(transport=Forger(), base_url="http://forger")
    _OPEN.append(forger)
    forged = [
        ("custodian-1", forger),
        investigators[2],
    ]
    assert investigate("w-1", records=detective, custodians=forged).opened == []
    # Out of scope: every live custodian refuses a warrant for another plate.
    other = sign_warrant(
        Warrant(
            id="w-2",
            court_id="court",
            investigator="detective",
            case="C-2",
            issued_at=now,
            not_after=now + 86_400,
            scope=WarrantScope(
                plates=("5XYZ789",), time_from=now - 3600, time_to=now + 3600, purpose="fishing"
            ),
            max_records=5,
        ),
        court,
    )
    for name, client in (investigators[0], investigators[2]):
        reply = client.post(
            "/v1/partials",
            json={"warrant": b64e(other.to_bytes()), "records": [b64e(record.to_bytes())]},
        )
        assert reply.status_code == 403, name
        assert reply.json()["error"]["reason"] == "plate"
    # 31 days later, retention (CLI, as cron runs it) destroys the epoch everywhere.
    services.offset.write_text(str(31 * 86_400 + 86_400))
    assert str(today) in _cli(records, "records", "retention")
    for service in (custodians[0], custodians[2]):
        assert str(today) in _cli(service, "custodian", "retention")
    # Custodian 2 was down; its in-process scheduler destroys the share when it comes back.
    custodians[1].start()  # on its port, as before
    deadline = time.monotonic() + 60
    while str(today) not in httpx.get(f"{custodians[1].url}/v1/public/epochs").json()["destroyed"]:
        assert time.monotonic() < deadline, "the scheduler did not destroy the share"
        time.sleep(0.2)
    for name, client in investigators:
        reply = client.post(
            "/v1/partials",
            json={"warrant": b64e(warrant.to_bytes()), "records": [b64e(record.to_bytes())]},
        )
        assert reply.status_code == 410, name
    # The audit log stayed append-only throughout, as an outside auditor checks it.
    state = services.root / "audit-state"
    log_key = checkpoint["log_key"]
    first = audit(_client(records.url), _verify(log_key), None)
    again = audit(_client(records.url), _verify(log_key), first.checkpoint)
    assert again.size >= first.size
    for kind in (
        "epoch.publish",
        "hotlist.approve",
        "ingest.batch",
        "warrant.grant",
        "warrant.search",
        "retention.destroy",
    ):
        assert first.kinds.get(kind, 0) >= 1, kind
    state.write_bytes(first.checkpoint)
    out = _cli(records, "audit", records.url, "--log-key", log_key, "--state", str(state))
    assert "consistent with the previous checkpoint" in out


def _verify(key: str) -> VerifyKey:
    return VerifyKey(b64d(key, size=32))


def _authority_key(records: ServerProcess, camera: SigningKey, now: int) -> VerifyKey:
    headers = sign_request(
        camera, camera_id=CAMERA, method="GET", path="/v1/camera/config", body=b"", now=now
    )
    config = httpx.get(f"{records.url}/v1/camera/config", headers=headers, timeout=30).json()
    return VerifyKey(b64d(config["authority_key"], size=32))
