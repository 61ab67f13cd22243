"""Claim 7: tampered, replayed or rolled-back bundles, records and warrants are rejected and
change nothing.

The real camera syncs its hotlist and delivers hits to the real records
server while a man in the middle rewrites its bundle downloads (a flipped
bit, a cut, appended bytes, an older bundle replayed, a bundle sealed for
another camera), and an attacker sends the records server tampered and
replayed records and requests, and sends the server and the custodians
tampered and re-used warrants. Each attack is checked where it lands:

- the camera refuses the bundle and keeps exactly the bundle files and
  serials it had, and still matches what it matched before;
- the records server answers 4xx and its tables (all but the anti-replay
  nonces and the audit log) are byte for byte what they were;
- every custodian answers 4xx and its tables (all but its audit log, where
  the refusal is logged) are unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)
from underseal_device.camera.hotlist import HotlistStore

from proofs.world import (
    CAMERA_ID,
    HOT_POOL,
    ProofWorld,
    db_dump,
    event,
    plant_settings,
    proof_settings,
)
from tests.server.deployment import ok
from underseal.encoding import b64d, b64e, canonical_json, parse_canonical_json
from underseal.epochs import epoch_of
from underseal.errors import UndersealError
from underseal.sealed import SealedRecord
from underseal.signed_requests import sign_request

BOOKKEEPING = frozenset({"audit_entry", "audit_state", "seen_nonce"})
CUSTODIAN_BOOKKEEPING = frozenset({"audit_entry", "audit_state"})
MUTATIONS = ("flip", "cut", "append")
flips = st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 1 << 20), st.integers(0, 7))


def mutate(data: bytes, how: tuple[str, int, int]) -> bytes:
    mode, where, bit = how
    if mode == "cut":
        return data[: where % len(data)]
    if mode == "append":
        return data + bytes([where % 256])
    position = where % len(data)
    return data[:position] + bytes([data[position] ^ (1 << bit)]) + data[position + 1 :]


class TamperingChangesNothing(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = ProofWorld()
        self.world.list_plate(0)
        assert self.world.sync()
        self.old_bundles: list[bytes] = []
        self.records: list[bytes] = []
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        d = self.world.d
        assert d.warrant("w-0", [HOT_POOL[0]], max_records=100).status_code == 200
        self.warrant = b64d(ok(d.as_["detective"].get("/v1/warrant-requests/w-0"), 200)["warrant"])
        self.requests_filed = 1
        self._keep_bundles()
        self.a_plate_passes(0)  # a hit from the start, for the attacks to work on

    def teardown(self) -> None:
        self.world.close()

    def _keep_bundles(self) -> None:
        for path in sorted(self.world.state.bundles_dir.glob("*.bundle")):
            data = path.read_bytes()
            if data not in self.old_bundles:
                self.old_bundles.append(data)

    # --- ordinary life ----------------------------------------------------------------------

    @rule(i=st.integers(0, 3))
    def a_plate_is_listed(self, i: int) -> None:
        self.world.list_plate(i)

    @rule()
    def sync(self) -> None:
        self.world.sync()
        self._keep_bundles()

    @rule(i=st.integers(0, 3))
    def a_plate_passes(self, i: int) -> None:
        for hit in self.world.drive(((HOT_POOL[i], 0.9),)):
            self.records.append(hit.record)

    @rule()
    def deliver(self) -> None:
        self.world.deliver()

    @rule(hours=st.integers(1, 30))
    def time_passes(self, hours: int) -> None:
        self.world.advance(hours * 3600)
        self.world.sync()
        self._keep_bundles()

    # --- what the camera keeps, what the services hold ---------------------------------------

    def camera_state(self) -> tuple[bytes, ...]:
        w = self.world
        files = sorted(w.state.bundles_dir.iterdir())
        hotlist = w.camera.hotlist
        assert hotlist is not None
        bundle = hotlist.bundle_for(w.clock())
        serial = -1 if bundle is None else bundle.header.serial
        matches = tuple(
            bundle is not None and bundle.match(HOT_POOL[i]) is not None for i in range(4)
        )
        return (
            *(f.name.encode() + f.read_bytes() for f in files),
            str(serial).encode(),
            repr(matches).encode(),
        )

    def services_state(self) -> tuple[bytes, ...]:
        d = self.world.d
        return (
            db_dump(d.records_url, skip=BOOKKEEPING),
            *(db_dump(url, skip=CUSTODIAN_BOOKKEEPING) for url in d.custodian_urls),
        )

    # --- attacks on the camera's hotlist ------------------------------------------------------

    @rule(
        attack=st.sampled_from(["mutate", "replay_old", "other_camera"]),
        how=flips,
        data=st.data(),
    )
    def a_man_in_the_middle_rewrites_the_bundle(
        self, attack: str, how: tuple[str, int, int], data: st.DataObject
    ) -> None:
        w = self.world
        d = w.d
        if attack == "replay_old":
            if not self.old_bundles:
                return
            forged = data.draw(st.sampled_from(self.old_bundles))
        elif attack == "other_camera":
            d.bundle_serial = 0
            forged = d.camera_request("GET", "/v1/camera/bundle").content
        else:
            forged = b""
        before = self.camera_state()

        def rewrite(path: str, content: bytes) -> bytes:
            if "/bundle" not in path:
                return content
            return mutate(content, how) if attack == "mutate" else forged

        w.tap.rewrite = rewrite
        try:
            w.sync()
        finally:
            w.tap.rewrite = None
        assert self.camera_state() == before, f"a {attack} bundle changed the camera's hotlist"
        event(f"bundle attack refused: {attack}")

    # --- attacks on the records server --------------------------------------------------------

    def _camera_post(self, body: bytes, *, nonce: bytes | None = None) -> int:
        w = self.world
        headers = sign_request(
            w.state.keys().signing,
            camera_id=CAMERA_ID,
            method="POST",
            path="/v1/camera/records",
            body=body,
            now=w.clock(),
            nonce=nonce,
        )
        headers["content-type"] = "application/json"
        self.requests.append((body, headers))
        return w.d.records.post("/v1/camera/records", content=body, headers=headers).status_code

    @precondition(lambda self: bool(self.records))
    @rule(data=st.data(), how=flips)
    def a_tampered_record_is_sent(self, data: st.DataObject, how: tuple[str, int, int]) -> None:
        original = data.draw(st.sampled_from(self.records))
        forged = mutate(original, how)
        if forged == original:
            return
        before = self.services_state()
        body = json.dumps({"records": [b64e(forged)]}).encode()
        status = self._camera_post(body)
        assert 400 <= status < 500, f"a tampered record got HTTP {status}"
        event("tampered record refused")
        assert self.services_state() == before, "a tampered record changed the server"

    @precondition(lambda self: bool(self.requests))
    @rule(data=st.data())
    def a_request_is_replayed(self, data: st.DataObject) -> None:
        body, headers = data.draw(st.sampled_from(self.requests))
        before = self.services_state()
        status = self.world.d.records.post(
            "/v1/camera/records", content=body, headers=headers
        ).status_code
        assert 400 <= status < 500, f"a replayed request got HTTP {status}"
        assert self.services_state() == before, "a replayed request changed the server"

    @precondition(lambda self: bool(self.records))
    @rule(data=st.data())
    def a_stored_record_is_sent_again(self, data: st.DataObject) -> None:
        """A record replayed in a fresh request: acknowledged as a duplicate, nothing new."""
        record = data.draw(st.sampled_from(self.records))
        self.world.deliver()
        before = self.services_state()
        status = self._camera_post(json.dumps({"records": [b64e(record)]}).encode())
        assert status in {200, 409}, status
        assert self.services_state() == before, "a replayed record changed the server"

    # --- attacks with warrants ------------------------------------------------------------------

    @rule(
        change=st.sampled_from(["flip", "scope", "limit", "court", "investigator", "reuse"]),
        how=flips,
    )
    def a_tampered_warrant_is_used(self, change: str, how: tuple[str, int, int]) -> None:
        d = self.world.d
        if change == "flip":
            forged = mutate(self.warrant, how)
        else:
            signed = parse_canonical_json(self.warrant, what="warrant")
            body = signed["warrant"]
            if change == "scope":
                body["scope"]["plates"] = sorted({*body["scope"]["plates"], HOT_POOL[1]})
            elif change == "limit":
                body["max_records"] = 100_000
            elif change == "court":
                body["court_id"] = "supreme-court"
            elif change == "investigator":
                body["investigator"] = "someone-else"
            forged = canonical_json(signed)
        wid = f"w-{self.requests_filed}"
        self.requests_filed += 1
        ok(
            d.as_["detective"].post(
                "/v1/warrant-requests",
                json={
                    "id": wid,
                    "case": "SPD-2026-0042",
                    "purpose": "stolen vehicle recovery",
                    "plates": [HOT_POOL[1]],
                    "time_from": self.world.clock() - 86_400,
                    "time_to": self.world.clock() + 86_400,
                    "max_records": 5,
                    "legal_hold": False,
                },
            )
        )
        before = self.services_state()
        # 1. Filed with the server as the grant of another request.
        reply = d.as_["superior-court"].post(
            f"/v1/warrant-requests/{wid}/grant", json={"warrant": b64e(forged)}
        )
        assert 400 <= reply.status_code < 500, f"a {change} warrant was filed"
        # 2. Straight to the custodians, with a record of the day, to read it.
        if change != "reuse" and self.records:
            record = SealedRecord.from_bytes(self.records[-1])
            if epoch_of(self.world.clock()) == record.header.epoch:
                request = {"warrant": b64e(forged), "records": [b64e(self.records[-1])]}
                for c, (_, client) in enumerate(d.custodian_investigators):
                    status = client.post("/v1/partials", json=request).status_code
                    assert 400 <= status < 500, f"custodian {c + 1} took a {change} warrant"
        assert self.services_state()[1:] == before[1:], f"a {change} warrant changed a custodian"
        event(f"warrant attack refused: {change}")
        assert self.services_state()[0] == before[0], f"a {change} warrant changed the server"


TamperingChangesNothing.TestCase.settings = proof_settings(ci=(5, 15), thorough=(20, 25))
test_tampering_changes_nothing = TamperingChangesNothing.TestCase


# --- sensitivity ------------------------------------------------------------------------------


def _accepts_rollback(monkeypatch: pytest.MonkeyPatch) -> None:
    """A camera that checks a bundle's signature but not that its serial went up."""
    original = HotlistStore._open

    def lenient(self: HotlistStore, sealed: bytes, *, now: int, min_serial: int) -> object:
        return original(self, sealed, now=now, min_serial=0)

    monkeypatch.setattr(HotlistStore, "_open", lenient)


def _trusts_any_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """A records server (and custodians) that never check a record's signature."""
    monkeypatch.setattr(SealedRecord, "verify", lambda self, device: None)


def _custodian_skips_warrant_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    """Custodians that read a warrant's court and dates but never check its signature."""
    from underseal import custody
    from underseal.errors import Expired, InvalidSignature
    from underseal.warrant import SignedWarrant, Warrant

    def unsigned(data: bytes, *, courts: object, now: int) -> Warrant:
        warrant = SignedWarrant.from_bytes(data).warrant
        if warrant.court_id not in courts:  # type: ignore[operator]
            raise InvalidSignature("warrant names a court that is not registered")
        if now >= warrant.not_after:
            raise Expired("warrant has expired")
        return warrant

    monkeypatch.setattr(custody, "verify_warrant", unsigned)
    monkeypatch.setattr("underseal_server.custodian.app.verify_warrant", unsigned)


@pytest.mark.parametrize("plant", [_accepts_rollback, _custodian_skips_warrant_signature])
def test_the_proof_fails_when_tampering_gets_through(
    monkeypatch: pytest.MonkeyPatch, plant: Callable[[pytest.MonkeyPatch], None]
) -> None:
    plant(monkeypatch)
    with pytest.raises(AssertionError, match=r"changed|got HTTP|took a"):
        run_state_machine_as_test(TamperingChangesNothing, settings=plant_settings(10, 15))


def test_the_proof_fails_when_the_server_trusts_any_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Written out: a hit still in the outbox, its ciphertext flipped, sent by the thief."""
    _trusts_any_record(monkeypatch)
    machine = TamperingChangesNothing()
    try:
        machine.a_plate_passes(i=0)
        assert machine.records, "the listed plate made a hit"
        original = machine.records[0]
        # The last byte whose flip still parses (a base64url character of the signature).
        where = next(
            p for p in range(len(original) - 1, 0, -1) if _parses(mutate(original, ("flip", p, 0)))
        )
        with pytest.raises(AssertionError, match="got HTTP 200"):
            machine.a_tampered_record_is_sent(
                _Drawn(original),
                ("flip", where, 0),
            )
    finally:
        machine.teardown()


def _parses(data: bytes) -> bool:
    try:
        SealedRecord.from_bytes(data)
    except UndersealError:
        return False
    return True


class _Drawn:
    def __init__(self, *values: object) -> None:
        self.values = list(values)

    def draw(self, _strategy: object) -> object:
        return self.values.pop(0)
