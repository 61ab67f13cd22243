"""Claim 3: a record opens only with a valid warrant that covers it and t custodians agreeing;
any t-1 custodians plus the records server learn nothing.

Hits of listed plates are sealed by the camera's key (the core's
``seal_record``, as the camera does) and ingested by the real records
server; a court grants warrants valid and invalid (expired, signed by an
unregistered court, for other plates or other days, with record limits of
1 to 3); investigators run the real investigation client with any subset of
the three custodians up, and a stalking officer also goes around the
server, posting any warrant with any records straight to every custodian.

Checked after every step, against a model of what each warrant allows:

- every record an investigation opens is in its warrant's exact scope
  (plate, time window), under a warrant valid at that moment, with at least
  t = 2 custodians answering, and never more records than the limit;
- a custodian answers a direct request only when every record in it is in
  the warrant's scope as a custodian can see it (the folded plate's token
  and the record's day), the warrant is valid and court-signed, and the
  count stays within the limit — so what opens from its answers is covered;
- an investigation under a valid warrant with t custodians up opens every
  record its exact scope covers (so the proof is not vacuous);
- one custodian's share with everything on the records server opens no
  record, and no share is in the server's files or in another custodian's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from nacl.signing import SigningKey
from underseal_server.investigator import InvestigationError, investigate
from underseal_server.retention import expired_epochs_before

from proofs.world import (
    HOT_POOL,
    NON_HIT_POOL,
    ProofWorld,
    absent,
    event,
    plant_settings,
    proof_settings,
)
from tests.server.deployment import CAMERA, ok
from underseal.bundle import HotlistBundle
from underseal.encoding import b64d, b64e
from underseal.epochs import epoch_end, epoch_of, epoch_start
from underseal.errors import UndersealError
from underseal.evidence import Evidence
from underseal.plates import fold
from underseal.sealed import SealedRecord, open_record_with_shared_point
from underseal.threshold import Partial, combine_partials
from underseal.warrant import SignedWarrant, Warrant, WarrantScope, sign_warrant

HOUR = 3600
LISTED = 4  # HOT_POOL[:LISTED] are on the hotlist
KINDS = ("valid", "valid", "short", "wrong_court", "other_plates")


@dataclass
class Filed:
    """A warrant as the model sees it."""

    warrant: Warrant
    signed: bytes
    registered_court: bool
    used: dict[int, set[bytes]] = field(default_factory=lambda: {0: set(), 1: set(), 2: set()})

    def valid_at(self, now: int) -> bool:
        return (
            self.registered_court and self.warrant.issued_at - 300 <= now < self.warrant.not_after
        )

    def coarse(self, record: SealedRecord, plate: str) -> bool:
        """In scope as a custodian sees it: the folded plate and the record's day."""
        s = self.warrant.scope
        day = record.header.epoch
        overlaps = epoch_end(day) > s.time_from and epoch_start(day) < s.time_to
        return overlaps and fold(plate) in {fold(p) for p in s.plates}


@dataclass
class Stored:
    record: SealedRecord
    plate: str
    observed_at: int


class OnlyWarrantsOpenRecords(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = ProofWorld(camera=False)
        for i in range(LISTED):
            self.world.list_plate(i)
        self.day_bundles: dict[int, HotlistBundle] = {}
        self.stored: list[Stored] = []
        self.warrants: dict[str, Filed] = {}
        # A record and a warrant that covers it from the start, so short runs open records.
        self.a_listed_plate_is_read(i=0, back=0)
        self.a_court_rules(kind="valid", plates={0}, before=2, after=2, limit=3)

    def teardown(self) -> None:
        self.world.close()

    @property
    def now(self) -> int:
        return self.world.clock()

    # --- records ------------------------------------------------------------------------

    @rule(i=st.integers(0, LISTED - 1), back=st.integers(0, 6 * HOUR))
    def a_listed_plate_is_read(self, i: int, back: int) -> None:
        d = self.world.d
        epoch = epoch_of(self.now)
        if epoch not in self.day_bundles:
            self.day_bundles[epoch] = d.bundle()
        observed_at = max(self.now - back, epoch_start(epoch))
        record = d.seal_hit(HOT_POOL[i], self.day_bundles[epoch], observed_at=observed_at)
        assert ok(d.ingest(record), 200)["stored"] == 1
        self.stored.append(Stored(record, HOT_POOL[i], observed_at))

    @rule(hours=st.integers(1, 30))
    def time_passes(self, hours: int) -> None:
        self.world.advance(hours * HOUR)

    # --- warrants -------------------------------------------------------------------------

    @rule(
        kind=st.sampled_from(KINDS),
        plates=st.sets(st.integers(0, LISTED), min_size=1, max_size=2),
        before=st.integers(0, 48),
        after=st.integers(-12, 48),
        limit=st.integers(1, 3),
    )
    def a_court_rules(
        self, kind: str, plates: set[int], before: int, after: int, limit: int
    ) -> None:
        d = self.world.d
        wid = f"w-{len(self.warrants)}"
        names = (
            [NON_HIT_POOL[i] for i in sorted(plates)]
            if kind == "other_plates"
            else [HOT_POOL[i] for i in sorted(plates)]
        )
        time_from = self.now - before * HOUR
        time_to = max(time_from + HOUR, self.now + after * HOUR)
        warrant = Warrant(
            id=wid,
            court_id="superior-court",
            investigator="detective",
            case="SPD-2026-0042",
            issued_at=self.now,
            not_after=self.now + (HOUR if kind == "short" else 10 * 86_400),
            scope=WarrantScope(
                plates=tuple(names), time_from=time_from, time_to=time_to, purpose="recovery"
            ),
            max_records=limit,
            legal_hold=False,
            case_key=None,
        )
        court = SigningKey.generate() if kind == "wrong_court" else d.court_key
        signed = sign_warrant(warrant, court).to_bytes()
        ok(
            d.as_["detective"].post(
                "/v1/warrant-requests",
                json={
                    "id": wid,
                    "case": warrant.case,
                    "purpose": "recovery",
                    "plates": names,
                    "time_from": time_from,
                    "time_to": time_to,
                    "max_records": limit,
                    "legal_hold": False,
                },
            )
        )
        reply = d.as_["superior-court"].post(
            f"/v1/warrant-requests/{wid}/grant", json={"warrant": b64e(signed)}
        )
        if kind == "wrong_court":
            assert reply.status_code == 403, "the server filed a warrant of an unknown court"
        else:
            assert reply.status_code == 200, reply.status_code
        self.warrants[wid] = Filed(warrant, signed, kind != "wrong_court")

    @precondition(lambda self: bool(self.warrants))
    @rule(data=st.data(), up=st.sets(st.integers(0, 2), max_size=3))
    def an_investigation(self, data: st.DataObject, up: set[int]) -> None:
        wid = data.draw(st.sampled_from(sorted(self.warrants)))
        filed = self.warrants[wid]
        d = self.world.d
        fresh = all(not used for used in filed.used.values())
        searched: list[bytes] = []

        def keep_search(response: httpx.Response) -> None:
            if response.request.url.path.endswith("/search") and response.status_code == 200:
                response.read()
                for text in response.json()["records"]:
                    searched.append(SealedRecord.from_bytes(b64d(text)).header.record_id)

        records = TestClient(d.records_app, headers=dict(d.as_["detective"].headers))
        records.event_hooks = {"request": [], "response": [keep_search]}
        try:
            outcome = (
                investigate(
                    wid,
                    records=records,
                    custodians=[d.custodian_investigators[c] for c in sorted(up)],
                )
                if up
                else None
            )
        except InvestigationError:
            outcome = None
            assert not filed.valid_at(self.now), "a valid warrant's search was refused"
        opened = [] if outcome is None else outcome.opened
        if opened:
            event("an investigation opened records")
            assert filed.valid_at(self.now), "a record opened under an invalid warrant"
            assert len(up) >= 2, "a record opened with fewer than t custodians"
            assert len(opened) <= filed.warrant.max_records, "more records than the limit"
        for evidence in opened:
            assert filed.warrant.scope.covers(
                plate=evidence.plate, observed_at=evidence.observed_at, camera_id=CAMERA
            ), "a record outside the warrant's exact scope opened"
        if outcome is not None:
            for c in up:
                if f"custodian-{c + 1}" in outcome.custodians_answered:
                    filed.used[c] |= set(searched)
        # Liveness: a valid warrant, t custodians, room under the limit → all it covers opens.
        candidates = self._candidates(filed)
        room = len(candidates) <= filed.warrant.max_records
        if fresh and room and filed.valid_at(self.now) and len(up) >= 2:
            exact = sorted(
                (s.plate, s.observed_at)
                for s in candidates
                if filed.warrant.scope.covers(
                    plate=s.plate, observed_at=s.observed_at, camera_id=CAMERA
                )
            )
            assert sorted((e.plate, e.observed_at) for e in opened) == exact, (
                "a valid warrant did not open what it covers"
            )

    def _live(self, record: SealedRecord) -> bool:
        """Not past retention (30 days here): nobody searches or answers for it after."""
        return record.header.epoch >= expired_epochs_before(self.now, 30)

    def _candidates(self, filed: Filed) -> list[Stored]:
        return [s for s in self.stored if filed.coarse(s.record, s.plate) and self._live(s.record)]

    @precondition(lambda self: bool(self.warrants) and bool(self.stored))
    @rule(data=st.data())
    def a_stalker_goes_around_the_server(self, data: st.DataObject) -> None:
        """Any warrant with any records, straight to every custodian."""
        wid = data.draw(st.sampled_from(sorted(self.warrants)))
        filed = self.warrants[wid]
        # Half the time, records the warrant's scope names (the interesting case is then
        # whether the warrant is still valid, and the limit); else any records at all.
        pool = [s for s in self.stored if filed.coarse(s.record, s.plate)]
        if not pool or data.draw(st.booleans()):
            pool = self.stored
        chosen = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique_by=id))
        body = {
            "warrant": b64e(filed.signed),
            "records": [b64e(s.record.to_bytes()) for s in chosen],
        }
        partials: dict[bytes, list[Partial]] = {s.record.header.record_id: [] for s in chosen}
        for c, (_, client) in enumerate(self.world.d.custodian_investigators):
            reply = client.post("/v1/partials", json=body)
            ids = {s.record.header.record_id for s in chosen}
            allowed = (
                filed.valid_at(self.now)
                and all(filed.coarse(s.record, s.plate) and self._live(s.record) for s in chosen)
                and len(filed.used[c] | ids) <= filed.warrant.max_records
            )
            event(f"a custodian {'answered' if reply.status_code == 200 else 'refused'} a stalker")
            if reply.status_code == 200:
                assert allowed, f"custodian {c + 1} answered a request its warrant does not allow"
                filed.used[c] |= ids
                for item in reply.json()["partials"]:
                    partials[b64d(item["record_id"])].append(Partial.from_json(item["partial"]))
            else:
                assert reply.status_code in {403, 404, 409, 410, 422}, reply.status_code
                assert not allowed, f"custodian {c + 1} refused an allowed request"
        for s in chosen:
            evidence = self._open(s.record, partials[s.record.header.record_id])
            if evidence is not None:
                assert filed.valid_at(self.now), "a record opened under an invalid warrant"
                assert filed.coarse(s.record, s.plate), "a record outside its warrant opened"

    def _open(self, record: SealedRecord, partials: list[Partial]) -> Evidence | None:
        certificate = self.world.certificates[record.header.epoch]
        try:
            shared = combine_partials(
                partials, record.ephemeral, commitments=certificate.commitments
            )
            plain = open_record_with_shared_point(record, shared, certificate.public_key())
        except UndersealError:  # too few valid partials: nothing opens
            return None
        return Evidence.from_bytes(plain)

    # --- t-1 custodians and the server ------------------------------------------------------

    @invariant()
    def one_custodian_and_the_server_learn_nothing(self) -> None:
        w = self.world
        server = w.records_files()
        holdings = [w.custodian_files(c) for c in range(3)]
        for epoch, scalars in w.all_share_scalars().items():
            for c, scalar in enumerate(scalars):
                absent(scalar, server, f"a share of epoch {epoch} on the records server")
                others = [h for i, h in enumerate(holdings) if i != c]
                for other in others:
                    absent(scalar, other, "a share at two custodians")
        for s in self.stored:
            for share in w.shares(s.record.header.epoch):
                assert w.oracle_open(s.record, [share]) is None, "one share opened a record"


OnlyWarrantsOpenRecords.TestCase.settings = proof_settings(ci=(5, 15), thorough=(20, 25))
test_only_warrants_open_records = OnlyWarrantsOpenRecords.TestCase


# --- sensitivity ------------------------------------------------------------------------------


def _ignores_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    """A custodian build that verifies the record and the warrant but never the scope."""
    from underseal.threshold import KeyShare, partial_decrypt
    from underseal.warrant import verify_warrant

    def lax(share: KeyShare, record: SealedRecord, **kw: object) -> Partial:
        record.verify(kw["device"])  # type: ignore[arg-type]
        verify_warrant(kw["warrant"], courts=kw["courts"], now=kw["now"])  # type: ignore[arg-type]
        return partial_decrypt(share, record.ephemeral)

    monkeypatch.setattr("underseal_server.custodian.app.partial_for_warrant", lax)


def _honours_expired_warrants(monkeypatch: pytest.MonkeyPatch) -> None:
    """A custodian whose warrant check reads the clock as of the warrant's issue."""
    from underseal import custody
    from underseal.warrant import verify_warrant

    def as_issued(data: bytes, *, courts: object, now: int) -> Warrant:
        issued = SignedWarrant.from_bytes(data).warrant.issued_at
        return verify_warrant(data, courts=courts, now=issued)  # type: ignore[arg-type]

    monkeypatch.setattr(custody, "verify_warrant", as_issued)
    monkeypatch.setattr("underseal_server.custodian.app.verify_warrant", as_issued)


class _Drawn:
    """Stands in for hypothesis's ``data`` to replay a written story through the rules."""

    def __init__(self, *values: object) -> None:
        self.values = list(values)

    def draw(self, _strategy: object) -> object:
        return self.values.pop(0)


def test_the_proof_fails_when_a_custodian_ignores_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    _ignores_scope(monkeypatch)
    with pytest.raises(AssertionError, match=r"does not allow|outside|invalid warrant"):
        run_state_machine_as_test(OnlyWarrantsOpenRecords, settings=plant_settings(10, 15))


def test_the_proof_fails_when_a_custodian_honours_an_expired_warrant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The story is written out (expiry needs four rules in a row, which random runs of a
    ci-sized budget reach only now and then): the machine's own rules and checks."""
    _honours_expired_warrants(monkeypatch)
    machine = OnlyWarrantsOpenRecords()
    try:
        machine.a_court_rules(kind="short", plates={0}, before=2, after=2, limit=3)
        machine.one_custodian_and_the_server_learn_nothing()
        machine.time_passes(hours=2)
        with pytest.raises(AssertionError, match="does not allow"):
            machine.a_stalker_goes_around_the_server(_Drawn("w-1", False, [machine.stored[0]]))
    finally:
        machine.teardown()
