"""No plate, folded plate, token or secret in a log line, an error, or the audit log in clear;
query terms sealed to the oversight key; retention also runs on its own inside the service,
and carries on after a database outage."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from nacl.public import PrivateKey, SealedBox
from sqlalchemy import event
from underseal_server.db import make_engine
from underseal_server.records.app import create_app as create_records

from tests.server.deployment import Deployment, ok
from underseal.encoding import b64d, b64e, parse_canonical_json
from underseal.plates import fold

PLATE = "7ABC123"


@pytest.fixture
def oversight() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture
def world(tmp_path: Path, oversight: PrivateKey) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path, oversight=oversight.public_key)
    deployment.ceremony()
    deployment.list_plate(PLATE)
    yield deployment
    deployment.close()


def test_nothing_personal_in_logs_or_errors(
    world: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bundle = world.bundle()
    match = bundle.match(PLATE)
    assert match is not None
    record = world.seal_hit(PLATE, bundle)
    ok(world.ingest(record), 200)
    ok(world.warrant("w-1", [PLATE]), 200)
    world.investigate("w-1")
    # Errors that could tempt a careless message: a bad plate, an out-of-scope warrant.
    bad = world.as_["officer"].post(
        "/v1/hotlist",
        json={
            "plate": "CROSSWALK",
            "reason": "stolen_vehicle",
            "case_number": "C",
            "expires_at": 2**39,
        },
    )
    assert bad.status_code == 422
    ok(world.warrant("w-2", ["5XYZ789"]), 200)
    world.investigate("w-2")
    secrets = [PLATE, fold(PLATE), "CROSSWALK", match.token.hex(), b64e(match.token)]
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for secret in secrets:
        assert secret not in logged
        assert secret not in bad.text
    entries = world.records.get("/v1/log/entries?limit=1000").text
    for secret in secrets:
        assert secret not in entries


def test_query_terms_are_sealed_to_the_oversight_key(
    world: Deployment, oversight: PrivateKey
) -> None:
    record = world.seal_hit(PLATE, world.bundle())
    ok(world.ingest(record), 200)
    ok(world.warrant("w-1", [PLATE]), 200)
    world.investigate("w-1")
    entries = world.records.get("/v1/log/entries?limit=1000").json()
    searches = [e for e in entries if e["kind"] in {"warrant.request", "warrant.search"}]
    assert len(searches) == 2
    for entry in searches:
        details = entry["details"]
        assert {"agency", "purpose"} <= set(details)
        assert "case" not in details  # a case number in clear would tip off its suspect
        terms = parse_canonical_json(SealedBox(oversight).decrypt(b64d(details["terms_sealed"])))
        assert terms["plates"] == [PLATE]
        assert terms["case"] == "SPD-2026-0042"
    search = searches[-1]["details"]
    sealed = parse_canonical_json(SealedBox(oversight).decrypt(b64d(search["terms_sealed"])))
    assert sealed["records"] == [b64e(record.header.record_id)]
    # The public log never links a case to the records it pulled: no record id in clear
    # in any access entry, of the server or of any custodian.
    public = world.records.get("/v1/log/entries?limit=1000").text
    for _, client in world.custodian_investigators:
        public += client.get("/v1/log/entries?limit=1000").text
    accesses = [
        e
        for e in world.records.get("/v1/log/entries?limit=1000").json()
        if e["kind"].startswith("warrant.")
    ]
    assert b64e(record.header.record_id) not in str(accesses)
    assert "SPD-2026-0042" not in public


def test_the_in_process_scheduler_destroys_what_is_past_retention(world: Deployment) -> None:
    epoch = world.seal_hit(PLATE, world.bundle()).header.epoch
    world.clock.advance(32 * 86_400)
    # Entering the client runs the app's lifespan: its scheduler runs retention at once.
    for app in [world.records_app, *world.custodian_apps]:
        with TestClient(app):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if app is world.records_app:
                    done = world.records.get(f"/v1/epochs/{epoch}").json()["destroyed_at"]
                else:
                    done = (
                        str(epoch) in TestClient(app).get("/v1/public/epochs").json()["destroyed"]
                    )
                if done:
                    break
                time.sleep(0.1)
            assert done, app.title


def test_an_oversized_body_is_refused_before_any_handler_reads_it(world: Deployment) -> None:
    huge = b"x" * ((16 << 20) + 1)
    _, client = world.custodian_investigators[0]
    reply = client.post("/v1/partials", content=huge, headers={"content-type": "application/json"})
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no content-length: the stream itself is counted
        for _ in range(17):
            yield b"x" * (1 << 20)

    reply = client.post(
        "/v1/partials", content=chunks(), headers={"content-type": "application/json"}
    )
    assert reply.status_code == 413


def test_retention_survives_a_database_outage_and_destroys_once_it_is_back(
    world: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    # The database is locked by another writer (as in an outage, every write
    # fails): each scheduled run fails, is logged, and the next tick retries;
    # the first run after the lock goes destroys the epoch.
    epoch = world.seal_hit(PLATE, world.bundle()).header.epoch
    world.clock.advance(32 * 86_400)
    settings = world.records_app.state.records.settings.model_copy(
        update={"retention_interval_seconds": 1}
    )
    engine = make_engine(world.records_url)
    # A short busy timeout: a locked database fails fast instead of after 10 s.
    event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA busy_timeout=100"))
    app = create_records(settings, clock=world.clock, engine=engine)
    caplog.set_level(logging.ERROR, logger="underseal_server.scheduler")
    blocker = sqlite3.connect(world.records_url.removeprefix("sqlite:///"))
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with TestClient(app):
            deadline = time.monotonic() + 30
            while len(caplog.records) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(caplog.records) >= 2, "the failing runs were not logged"
            assert all("retention run failed" in r.getMessage() for r in caplog.records)
            blocker.rollback()
            while time.monotonic() < deadline:
                destroyed = world.records.get(f"/v1/epochs/{epoch}").json()["destroyed_at"]
                if destroyed:
                    break
                time.sleep(0.1)
            assert destroyed, "retention did not run once the database was back"
    finally:
        blocker.close()
        engine.dispose()
    logged = caplog.text
    assert PLATE not in logged
    assert fold(PLATE) not in logged
