"""The whole matrix of roles × endpoints: each role reaches exactly the endpoints it needs.

Every route of both apps must appear in the tables below (a new endpoint
without a decision about who may call it fails the test). A caller outside
an endpoint's roles gets 401 (no or wrong credentials) or 403 (a role that
may not call it); a caller inside gets past authentication, whatever the
endpoint then says about its (here deliberately empty) input.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from tests.server.deployment import CAMERA, Deployment
from underseal.signed_requests import sign_request

PUBLIC = "public"
CAMERA_ROLE = "camera"
ADMIN, OFFICER, APPROVER = "administrator", "hotlist_officer", "hotlist_approver"
DISPATCHER, INVESTIGATOR, COURT = "dispatcher", "investigator", "court"
AUDITOR, CUSTODIAN = "auditor", "custodian"
IMPORTER = "hot_file_importer"

RECORDS: dict[tuple[str, str], set[str]] = {
    ("POST", "/v1/principals"): {ADMIN},
    ("POST", "/v1/cameras"): {ADMIN},
    ("POST", "/v1/custodians"): {ADMIN},
    ("POST", "/v1/courts"): {ADMIN},
    ("POST", "/v1/dispatchers"): {ADMIN},
    ("POST", "/v1/principals/{principal_id}/disable"): {ADMIN},
    ("POST", "/v1/cameras/{camera_id}/disable"): {ADMIN},
    ("POST", "/v1/epochs"): {ADMIN},
    ("POST", "/v1/retention/run"): {ADMIN},
    ("POST", "/v1/hotlist"): {OFFICER},
    ("POST", "/v1/hotlist/import"): {IMPORTER},
    ("POST", "/v1/hotlist/{entry_id}/approve"): {APPROVER},
    ("DELETE", "/v1/hotlist/{entry_id}"): {OFFICER, APPROVER},
    ("GET", "/v1/hotlist"): {OFFICER, APPROVER},
    ("GET", "/v1/camera/config"): {CAMERA_ROLE},
    ("GET", "/v1/camera/bundle"): {CAMERA_ROLE},
    ("POST", "/v1/camera/records"): {CAMERA_ROLE},
    ("POST", "/v1/camera/stats"): {CAMERA_ROLE},
    ("GET", "/v1/alerts"): {DISPATCHER},
    ("POST", "/v1/alerts/ack"): {DISPATCHER},
    ("POST", "/v1/warrant-requests"): {INVESTIGATOR},
    ("GET", "/v1/warrant-requests/{request_id}"): {INVESTIGATOR},
    ("POST", "/v1/warrants/{warrant_id}/search"): {INVESTIGATOR},
    ("POST", "/v1/warrants/{warrant_id}/escrows"): {INVESTIGATOR},
    ("GET", "/v1/warrants/{warrant_id}/held"): {INVESTIGATOR},
    ("GET", "/v1/warrant-requests"): {COURT},
    ("POST", "/v1/warrant-requests/{request_id}/grant"): {COURT},
    ("POST", "/v1/warrant-requests/{request_id}/deny"): {COURT},
    ("POST", "/v1/warrant-requests/{request_id}/release-hold"): {COURT},
    ("GET", "/v1/public/cameras"): {PUBLIC},
    ("GET", "/v1/public/stats/daily"): {PUBLIC},
    ("GET", "/v1/epochs/{epoch}"): {PUBLIC},
    ("GET", "/v1/log/checkpoint"): {PUBLIC},
    ("GET", "/v1/log/entries"): {PUBLIC},
    ("GET", "/v1/log/proof/inclusion"): {PUBLIC},
    ("GET", "/v1/log/proof/consistency"): {PUBLIC},
    ("GET", "/v1/health"): {PUBLIC},
    # The transparency portal: public pages and downloads (aggregates, registry, log).
    ("GET", "/portal"): {PUBLIC},
    ("GET", "/portal/{page}"): {PUBLIC},
    ("GET", "/portal/{page}.json"): {PUBLIC},
    ("GET", "/portal/{page}/{table}.csv"): {PUBLIC},
    ("GET", "/portal/{page}/{table}.json"): {PUBLIC},
    ("GET", "/portal/cameras.geojson"): {PUBLIC},
}

CUSTODIAN_ROUTES: dict[tuple[str, str], set[str]] = {
    ("POST", "/v1/principals"): {ADMIN},
    ("POST", "/v1/courts"): {ADMIN},
    ("POST", "/v1/cameras"): {ADMIN},
    ("POST", "/v1/principals/{principal_id}/disable"): {ADMIN},
    ("DELETE", "/v1/courts/{court_id}"): {ADMIN},
    ("DELETE", "/v1/cameras/{camera_id}"): {ADMIN},
    ("POST", "/v1/shares"): {ADMIN},
    ("POST", "/v1/retention/run"): {ADMIN},
    ("POST", "/v1/partials"): {INVESTIGATOR},
    ("GET", "/v1/public/epochs"): {PUBLIC},
    ("GET", "/v1/log/checkpoint"): {PUBLIC},
    ("GET", "/v1/log/entries"): {PUBLIC},
    ("GET", "/v1/log/proof/inclusion"): {PUBLIC},
    ("GET", "/v1/log/proof/consistency"): {PUBLIC},
    ("GET", "/v1/health"): {PUBLIC},
}

RECORDS_CALLERS = [
    PUBLIC,
    CAMERA_ROLE,
    ADMIN,
    OFFICER,
    APPROVER,
    DISPATCHER,
    INVESTIGATOR,
    COURT,
    AUDITOR,
    CUSTODIAN,
    IMPORTER,
]
PRINCIPAL_OF = {
    OFFICER: "officer",
    APPROVER: "approver",
    DISPATCHER: "dispatch",
    INVESTIGATOR: "detective",
    COURT: "superior-court",
    AUDITOR: "auditor",
    CUSTODIAN: "custodian-svc",
    IMPORTER: "ncic-feed",
}


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    # The OpenAPI schema is the public contract: every operation in it is listed here.
    paths = app.openapi()["paths"]
    return {(method.upper(), path) for path, operations in paths.items() for method in operations}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = Deployment(Path(tmp_path_factory.mktemp("roles")))
    yield deployment
    deployment.close()


def _concrete(path: str) -> str:
    return (
        path.replace("{entry_id}", "e1")
        .replace("{principal_id}", "nobody")
        .replace("{camera_id}", "nocam")
        .replace("{court_id}", "nocourt")
        .replace("{request_id}", "r1")
        .replace("{warrant_id}", "r1")
        .replace("{epoch}", "1")
        .replace("{page}", "usage")
        .replace("{table}", "daily")
    )


def _authenticated(status: int, body: dict[str, object]) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return not (status == 401 or (status == 403 and code == "forbidden"))


def test_every_records_route_has_a_role_decision(world: Deployment) -> None:
    assert _routes(world.records_app) == set(RECORDS)


def test_every_custodian_route_has_a_role_decision(world: Deployment) -> None:
    assert _routes(world.custodian_apps[0]) == set(CUSTODIAN_ROUTES)


@pytest.mark.parametrize("caller", RECORDS_CALLERS)
def test_records_matrix(world: Deployment, caller: str) -> None:
    for (method, path), allowed in RECORDS.items():
        url = _concrete(path)
        if caller == CAMERA_ROLE:
            headers = sign_request(
                world.camera_key,
                camera_id=CAMERA,
                method=method,
                path=url,
                body=b"",
                now=world.clock(),
            )
            reply = world.records.request(method, url, headers=headers)
        elif caller == PUBLIC:
            reply = world.records.request(method, url)
        else:
            client = world.admin if caller == ADMIN else world.as_[PRINCIPAL_OF[caller]]
            reply = client.request(method, url)
        passed = _authenticated(reply.status_code, _body(reply))
        expected = PUBLIC in allowed or caller in allowed
        assert passed == expected, (caller, method, path, reply.status_code, reply.text)
        assert reply.status_code < 500, (caller, method, path)


def _body(reply: Any) -> dict[str, object]:
    # The portal answers HTML and CSV too; only JSON carries an error code.
    if not reply.headers.get("content-type", "").startswith("application/json"):
        return {}
    body = reply.json()
    return body if isinstance(body, dict) else {}


@pytest.mark.parametrize("caller", [PUBLIC, ADMIN, INVESTIGATOR, "records_token"])
def test_custodian_matrix(world: Deployment, caller: str) -> None:
    app_client = world.custodian_admins[0]
    investigator = world.custodian_investigators[0][1]
    for (method, path), allowed in CUSTODIAN_ROUTES.items():
        if caller == ADMIN:
            reply = app_client.request(method, path)
        elif caller == INVESTIGATOR:
            reply = investigator.request(method, path)
        elif caller == "records_token":  # a records-server token means nothing here
            reply = investigator.request(
                method, path, headers={"authorization": f"Bearer {world.tokens['detective']}"}
            )
        else:
            reply = investigator.request(method, path, headers={"authorization": ""})
        passed = _authenticated(reply.status_code, reply.json())
        expected = PUBLIC in allowed or caller in allowed
        assert passed == expected, (caller, method, path, reply.status_code, reply.text)
        assert reply.status_code < 500, (caller, method, path)
