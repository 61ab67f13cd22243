"""A whole deployment in one process: records server, custodians, a camera, people.

Real apps, real databases (SQLite files, or PostgreSQL when a URL factory is
given), real crypto; only the network is in-process (Starlette's TestClient)
and the clock is a :class:`ManualClock` the test moves.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey
from underseal_server.ceremony import CustodianEndpoint, prepare_epochs
from underseal_server.clock import ManualClock
from underseal_server.custodian.app import create_app as create_custodian
from underseal_server.custodian.settings import CustodianSettings
from underseal_server.db import make_engine, session_scope
from underseal_server.identity import Role, issue_token
from underseal_server.investigator import Outcome, investigate
from underseal_server.records.app import create_app as create_records
from underseal_server.records.settings import RecordsSettings

from underseal.bundle import HotlistBundle, open_bundle
from underseal.encoding import b64d, b64e
from underseal.epochs import EpochCertificate, epoch_of
from underseal.evidence import Evidence
from underseal.sealed import RecordHeader, SealedRecord, seal_record
from underseal.signed_requests import sign_request
from underseal.warrant import Warrant, WarrantScope, sign_warrant

NOW = 1_790_000_000  # 2026-09-21, inside epoch 20717
CAMERA = "cam-main-st"


def seed() -> str:
    return b64e(os.urandom(32))


def bearer(client: TestClient, token: str) -> httpx.Client:
    """A client for the same app that sends ``token``."""
    return TestClient(client.app, headers={"authorization": f"Bearer {token}"})


def _bootstrap(engine_url: str, role: Role, principal: str, now: int) -> str:
    engine = make_engine(engine_url)
    with session_scope(engine) as session:
        token = issue_token(
            session, principal_id=principal, role=role, agency="Springfield PD", now=now
        )
    engine.dispose()
    return token


class Deployment:
    """Records server + ``n`` custodians + one camera, enrolled and ready."""

    def __init__(
        self,
        root: Path,
        *,
        custodians: int = 3,
        threshold: int = 2,
        database_url: Callable[[str], str] | None = None,
        retention_days: int = 30,
        oversight: PublicKey | None = None,
    ) -> None:
        url = database_url or (lambda name: f"sqlite:///{root / name}.db")
        self.clock = ManualClock(NOW)
        self.threshold = threshold
        self.dealer = SigningKey.generate()
        self.court_key = SigningKey.generate()
        self.camera_key = SigningKey.generate()
        self.camera_box = PrivateKey.generate()
        self.dispatch_box = PrivateKey.generate()
        self.records_url = url("records")
        settings = RecordsSettings(
            database_url=self.records_url,
            authority_key=seed(),
            log_key=seed(),
            retention_days=retention_days,
            oversight_box_key=None if oversight is None else b64e(bytes(oversight)),
        )
        self.records_app = create_records(settings, clock=self.clock)
        self.records = TestClient(self.records_app)
        self.admin = bearer(
            self.records, _bootstrap(self.records_url, Role.ADMINISTRATOR, "admin", NOW)
        )
        self.tokens: dict[str, str] = {}
        for principal, role in [
            ("officer", Role.HOTLIST_OFFICER),
            ("officer-2", Role.HOTLIST_OFFICER),
            ("approver", Role.HOTLIST_APPROVER),
            ("dispatch", Role.DISPATCHER),
            ("detective", Role.INVESTIGATOR),
            ("superior-court", Role.COURT),
            ("auditor", Role.AUDITOR),
            ("custodian-svc", Role.CUSTODIAN),
            ("ncic-feed", Role.HOT_FILE_IMPORTER),
        ]:
            reply = self.admin.post("/v1/principals", json={"id": principal, "role": role.value})
            assert reply.status_code == 201, reply.text
            self.tokens[principal] = reply.json()["token"]
        self.as_ = {name: bearer(self.records, token) for name, token in self.tokens.items()}
        ok(
            self.admin.post(
                "/v1/cameras",
                json={
                    "id": CAMERA,
                    "verify_key": b64e(bytes(self.camera_key.verify_key)),
                    "box_key": b64e(bytes(self.camera_box.public_key)),
                    "agency": "Springfield PD",
                    "latitude": 39.78,
                    "longitude": -89.65,
                    "direction": 90.0,
                    "field_of_view": 40.0,
                    "description": "Main St at 5th, eastbound",
                },
            )
        )
        ok(
            self.admin.post(
                "/v1/courts",
                json={
                    "id": "superior-court",
                    "name": "Superior Court",
                    "verify_key": b64e(bytes(self.court_key.verify_key)),
                },
            )
        )
        ok(
            self.admin.post(
                "/v1/dispatchers",
                json={
                    "id": "dispatch",
                    "box_key": b64e(bytes(self.dispatch_box.public_key)),
                    "agency": "Springfield PD",
                },
            )
        )
        # Custodians: their own apps, databases, registries and accounts.
        self.custodian_apps = []
        self.custodian_admins: list[httpx.Client] = []
        self.custodian_investigators: list[tuple[str, httpx.Client]] = []
        self.custodian_urls: list[str] = []
        endpoints = []
        for index in range(1, custodians + 1):
            name = f"custodian-{index}"
            signing, box = SigningKey.generate(), PrivateKey.generate()
            c_url = url(name)
            c_settings = CustodianSettings(
                custodian_id=name,
                share_index=index,
                database_url=c_url,
                signing_key=b64e(bytes(signing)),
                box_key=b64e(bytes(box)),
                dealer_key=b64e(bytes(self.dealer.verify_key)),
                retention_days=retention_days,
            )
            app = create_custodian(c_settings, clock=self.clock)
            client = TestClient(app)
            admin = bearer(client, _bootstrap(c_url, Role.ADMINISTRATOR, "admin", NOW))
            reply = admin.post("/v1/principals", json={"id": "detective", "role": "investigator"})
            assert reply.status_code == 201, reply.text
            ok(
                admin.post(
                    "/v1/courts",
                    json={
                        "id": "superior-court",
                        "verify_key": b64e(bytes(self.court_key.verify_key)),
                    },
                )
            )
            ok(
                admin.post(
                    "/v1/cameras",
                    json={"id": CAMERA, "verify_key": b64e(bytes(self.camera_key.verify_key))},
                )
            )
            ok(
                self.admin.post(
                    "/v1/custodians",
                    json={
                        "id": name,
                        "index": index,
                        "verify_key": b64e(bytes(signing.verify_key)),
                        "box_key": b64e(bytes(box.public_key)),
                    },
                )
            )
            self.custodian_apps.append(app)
            self.custodian_admins.append(admin)
            self.custodian_urls.append(c_url)
            self.custodian_investigators.append((name, bearer(client, reply.json()["token"])))
            endpoints.append(CustodianEndpoint(name, index, box.public_key, admin))
        self.endpoints = endpoints
        self.bundle_serial = 0

    def close(self) -> None:
        """Return every pooled database connection (PostgreSQL counts them)."""
        self.records_app.state.engine.dispose()
        for app in self.custodian_apps:
            app.state.engine.dispose()

    # --- the key ceremony and the hotlist ---------------------------------------------

    def ceremony(self, days: int = 2) -> list[int]:
        today = epoch_of(self.clock())
        return prepare_epochs(
            range(today, today + days),
            dealer=self.dealer,
            custodians=self.endpoints,
            records=self.admin,
            threshold=self.threshold,
        )

    def list_plate(self, plate: str, *, reason: str = "stolen_vehicle", days: int = 30) -> str:
        entry = ok(
            self.as_["officer"].post(
                "/v1/hotlist",
                json={
                    "plate": plate,
                    "reason": reason,
                    "case_number": "SPD-2026-0042",
                    "expires_at": self.clock() + days * 86_400,
                },
            )
        )["id"]
        ok(self.as_["approver"].post(f"/v1/hotlist/{entry}/approve"), 200)
        return str(entry)

    # --- the camera ---------------------------------------------------------------------

    def camera_request(
        self, method: str, path: str, body: bytes = b"", *, nonce: bytes | None = None
    ) -> httpx.Response:
        headers = sign_request(
            self.camera_key,
            camera_id=CAMERA,
            method=method,
            path=path,
            body=body,
            now=self.clock(),
            nonce=nonce,
        )
        headers["content-type"] = "application/json"
        return self.records.request(method, path, content=body, headers=headers)

    def bundle(self) -> HotlistBundle:
        reply = self.camera_request("GET", "/v1/camera/bundle")
        assert reply.status_code == 200, reply.text
        bundle = open_bundle(
            reply.content,
            camera_id=CAMERA,
            camera_key=self.camera_box,
            authority=self.records_app.state.records.authority.verify_key,
            now=self.clock(),
            min_serial=self.bundle_serial,
        )
        self.bundle_serial = bundle.header.serial
        return bundle

    def certificate(self, epoch: int) -> EpochCertificate:
        reply = ok(self.records.get(f"/v1/epochs/{epoch}"), 200)
        return EpochCertificate.from_bytes(b64d(reply["certificate"]))

    def seal_hit(
        self, plate: str, bundle: HotlistBundle, *, observed_at: int | None = None
    ) -> SealedRecord:
        observed_at = self.clock() if observed_at is None else observed_at
        match = bundle.match(plate)
        assert match is not None
        epoch = epoch_of(observed_at)
        evidence = Evidence(
            plate=plate,
            confidence_pm=970,
            observed_at=observed_at,
            camera_id=CAMERA,
            latitude_e6=39_780_000,
            longitude_e6=-89_650_000,
            hotlist_ref=b64e(match.ref),
            crop_jpeg="",
        )
        return seal_record(
            header=RecordHeader(
                record_id=os.urandom(16), camera_id=CAMERA, epoch=epoch, match_token=match.token
            ),
            evidence=evidence.to_bytes(),
            epoch_key=self.certificate(epoch).public_key(),
            device=self.camera_key,
        )

    def ingest(self, *records: SealedRecord, nonce: bytes | None = None) -> httpx.Response:
        import json

        body = json.dumps({"records": [b64e(r.to_bytes()) for r in records]}).encode()
        return self.camera_request("POST", "/v1/camera/records", body, nonce=nonce)

    # --- warrants -------------------------------------------------------------------------

    def warrant(
        self,
        warrant_id: str,
        plates: list[str],
        *,
        time_from: int | None = None,
        time_to: int | None = None,
        max_records: int = 10,
        court_key: SigningKey | None = None,
        not_after: int | None = None,
        case_key: PrivateKey | None = None,
    ) -> httpx.Response:
        """File a request as the detective and have the court grant it; returns the grant reply."""
        now = self.clock()
        time_from = now - 86_400 if time_from is None else time_from
        time_to = now + 86_400 if time_to is None else time_to
        ok(
            self.as_["detective"].post(
                "/v1/warrant-requests",
                json={
                    "id": warrant_id,
                    "case": "SPD-2026-0042",
                    "purpose": "stolen vehicle recovery",
                    "plates": plates,
                    "time_from": time_from,
                    "time_to": time_to,
                    "max_records": max_records,
                    "legal_hold": case_key is not None,
                },
            )
        )
        warrant = Warrant(
            id=warrant_id,
            court_id="superior-court",
            investigator="detective",
            case="SPD-2026-0042",
            issued_at=now,
            not_after=now + 7 * 86_400 if not_after is None else not_after,
            scope=WarrantScope(
                plates=tuple(plates),
                time_from=time_from,
                time_to=time_to,
                purpose="stolen vehicle recovery",
            ),
            max_records=max_records,
            legal_hold=case_key is not None,
            case_key=None if case_key is None else b64e(bytes(case_key.public_key)),
        )
        signed = sign_warrant(warrant, court_key or self.court_key)
        return self.as_["superior-court"].post(
            f"/v1/warrant-requests/{warrant_id}/grant", json={"warrant": b64e(signed.to_bytes())}
        )

    def investigate(self, warrant_id: str, custodians: list[int] | None = None) -> Outcome:
        chosen = [
            self.custodian_investigators[i] for i in (custodians or range(len(self.endpoints)))
        ]
        return investigate(warrant_id, records=self.as_["detective"], custodians=chosen)


def ok(reply: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert isinstance(body, dict)
    return body
