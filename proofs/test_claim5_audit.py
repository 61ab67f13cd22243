"""Claim 5: every decryption, hotlist change, warrant and key destruction appears in the audit
log, and any removal or rewrite of the log is detected.

Officers add, approve and remove hotlist entries; hits are ingested;
investigators file warrant requests that courts grant or deny; warrants
are executed with any subset of custodians up (each custodian's partial
decryption, or its refusal, is a decryption event); time passes and
retention destroys epochs. An outside auditor (the real
``underseal_server.auditor.audit``) checks the records server's log and each
custodian's, keeping the last checkpoint it verified. A rogue database
administrator rewrites or removes entries straight in a service's SQLite
file, recomputing the leaf hashes and the stored tree so that the log is
self-consistent, or not bothering to.

After every step: each event the model expects is in the log of the
service that must record it (by kind and by the warrant, entry or epoch it
concerns), and the auditor passes on every log nobody tampered with. After a
tampering step the auditor must fail on the tampered log; the file is then
put back as it was.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from underseal_server import auditor

from proofs.world import HOT_POOL, ProofWorld, db_files, event, plant_settings, proof_settings
from tests.server.deployment import ok
from underseal.merkle import Frontier, entry_leaf

DAY = 86_400
RETENTION = 2
Event = tuple[str, str]


def key_of(entry: dict[str, Any]) -> Event:
    details = entry.get("details", {})
    for name in ("entry", "request", "warrant", "epoch"):
        if name in details:
            return str(entry["kind"]), str(details[name])
    return str(entry["kind"]), ""


def tamper(path: Path, mode: str, index: int) -> None:
    """Rewrite or remove entry ``index`` in a service's SQLite log, as a rogue administrator."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT seq, data FROM audit_entry ORDER BY seq").fetchall()
        entries = [json.loads(data) for _, data in rows]
        if mode == "rewrite_naive":
            entries[index]["actor"] = "nobody"
            data = json.dumps(entries[index], sort_keys=True, separators=(",", ":")).encode()
            db.execute("UPDATE audit_entry SET data = ? WHERE seq = ?", (data, index))
            return
        if mode == "rewrite":
            entries[index]["details"] = {"note": "routine"}
        elif mode == "remove":
            del entries[index]
            for seq, entry in enumerate(entries):
                entry["seq"] = seq
        elif mode == "truncate":
            entries = entries[:index]
        db.execute("DELETE FROM audit_entry")
        frontier = Frontier()
        for entry in entries:
            leaf = entry_leaf(entry)
            frontier.append(leaf)
            data = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
            db.execute(
                "INSERT INTO audit_entry (seq, time, kind, actor, data, leaf) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (entry["seq"], entry["time"], entry["kind"], entry["actor"], data, leaf),
            )
        db.execute("UPDATE audit_state SET frontier = ? WHERE id = 1", (frontier.to_bytes(),))


class EverythingIsLogged(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = ProofWorld(camera=False, retention_days=RETENTION)
        self.world.list_plate(0)
        d = self.world.d
        # Service 0 is the records server, 1..3 the custodians.
        self.apps: list[FastAPI] = [d.records_app, *d.custodian_apps]
        self.urls = [d.records_url, *d.custodian_urls]
        self.expected: list[set[Event]] = [set() for _ in self.apps]
        self.checkpoints: list[bytes | None] = [None] * 4
        self.sizes = [0, 0, 0, 0]
        self.pending: dict[str, str] = {}  # hotlist entry id → status
        self.requests: list[str] = []
        self.granted: list[str] = []
        self.hits = 0
        # A hit and a granted warrant from the start, so executions find something to open.
        self.a_hit_is_ingested()
        self.a_court_rules(grant=True)

    def teardown(self) -> None:
        self.world.close()

    @property
    def now(self) -> int:
        return self.world.clock()

    # --- hotlist ----------------------------------------------------------------------------

    @rule(i=st.integers(1, len(HOT_POOL) - 1))
    def an_officer_adds_a_plate(self, i: int) -> None:
        reply = self.world.d.as_["officer"].post(
            "/v1/hotlist",
            json={
                "plate": HOT_POOL[i],
                "reason": "stolen_vehicle",
                "case_number": "C-7",
                "expires_at": self.now + 30 * DAY,
            },
        )
        entry = ok(reply)["id"]
        self.pending[entry] = "pending"
        self.expected[0].add(("hotlist.add", entry))

    @precondition(lambda self: "pending" in self.pending.values())
    @rule(data=st.data())
    def an_approver_approves(self, data: st.DataObject) -> None:
        entry = data.draw(
            st.sampled_from(sorted(e for e, s in self.pending.items() if s == "pending"))
        )
        ok(self.world.d.as_["approver"].post(f"/v1/hotlist/{entry}/approve"), 200)
        self.pending[entry] = "live"
        self.expected[0].add(("hotlist.approve", entry))

    @precondition(lambda self: any(s != "removed" for s in self.pending.values()))
    @rule(data=st.data())
    def an_entry_is_removed(self, data: st.DataObject) -> None:
        entry = data.draw(
            st.sampled_from(sorted(e for e, s in self.pending.items() if s != "removed"))
        )
        ok(self.world.d.as_["officer"].delete(f"/v1/hotlist/{entry}"), 200)
        self.pending[entry] = "removed"
        self.expected[0].add(("hotlist.remove", entry))

    # --- hits, warrants, decryptions ---------------------------------------------------------

    @rule()
    def a_hit_is_ingested(self) -> None:
        d = self.world.d
        d.bundle_serial = 0
        ok(d.ingest(d.seal_hit(HOT_POOL[0], d.bundle())), 200)
        self.hits += 1

    @rule(grant=st.booleans())
    def a_court_rules(self, grant: bool) -> None:
        d = self.world.d
        wid = f"w-{len(self.requests)}"
        self.requests.append(wid)
        if grant:
            reply = d.warrant(wid, [HOT_POOL[0]], max_records=100, not_after=self.now + 60 * DAY)
            assert reply.status_code == 200
            self.granted.append(wid)
            self.expected[0] |= {("warrant.request", wid), ("warrant.grant", wid)}
            return
        ok(
            d.as_["detective"].post(
                "/v1/warrant-requests",
                json={
                    "id": wid,
                    "case": "C-7",
                    "purpose": "fishing",
                    "plates": [HOT_POOL[0]],
                    "time_from": self.now - DAY,
                    "time_to": self.now + DAY,
                    "max_records": 5,
                    "legal_hold": False,
                },
            )
        )
        ok(
            d.as_["superior-court"].post(
                f"/v1/warrant-requests/{wid}/deny", json={"reason": "no probable cause"}
            ),
            200,
        )
        self.expected[0] |= {("warrant.request", wid), ("warrant.deny", wid)}

    @precondition(lambda self: bool(self.granted))
    @rule(data=st.data(), up=st.sets(st.integers(0, 2), min_size=1))
    def a_warrant_is_executed(self, data: st.DataObject, up: set[int]) -> None:
        wid = data.draw(st.sampled_from(self.granted))
        d = self.world.d
        outcome = d.investigate(wid, custodians=sorted(up))
        self.expected[0].add(("warrant.search", wid))
        for c in sorted(up):
            name = f"custodian-{c + 1}"
            if name in outcome.custodians_answered:
                self.expected[c + 1].add(("partial.issue", wid))
            elif name in outcome.custodians_failed:
                self.expected[c + 1].add(("partial.refuse", wid))

    @rule(days=st.sampled_from([1, 2, 4]))
    def time_passes_and_retention_runs(self, days: int) -> None:
        w = self.world
        before = set(w.certificates)
        w.advance(days * DAY)
        destroyed = ok(w.d.admin.post("/v1/retention/run"), 200)["epochs"]
        for epoch in destroyed:
            self.expected[0].add(("retention.destroy", str(epoch)))
        for c, admin in enumerate(w.d.custodian_admins):
            for epoch in ok(admin.post("/v1/retention/run"), 200)["destroyed"]:
                self.expected[c + 1].add(("share.destroy", str(epoch)))
        assert set(destroyed) <= before

    # --- the rogue administrator --------------------------------------------------------------

    @precondition(lambda self: any(self.sizes))
    @rule(
        service=st.integers(0, 3),
        mode=st.sampled_from(["rewrite", "remove", "truncate", "rewrite_naive"]),
        data=st.data(),
    )
    def a_rogue_administrator_edits_the_log(
        self, service: int, mode: str, data: st.DataObject
    ) -> None:
        size = self.sizes[service]
        if size == 0:
            return
        index = data.draw(st.integers(0, size - 1))
        path = Path(self.urls[service].removeprefix("sqlite:///"))
        saved = path.parent / "saved"
        engine = self.apps[service].state.engine
        engine.dispose()
        saved.mkdir(exist_ok=True)
        for f in db_files(self.urls[service]):
            shutil.copy2(f, saved / f.name)
        tamper(path, mode, index)
        engine.dispose()
        with pytest.raises(auditor.AuditFailure):
            self._audit(service)
        event(f"log edit detected: {mode}")
        # Put the file back as it was; the log verifies again.
        engine.dispose()
        for f in db_files(self.urls[service]):
            f.unlink()
        for f in saved.iterdir():
            shutil.copy2(f, path.parent / f.name)
        shutil.rmtree(saved)
        engine.dispose()

    def _audit(self, service: int) -> auditor.AuditReport:
        app = self.apps[service]
        key = app.state.log_host.key.verify_key
        return auditor.audit(TestClient(app), key, self.checkpoints[service])

    # --- the claim ---------------------------------------------------------------------------

    @invariant()
    def every_event_is_logged_and_the_logs_verify(self) -> None:
        for service, app in enumerate(self.apps):
            report = self._audit(service)
            self.checkpoints[service] = report.checkpoint
            self.sizes[service] = report.size
            entries = TestClient(app).get("/v1/log/entries?start=0&limit=1000").json()
            logged = {key_of(e) for e in entries}
            missing = self.expected[service] - logged
            assert not missing, (
                f"service {service}: not in the log: {sorted(k for k, _ in missing)}"
            )


EverythingIsLogged.TestCase.settings = proof_settings(ci=(5, 15), thorough=(20, 25))
test_everything_is_logged = EverythingIsLogged.TestCase


# --- sensitivity ------------------------------------------------------------------------------


def _unlogged_decryptions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A custodian build that answers warrants without logging them."""
    from underseal_server import auditlog

    original = auditlog.append

    def quiet(session: Any, *, kind: str, actor: str, now: int, details: Any) -> int:
        if kind == "partial.issue":
            return -1
        return original(session, kind=kind, actor=actor, now=now, details=details)

    monkeypatch.setattr(auditlog, "append", quiet)


def _forgetful_auditor(monkeypatch: pytest.MonkeyPatch) -> None:
    """An auditor that keeps no checkpoint between runs: a self-consistent rewrite passes."""
    original = auditor.audit

    def audit(client: Any, key: Any, previous: bytes | None) -> auditor.AuditReport:
        return original(client, key, None)

    monkeypatch.setattr(auditor, "audit", audit)


@pytest.mark.parametrize(
    ("plant", "message"),
    [(_unlogged_decryptions, "not in the log"), (_forgetful_auditor, "DID NOT RAISE")],
)
def test_the_proof_fails_when_the_log_misses_or_hides_something(
    monkeypatch: pytest.MonkeyPatch, plant: Callable[[pytest.MonkeyPatch], None], message: str
) -> None:
    plant(monkeypatch)
    with pytest.raises(BaseException, match=message):
        run_state_machine_as_test(EverythingIsLogged, settings=plant_settings(10, 15))
