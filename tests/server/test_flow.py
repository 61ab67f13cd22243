"""End to end in one process: ceremony, hotlist, bundle, ingest, alert, warrant, decrypt, purge."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey
from sqlmodel import Session, select
from underseal_server.custodian.models import Share
from underseal_server.investigator import open_held
from underseal_server.records.models import Record

from tests.server.conftest import UrlFactory
from tests.server.deployment import CAMERA, Deployment, ok
from underseal.bundle import HotlistBundle
from underseal.encoding import b64d, b64e
from underseal.evidence import Evidence
from underseal.merkle import verify_checkpoint, verify_consistency, verify_inclusion
from underseal.sealed import RecordHeader, SealedRecord, seal_record
from underseal.signed_requests import sign_request
from underseal.threshold import Partial
from underseal.warrant import Warrant, WarrantScope

PLATE = "7ABC123"


@pytest.fixture
def world(tmp_path: Path, database: UrlFactory | None) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path, database_url=database)
    deployment.ceremony(days=2)
    deployment.list_plate(PLATE)
    yield deployment
    deployment.close()


def test_hit_reaches_the_server_sealed_and_opens_with_two_of_three(world: Deployment) -> None:
    bundle = world.bundle()
    assert bundle.match(PLATE) is not None
    assert bundle.match("8XYZ999") is None
    record = world.seal_hit(PLATE, bundle)
    assert ok(world.ingest(record), 200) == {"stored": 1, "duplicates": 0, "alerts": 0}
    ok(world.warrant("w-1", [PLATE]), 200)
    # Custodian 2 is down: 1 and 3 suffice.
    down = httpx.Client(base_url="http://127.0.0.1:9", timeout=0.5)
    outcome = world.investigate("w-1", custodians=[0, 2])
    assert [e.plate for e in outcome.opened] == [PLATE]
    world.custodian_investigators[1] = ("custodian-2", down)
    outcome = world.investigate("w-1")
    assert [e.plate for e in outcome.opened] == [PLATE]
    assert "custodian-2" in outcome.custodians_failed


def test_one_custodian_alone_cannot_open(world: Deployment) -> None:
    record = world.seal_hit(PLATE, world.bundle())
    ok(world.ingest(record), 200)
    ok(world.warrant("w-1", [PLATE]), 200)
    outcome = world.investigate("w-1", custodians=[1])
    assert outcome.opened == []
    assert outcome.unopened == 1


def test_a_forged_partial_is_detected_and_the_honest_ones_still_open(world: Deployment) -> None:
    record = world.seal_hit(PLATE, world.bundle())
    ok(world.ingest(record), 200)
    ok(world.warrant("w-1", [PLATE]), 200)

    class Liar(httpx.BaseTransport):
        def __init__(self, inner: httpx.Client) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            reply = self.inner.post(
                request.url.path, content=request.content, headers=dict(request.headers)
            )
            body = reply.json()
            for item in body["partials"]:
                forged = Partial.from_json(item["partial"])
                item["partial"] = Partial(
                    forged.index, bytes(reversed(forged.point)), forged.challenge, forged.response
                ).to_json()
            return httpx.Response(200, json=body)

    name, honest = world.custodian_investigators[0]
    liar = httpx.Client(transport=Liar(honest), base_url="http://liar")
    # The liar plus one honest custodian: not enough valid partials.
    outcome = (
        world.investigate_with([(name, liar), world.custodian_investigators[1]])
        if hasattr(world, "investigate_with")
        else None
    )
    from underseal_server.investigator import investigate

    outcome = investigate(
        "w-1",
        records=world.as_["detective"],
        custodians=[(name, liar), world.custodian_investigators[1]],
    )
    assert outcome.opened == []
    assert outcome.unopened == 1
    outcome = investigate(
        "w-1",
        records=world.as_["detective"],
        custodians=[(name, liar), *world.custodian_investigators[1:]],
    )
    assert [e.plate for e in outcome.opened] == [PLATE]


class _Relay(httpx.BaseTransport):
    """A custodian that answers honestly, but as ``body(reply)`` streams it."""

    def __init__(self, inner: httpx.Client, body: Callable[[bytes], Iterator[bytes]]) -> None:
        self.inner, self.body = inner, body

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        reply = self.inner.post(
            request.url.path, content=request.read(), headers=dict(request.headers)
        )
        return httpx.Response(reply.status_code, content=self.body(reply.content))


def _trickle(content: bytes) -> Iterator[bytes]:
    # Every read completes well inside any client timeout; the whole never does.
    for i in range(len(content)):
        time.sleep(0.01)
        yield content[i : i + 1]


def _flood(content: bytes) -> Iterator[bytes]:
    yield content
    while True:
        yield b" " * 65536


@pytest.mark.timeout(60)
def test_a_custodian_that_trickles_or_floods_is_cut_off_and_the_others_open(
    world: Deployment,
) -> None:
    from underseal_server.investigator import investigate

    ok(world.ingest(world.seal_hit(PLATE, world.bundle())), 200)
    ok(world.warrant("w-1", [PLATE]), 200)
    (name, honest), *others = world.custodian_investigators
    for body, why, deadline in (
        (_trickle, "no whole answer within 1 s", 1.0),
        (_flood, "answer over 1000000 bytes", 30.0),
    ):
        slow = httpx.Client(transport=_Relay(honest, body), base_url="http://slow")
        start = time.monotonic()
        outcome = investigate(
            "w-1", records=world.as_["detective"], custodians=[(name, slow), *others],
            deadline=deadline, limit=1_000_000,
        )  # fmt: skip
        assert time.monotonic() - start < deadline + 10
        assert outcome.custodians_failed == {name: why}
        assert [e.plate for e in outcome.opened] == [PLATE]


def test_every_custodian_refuses_an_out_of_scope_request(world: Deployment) -> None:
    bundle = world.bundle()
    record = world.seal_hit(PLATE, bundle)
    ok(world.ingest(record), 200)
    ok(world.warrant("w-other", ["5XYZ789"]), 200)
    warrant = ok(world.as_["detective"].get("/v1/warrant-requests/w-other"), 200)["warrant"]
    for name, client in world.custodian_investigators:
        reply = client.post(
            "/v1/partials", json={"warrant": warrant, "records": [b64e(record.to_bytes())]}
        )
        assert reply.status_code == 403, name
        assert reply.json()["error"] == {
            "code": "out_of_scope",
            "message": reply.json()["error"]["message"],
            "reason": "plate",
        }
    # The server finds nothing for it either.
    assert world.investigate("w-other").opened == []


def test_a_warrant_signed_by_an_unregistered_key_is_refused(world: Deployment) -> None:
    reply = world.warrant("w-forged", [PLATE], court_key=SigningKey.generate())
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "invalid_signature"


def test_max_records_is_enforced_by_each_custodian(world: Deployment) -> None:
    bundle = world.bundle()
    records = [world.seal_hit(PLATE, bundle) for _ in range(3)]
    ok(world.ingest(*records), 200)
    ok(world.warrant("w-1", [PLATE], max_records=2), 200)
    warrant = ok(world.as_["detective"].get("/v1/warrant-requests/w-1"), 200)["warrant"]
    _, client = world.custodian_investigators[0]
    reply = client.post(
        "/v1/partials", json={"warrant": warrant, "records": [b64e(r.to_bytes()) for r in records]}
    )
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "over_limit"
    outcome = world.investigate("w-1")
    assert len(outcome.opened) == 2  # the server hands out at most max_records


def _files(url: str) -> bytes:
    """Every byte the database keeps on disk: the SQLite file with its WAL, or the whole
    PostgreSQL cluster directory (tables, WAL segments, everything)."""
    if url.startswith("sqlite:///"):
        base = Path(url.removeprefix("sqlite:///"))
        paths = list(base.parent.glob(base.name + "*"))
    else:
        host = url.split("host=")[1].split("&")[0]
        paths = [p for p in (Path(host) / "data").rglob("*") if p.is_file()]
    assert paths, "the scan found no database files"
    return b"".join(map(_bytes_of, paths))


def _bytes_of(path: Path) -> bytes:
    """A file's bytes; none for one the server removed since the listing (PostgreSQL's
    checkpointer deletes retired WAL segments and unlinks old relation files at will)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def test_retention_destroys_the_epoch_and_nothing_opens_it_after(world: Deployment) -> None:
    record = world.seal_hit(PLATE, world.bundle())
    ok(world.ingest(record), 200)
    ok(world.warrant("w-1", [PLATE], not_after=world.clock() + 60 * 86_400), 200)
    warrant = ok(world.as_["detective"].get("/v1/warrant-requests/w-1"), 200)["warrant"]
    epoch = record.header.epoch
    scalars = []
    for app in world.custodian_apps:
        with Session(app.state.engine) as session:
            share = session.get(Share, epoch)
            assert share is not None
            scalars.append(share.scalar)
    for url, scalar in zip(world.custodian_urls, scalars, strict=True):
        assert scalar in _files(url)  # the scan can see a share while it lives
    world.clock.advance(31 * 86_400 + 3600)
    for admin in world.custodian_admins:
        assert epoch in ok(admin.post("/v1/retention/run"), 200)["destroyed"]
    purged = ok(world.admin.post("/v1/retention/run"), 200)
    assert purged["records"] == 1
    assert epoch in purged["epochs"]
    # Every custodian refuses: the share is gone (410), whatever the warrant says.
    for _, client in world.custodian_investigators:
        reply = client.post(
            "/v1/partials", json={"warrant": warrant, "records": [b64e(record.to_bytes())]}
        )
        assert reply.status_code == 410
        assert reply.json()["error"]["code"] == "epoch_destroyed"
    # Not a byte of any share is left in the custodians' database files (WAL included).
    for url, scalar in zip(world.custodian_urls, scalars, strict=True):
        assert scalar not in _files(url)
    # The server dropped the ciphertext and the epoch's token key.
    assert record.ciphertext not in _files(world.records_url)
    assert world.records.get(f"/v1/epochs/{epoch}").json()["certificate"] is None
    assert world.investigate("w-1").opened == []


def test_ingest_is_idempotent_and_rejects_tampering_and_replay(world: Deployment) -> None:
    record = world.seal_hit(PLATE, world.bundle())
    assert ok(world.ingest(record), 200)["stored"] == 1
    assert ok(world.ingest(record), 200) == {"stored": 0, "duplicates": 1, "alerts": 0}
    # A replayed request (same nonce) is refused.
    nonce = b"n" * 16
    second = world.seal_hit(PLATE, world.bundle())
    ok(world.ingest(second, nonce=nonce), 200)
    reply = world.ingest(second, nonce=nonce)
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "replay"
    # A tampered record is refused and stores nothing.
    data = bytearray(world.seal_hit(PLATE, world.bundle()).to_bytes())
    data[-5] ^= 1
    body = json.dumps({"records": [b64e(bytes(data))]}).encode()
    reply = world.camera_request("POST", "/v1/camera/records", body)
    assert reply.status_code in {403, 422}
    # A request signed for another body is refused.
    headers = sign_request(
        world.camera_key,
        camera_id=CAMERA,
        method="POST",
        path="/v1/camera/records",
        body=b"{}",
        now=world.clock(),
    )
    reply = world.records.post("/v1/camera/records", content=body, headers=headers)
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "invalid_signature"


def _send_alert(world: Deployment, bundle: HotlistBundle, message: bytes) -> None:
    """A hit whose header announces a sealed alert for the dispatcher, ingested with it."""
    sealed_alert = SealedBox(world.dispatch_box.public_key).encrypt(message)
    match = bundle.match(PLATE)
    assert match is not None
    header = RecordHeader(
        record_id=os.urandom(16),
        camera_id=CAMERA,
        epoch=bundle.header.epoch,
        match_token=match.token,
        alert_size=len(sealed_alert),
    )
    evidence = Evidence(
        plate=PLATE, confidence_pm=900, observed_at=world.clock(), camera_id=CAMERA,
        latitude_e6=0, longitude_e6=0, hotlist_ref=b64e(match.ref), crop_jpeg="",
    )  # fmt: skip
    record = seal_record(
        header=header,
        evidence=evidence.to_bytes(),
        epoch_key=world.certificate(header.epoch).public_key(),
        device=world.camera_key,
    )
    alert = {
        "record_id": b64e(header.record_id),
        "dispatcher_id": "dispatch",
        "sealed": b64e(sealed_alert),
    }
    body = json.dumps({"records": [b64e(record.to_bytes())], "alerts": [alert]}).encode()
    assert ok(world.camera_request("POST", "/v1/camera/records", body), 200)["alerts"] == 1


def test_alerts_reach_the_dispatcher_sealed_until_acknowledged_or_expired(
    world: Deployment,
) -> None:
    bundle = world.bundle()
    _send_alert(world, bundle, b'{"plate":"hit"}')
    dispatch = world.as_["dispatch"]
    alerts = dispatch.get("/v1/alerts").json()
    assert len(alerts) == 1
    assert SealedBox(world.dispatch_box).decrypt(b64d(alerts[0]["sealed"])) == b'{"plate":"hit"}'
    assert dispatch.get("/v1/alerts").json() == alerts  # delivered until acknowledged
    acked = ok(dispatch.post("/v1/alerts/ack", json={"ids": [alerts[0]["id"]]}), 200)
    assert acked == {"acknowledged": 1}
    assert dispatch.get("/v1/alerts").json() == []
    # An alert nobody acknowledges is dropped after its TTL all the same.
    _send_alert(world, bundle, b'{"plate":"again"}')
    assert len(dispatch.get("/v1/alerts").json()) == 1
    world.clock.advance(601)
    assert dispatch.get("/v1/alerts").json() == []


def test_audit_log_records_everything_and_verifies(world: Deployment) -> None:
    first = ok(world.records.get("/v1/log/checkpoint"), 200)
    record = world.seal_hit(PLATE, world.bundle())
    ok(world.ingest(record), 200)
    ok(world.warrant("w-1", [PLATE]), 200)
    world.investigate("w-1")
    second = ok(world.records.get("/v1/log/checkpoint"), 200)
    key = world.records_app.state.log_host.key.verify_key
    old = verify_checkpoint(b64d(first["checkpoint"]), key)
    new = verify_checkpoint(b64d(second["checkpoint"]), key)
    proof = ok(world.records.get(f"/v1/log/proof/consistency?old={old.size}&new={new.size}"), 200)[
        "proof"
    ]
    verify_consistency(old.size, new.size, old.root, new.root, [b64d(p) for p in proof])
    entries = world.records.get("/v1/log/entries?start=0&limit=1000").json()
    kinds = [e["kind"] for e in entries]
    for kind in (
        "enrol.camera",
        "epoch.publish",
        "hotlist.add",
        "hotlist.approve",
        "bundle.issue",
        "ingest.batch",
        "warrant.request",
        "warrant.grant",
        "warrant.search",
    ):
        assert kind in kinds, kind
    from underseal.merkle import entry_leaf

    index = kinds.index("warrant.search")
    path = ok(world.records.get(f"/v1/log/proof/inclusion?index={index}&size={new.size}"), 200)[
        "proof"
    ]
    verify_inclusion(entry_leaf(entries[index]), index, new.size, [b64d(p) for p in path], new.root)
    # Custodians logged their partial decryptions in their own logs.
    for _, client in world.custodian_investigators:
        logged = client.get("/v1/log/entries?limit=1000").json()
        assert "partial.issue" in [e["kind"] for e in logged]
    # No plate in clear anywhere in the log.
    assert PLATE not in str(entries)


def test_hotlist_needs_a_second_person(world: Deployment) -> None:
    entry = ok(
        world.as_["officer"].post(
            "/v1/hotlist",
            json={
                "plate": "5XYZ789",
                "reason": "felony_warrant",
                "case_number": "C-1",
                "expires_at": world.clock() + 3600,
            },
        )
    )
    assert entry["status"] == "pending"
    assert world.bundle().match("5XYZ789") is None
    reply = world.as_["officer"].post(f"/v1/hotlist/{entry['id']}/approve")
    assert reply.status_code == 403
    ok(world.as_["approver"].post(f"/v1/hotlist/{entry['id']}/approve"), 200)
    assert world.bundle().match("5XYZ789") is not None


def test_hot_file_import_is_all_or_nothing(world: Deployment) -> None:
    expiry = world.clock() + 3600
    good = f"plate,reason,case_number,expires_at\n5XYZ789,stolen_vehicle,N-1,{expiry}\n"
    bad = good + f"CROSSWALK,stolen_vehicle,N-2,{expiry}\n"
    feed = world.as_["ncic-feed"]
    headers = {"content-type": "text/csv"}
    reply = feed.post("/v1/hotlist/import?source=ncic", content=bad, headers=headers)
    assert reply.status_code == 422
    assert reply.json()["error"]["code"] == "implausible_plate"
    assert "CROSSWALK" not in reply.text
    assert len(world.as_["officer"].get("/v1/hotlist").json()) == 1  # only the fixture's entry
    assert (
        ok(feed.post("/v1/hotlist/import?source=ncic", content=good, headers=headers))["imported"]
        == 1
    )
    assert world.bundle().match("5XYZ789") is not None


def test_legal_hold_keeps_only_held_records_readable_after_the_epoch_is_destroyed(
    world: Deployment,
) -> None:
    held_plate, other_plate = PLATE, "5XYZ789"
    world.list_plate(other_plate)
    bundle = world.bundle()
    held = world.seal_hit(held_plate, bundle)
    other = world.seal_hit(other_plate, bundle)
    ok(world.ingest(held, other), 200)
    case_key = PrivateKey.generate()
    ok(
        world.warrant(
            "w-hold", [held_plate], case_key=case_key, not_after=world.clock() + 90 * 86_400
        ),
        200,
    )
    # The investigation escrows every custodian's partial, sealed to the case key.
    assert [e.plate for e in world.investigate("w-hold").opened] == [held_plate]
    # Retention: every share of the epoch is destroyed, the un-held record deleted.
    world.clock.advance(31 * 86_400 + 3600)
    for admin in world.custodian_admins:
        assert held.header.epoch in ok(admin.post("/v1/retention/run"), 200)["destroyed"]
    assert ok(world.admin.post("/v1/retention/run"), 200)["records"] == 1
    assert other.ciphertext not in _files(world.records_url)
    # The held record still opens, with the case key, from its escrows alone.
    outcome = open_held("w-hold", records=world.as_["detective"], case_key=case_key)
    assert [e.plate for e in outcome.opened] == [held_plate]
    # Without the case key it does not.
    wrong = open_held("w-hold", records=world.as_["detective"], case_key=PrivateKey.generate())
    assert wrong.opened == []
    assert wrong.unopened == 1


def test_a_legal_hold_needs_a_court_signed_case_key(world: Deployment) -> None:
    with pytest.raises(ValueError, match="case key"):
        Warrant(
            id="w-x",
            court_id="superior-court",
            investigator="detective",
            case="C",
            issued_at=1,
            not_after=2,
            scope=WarrantScope(plates=(PLATE,), time_from=0, time_to=1, purpose="p"),
            max_records=1,
            legal_hold=True,
        )


def test_a_batch_with_one_bad_record_stores_none_of_it(world: Deployment) -> None:
    bundle = world.bundle()
    good = [world.seal_hit(PLATE, bundle) for _ in range(3)]
    foreign = world.seal_hit(PLATE, bundle)
    # Re-signed by another key: the camera's signature on it no longer verifies.
    forged = SealedRecord(
        foreign.header,
        foreign.ephemeral,
        foreign.nonce,
        foreign.ciphertext,
        SigningKey.generate().sign(foreign.signed_message()).signature,
    )
    before = ok(world.records.get("/v1/log/checkpoint"), 200)["checkpoint"]
    reply = world.ingest(*good, forged)
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "invalid_signature"
    with Session(world.records_app.state.engine) as session:
        assert session.exec(select(Record)).all() == []
    after = ok(world.records.get("/v1/log/checkpoint"), 200)["checkpoint"]
    key = world.records_app.state.log_host.key.verify_key
    assert verify_checkpoint(b64d(before), key).size == verify_checkpoint(b64d(after), key).size
    # The good ones alone go through.
    assert ok(world.ingest(*good), 200)["stored"] == 3


def test_a_refused_partial_request_counts_nothing_against_the_warrant(world: Deployment) -> None:
    bundle = world.bundle()
    records = [world.seal_hit(PLATE, bundle) for _ in range(2)]
    ok(world.ingest(*records), 200)
    ok(world.warrant("w-1", [PLATE], max_records=2), 200)
    warrant = ok(world.as_["detective"].get("/v1/warrant-requests/w-1"), 200)["warrant"]
    stranger = world.seal_hit(PLATE, bundle)
    forged = SealedRecord(
        stranger.header,
        stranger.ephemeral,
        stranger.nonce,
        stranger.ciphertext,
        SigningKey.generate().sign(stranger.signed_message()).signature,
    )
    _, client = world.custodian_investigators[0]
    wire = [b64e(r.to_bytes()) for r in records]
    refused = client.post(
        "/v1/partials", json={"warrant": warrant, "records": [*wire, b64e(forged.to_bytes())]}
    )
    assert refused.status_code == 403
    # Both real records are still within the limit of 2: the refusal used none of it.
    assert ok(client.post("/v1/partials", json={"warrant": warrant, "records": wire}), 200)
    log = client.get("/v1/log/entries?limit=1000").json()
    assert [e["details"]["code"] for e in log if e["kind"] == "partial.refuse"] == [
        "invalid_signature"
    ]


def test_holds_cover_the_exact_scope_only_and_last_until_every_court_releases(
    world: Deployment,
) -> None:
    lookalike = "7A8C1Z3"  # folds to the same token as 7ABC123: the server cannot tell them apart
    world.list_plate(lookalike)
    bundle = world.bundle()
    exact, similar = world.seal_hit(PLATE, bundle), world.seal_hit(lookalike, bundle)
    ok(world.ingest(exact, similar), 200)
    first, second = PrivateKey.generate(), PrivateKey.generate()
    ok(world.warrant("w-a", [PLATE], case_key=first, not_after=world.clock() + 90 * 86_400), 200)
    ok(world.warrant("w-b", [PLATE], case_key=second, not_after=world.clock() + 90 * 86_400), 200)
    outcome = world.investigate("w-a")
    assert [e.plate for e in outcome.opened] == [PLATE]
    assert outcome.out_of_scope == 1  # the look-alike opened, was discarded, and is not held
    assert [e.plate for e in world.investigate("w-b").opened] == [PLATE]
    world.clock.advance(31 * 86_400 + 3600)
    for admin in world.custodian_admins:
        ok(admin.post("/v1/retention/run"), 200)
    assert ok(world.admin.post("/v1/retention/run"), 200)["records"] == 1  # the look-alike
    court = world.as_["superior-court"]
    assert ok(court.post("/v1/warrant-requests/w-a/release-hold"), 200)["released"] == 1
    assert ok(world.admin.post("/v1/retention/run"), 200)["records"] == 0  # w-b still holds it
    assert [
        e.plate for e in open_held("w-b", records=world.as_["detective"], case_key=second).opened
    ] == [PLATE]
    ok(court.post("/v1/warrant-requests/w-b/release-hold"), 200)
    assert ok(world.admin.post("/v1/retention/run"), 200)["records"] == 1
    assert exact.ciphertext not in _files(world.records_url)


def test_past_retention_nothing_opens_even_before_the_scheduled_run(world: Deployment) -> None:
    record = world.seal_hit(PLATE, world.bundle())
    ok(world.ingest(record), 200)
    ok(world.warrant("w-1", [PLATE], not_after=world.clock() + 60 * 86_400), 200)
    warrant = ok(world.as_["detective"].get("/v1/warrant-requests/w-1"), 200)["warrant"]
    world.clock.advance(31 * 86_400 + 3600)  # no retention run yet: the shares still exist
    for _, client in world.custodian_investigators:
        reply = client.post(
            "/v1/partials", json={"warrant": warrant, "records": [b64e(record.to_bytes())]}
        )
        assert reply.status_code == 410
    assert ok(world.as_["detective"].post("/v1/warrants/w-1/search"), 200)["records"] == []
    late = world.ingest(record)
    assert late.status_code == 409


def test_concurrent_requests_cannot_pass_a_warrants_record_limit(world: Deployment) -> None:
    bundle = world.bundle()
    records = [world.seal_hit(PLATE, bundle) for _ in range(4)]
    ok(world.ingest(*records), 200)
    ok(world.warrant("w-1", [PLATE], max_records=1), 200)
    warrant = ok(world.as_["detective"].get("/v1/warrant-requests/w-1"), 200)["warrant"]
    _, client = world.custodian_investigators[0]
    token = client.headers["authorization"]
    app = world.custodian_apps[0]

    def ask(record: SealedRecord) -> int:
        with TestClient(app, headers={"authorization": token}) as own:
            return own.post(
                "/v1/partials", json={"warrant": warrant, "records": [b64e(record.to_bytes())]}
            ).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(ask, records))
    assert statuses == [200, 403, 403, 403]


def test_a_warrant_is_usable_only_by_the_investigator_it_names(world: Deployment) -> None:
    record = world.seal_hit(PLATE, world.bundle())
    ok(world.ingest(record), 200)
    ok(world.warrant("w-1", [PLATE]), 200)
    warrant = ok(world.as_["detective"].get("/v1/warrant-requests/w-1"), 200)["warrant"]
    # Another investigator account at the custodian, holding the same warrant bytes.
    admin = world.custodian_admins[0]
    other = ok(admin.post("/v1/principals", json={"id": "rogue", "role": "investigator"}))
    rogue = TestClient(
        world.custodian_apps[0], headers={"authorization": f"Bearer {other['token']}"}
    )
    reply = rogue.post(
        "/v1/partials", json={"warrant": warrant, "records": [b64e(record.to_bytes())]}
    )
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "not_your_warrant"


def test_a_court_removed_from_custodians_registries_opens_nothing_more(world: Deployment) -> None:
    # A stolen court key is revoked where it counts: each custodian's own registry.
    bundle = world.bundle()
    ok(world.ingest(world.seal_hit(PLATE, bundle)), 200)
    ok(world.warrant("w-court", [PLATE]), 200)
    assert len(world.investigate("w-court").opened) == 1  # before: the warrant works
    for admin in world.custodian_admins[:2]:
        ok(admin.delete("/v1/courts/superior-court"), 200)
    warrant = ok(world.as_["detective"].get("/v1/warrant-requests/w-court"), 200)["warrant"]
    records = [b64e(world.seal_hit(PLATE, bundle).to_bytes())]
    _, client = world.custodian_investigators[0]
    reply = client.post("/v1/partials", json={"warrant": warrant, "records": records})
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "invalid_signature"
    outcome = world.investigate("w-court")
    assert outcome.opened == []  # one custodian still honours it: below the threshold
    assert set(outcome.custodians_failed) == {"custodian-1", "custodian-2"}
