"""Claim 4: after its epoch's retention period, a record without legal hold is unreadable by
every party together, including from backups of the records server's database.

A deployment with a 2-day retention period ingests hits while time passes;
retention runs on the records server and on each custodian at their own
times (a custodian may be down when the others run); the records server's
database is backed up (its SQLite files copied as they lie) and old backups
are restored over it; warrants with a legal hold escrow some records, and
courts release holds. After every step, for every record ever ingested
whose epoch is past retention and that was never held:

- every custodian refuses it (410) under a valid, covering warrant, whether
  or not its scheduled destruction has run yet;
- once every custodian has run retention since the epoch expired, no share
  of the epoch is left in any custodian's database files (WAL included), so
  no coalition of custodians, server and backups holds t shares, and the
  observer itself can open nothing;
- once the records server has run retention since (and no backup was
  restored after), its ciphertext is gone from the server's files too.

And every record under a hold not released still opens from its escrows
with the case key, after its epoch's key is destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)
from nacl.public import PrivateKey
from underseal_server.investigator import open_held
from underseal_server.retention import expired_epochs_before

from proofs.world import HOT_POOL, ProofWorld, absent, event, proof_settings
from tests.server.deployment import ok
from underseal.encoding import b64e
from underseal.epochs import epoch_end
from underseal.sealed import SealedRecord

HOUR = 3600
DAY = 86_400
RETENTION = 2
LISTED = 3


@dataclass
class Ingested:
    record: SealedRecord
    plate: int
    observed_at: int

    @property
    def key(self) -> tuple[str, int]:
        return HOT_POOL[self.plate], self.observed_at


@dataclass
class ServerModel:
    """What the records server's database holds about holds (reverts with a restore)."""

    holds: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # unreleased
    case_keys: dict[str, PrivateKey] = field(default_factory=dict)

    def copy(self) -> ServerModel:
        return ServerModel({k: set(v) for k, v in self.holds.items()}, dict(self.case_keys))


class RetentionShredsRecords(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = ProofWorld(camera=False, retention_days=RETENTION)
        for i in range(LISTED):
            self.world.list_plate(i)
        self.records: list[Ingested] = []
        self.ever_held: set[tuple[str, int]] = set()
        self.server = ServerModel()
        self.backups: list[tuple[Path, ServerModel]] = []
        self.custodian_ran: list[int] = [0, 0, 0]  # clock at each custodian's last run
        self.server_ran = 0
        self.restored_at = -1
        self.warrants = 0
        self.omnibus = self._warrant(list(range(LISTED)), case_key=None)
        self.a_hit_is_ingested(i=0)  # something to expire, even in a short run

    def teardown(self) -> None:
        self.world.close()

    @property
    def now(self) -> int:
        return self.world.clock()

    def _warrant(self, plates: list[int], *, case_key: PrivateKey | None) -> str:
        """A valid warrant (five days back, sixty ahead) for ``plates``; returns its id."""
        self.warrants += 1
        wid = f"w-{self.warrants}"
        reply = self.world.d.warrant(
            wid,
            [HOT_POOL[i] for i in plates],
            time_from=self.now - 5 * DAY,
            time_to=self.now + 60 * DAY,
            max_records=1000,
            not_after=self.now + 60 * DAY,
            case_key=case_key,
        )
        assert reply.status_code == 200, reply.status_code
        return wid

    # --- rules ----------------------------------------------------------------------------

    @rule(i=st.integers(0, LISTED - 1))
    def a_hit_is_ingested(self, i: int) -> None:
        d = self.world.d
        self.world.advance(1)  # observation times stay unique
        d.bundle_serial = 0  # the stand-in camera accepts the bundles of a restored server
        record = d.seal_hit(HOT_POOL[i], d.bundle())
        assert ok(d.ingest(record), 200)["stored"] == 1
        self.records.append(Ingested(record, i, self.now))

    @rule(hours=st.sampled_from([1, 7, 25, 49, 80]) | st.integers(1, 80))
    def time_passes(self, hours: int) -> None:
        self.world.advance(hours * HOUR)

    @rule(
        custodians=st.sampled_from([(0, 1, 2), (0, 1, 2), (0, 1), (1, 2), (2,), ()]),
        server=st.booleans(),
    )
    def retention_runs(self, custodians: tuple[int, ...], server: bool) -> None:
        """The services that are up run their retention sweep (cron or the scheduler)."""
        d = self.world.d
        for c in sorted(custodians):
            ok(d.custodian_admins[c].post("/v1/retention/run"), 200)
            self.custodian_ran[c] = self.now
        if server:
            ok(d.admin.post("/v1/retention/run"), 200)
            self.server_ran = self.now

    @rule()
    def backup_is_taken(self) -> None:
        self.backups.append((self.world.backup_records(), self.server.copy()))

    @precondition(lambda self: bool(self.backups))
    @rule(data=st.data())
    def backup_is_restored(self, data: st.DataObject) -> None:
        path, model = data.draw(st.sampled_from(self.backups))
        self.world.restore_records(path)
        self.server = model.copy()
        self.restored_at = self.now

    @rule(i=st.integers(0, LISTED - 1))
    def a_court_orders_a_legal_hold(self, i: int) -> None:
        case_key = PrivateKey.generate()
        wid = self._warrant([i], case_key=case_key)
        outcome = self.world.d.investigate(wid)
        opened = {(e.plate, e.observed_at) for e in outcome.opened}
        self.server.holds[wid] = opened
        self.server.case_keys[wid] = case_key
        self.ever_held |= opened

    @precondition(lambda self: bool(self.server.holds))
    @rule(data=st.data())
    def a_court_releases_a_hold(self, data: st.DataObject) -> None:
        wid = data.draw(st.sampled_from(sorted(self.server.holds)))
        ok(self.world.d.as_["superior-court"].post(f"/v1/warrant-requests/{wid}/release-hold"), 200)
        del self.server.holds[wid]

    # --- the claim ------------------------------------------------------------------------

    def _expired(self, epoch: int) -> bool:
        return epoch < expired_epochs_before(self.now, RETENTION)

    def _expired_at(self, epoch: int) -> int:
        return epoch_end(epoch) + RETENTION * DAY

    @invariant()
    def expired_records_are_unreadable(self) -> None:
        w = self.world
        gone = [r for r in self.records if r.key not in self.ever_held]
        gone = [r for r in gone if self._expired(r.record.header.epoch)]
        if not gone:
            return
        event("records past retention checked")
        custodian_files = [w.custodian_files(c) for c in range(3)]
        records_files = w.records_files()
        omnibus = ok(w.d.as_["detective"].get(f"/v1/warrant-requests/{self.omnibus}"), 200)
        for number, r in enumerate(gone):
            epoch = r.record.header.epoch
            body = {"warrant": omnibus["warrant"], "records": [b64e(r.record.to_bytes())]}
            for c, (_, client) in enumerate(w.d.custodian_investigators):
                reply = client.post("/v1/partials", json=body)
                assert reply.status_code == 410, f"custodian {c + 1} answered for an expired epoch"
            expired_at = self._expired_at(epoch)
            for c in range(3):
                if self.custodian_ran[c] >= expired_at:
                    for scalar in w.dealt[epoch]:
                        absent(
                            scalar,
                            custodian_files[c],
                            f"custodian {c + 1} still holds a share of an expired epoch",
                        )
            if min(self.custodian_ran) >= expired_at:
                assert w.oracle_open(r.record, w.shares(epoch)) is None, (
                    f"expired record {number} opened with what the custodians hold"
                )
            if self.server_ran >= expired_at and self.server_ran > self.restored_at:
                absent(
                    r.record.ciphertext,
                    records_files,
                    f"expired record {number} still on the records server",
                )

    @invariant()
    def held_records_still_open(self) -> None:
        d = self.world.d
        for wid, held in self.server.holds.items():
            outcome = open_held(
                wid, records=d.as_["detective"], case_key=self.server.case_keys[wid]
            )
            opened = {(e.plate, e.observed_at) for e in outcome.opened}
            assert held <= opened, "a record under a legal hold no longer opens"
            if held and all(self._expired(r.record.header.epoch) for r in self.records):
                event("held records opened after their key was destroyed")


RetentionShredsRecords.TestCase.settings = proof_settings(ci=(5, 15), thorough=(20, 25))
test_retention_shreds_records = RetentionShredsRecords.TestCase


# --- sensitivity ------------------------------------------------------------------------------


def _skips_custodian_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """A retention sweep that, at custodian 1, destroys nothing."""
    from underseal_server.custodian import app as custodian_app

    original = custodian_app.destroy_expired

    def sweep(state: custodian_app.CustodianState, *, actor: str = "retention") -> list[int]:
        if state.settings.custodian_id == "custodian-1":
            return []
        return original(state, actor=actor)

    monkeypatch.setattr(custodian_app, "destroy_expired", sweep)


def test_the_proof_fails_when_a_custodian_keeps_an_expired_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Written out (a hit, then expiry, then every sweep: a derandomized ci-sized search
    reached it on one revision of this file and not on the next)."""
    _skips_custodian_1(monkeypatch)
    machine = RetentionShredsRecords()
    try:
        machine.expired_records_are_unreadable()
        machine.time_passes(hours=80)
        machine.retention_runs(custodians=(0, 1, 2), server=True)
        with pytest.raises(AssertionError, match="still holds a share"):
            machine.expired_records_are_unreadable()
    finally:
        machine.teardown()


def _purges_held_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """A records server whose retention deletes held records with the rest."""
    from sqlalchemy import delete
    from sqlmodel import Session, col
    from underseal_server.records import purge
    from underseal_server.records.models import Record

    def everything(session: Session, epochs: list[int]) -> int:
        if not epochs:
            return 0
        result = session.exec(delete(Record).where(col(Record.epoch).in_(epochs)))
        return int(result.rowcount or 0)

    monkeypatch.setattr(purge, "_delete_unheld", everything)


def test_the_proof_fails_when_retention_ignores_a_legal_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Written out (a hold, then expiry, then the server's sweep: rare in ci-sized random
    runs); the machine's own rules and invariants."""
    _purges_held_records(monkeypatch)
    machine = RetentionShredsRecords()
    try:
        machine.a_court_orders_a_legal_hold(i=0)
        machine.held_records_still_open()
        machine.time_passes(hours=80)
        machine.retention_runs(custodians=(0, 1, 2), server=True)
        machine.expired_records_are_unreadable()
        with pytest.raises(AssertionError, match="legal hold"):
            machine.held_records_still_open()
    finally:
        machine.teardown()
