"""A custodian down or hung while a warrant is executed (3 custodians, threshold 2).

The custodians are real processes: one killed, one stopped with SIGSTOP (it
accepts connections and never answers), two killed. The investigator asks
all three at once, each with a client timeout, so a hung custodian costs
one timeout, never a hang. With two answers every record opens and the
failed custodian is named; with one, nothing opens and the outcome says
that too few answered and which failed. A failed attempt uses up nothing:
once the custodians are back the same warrant opens every record, and
neither the custodians nor the server count a record twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.world import CLI, PLATE, World, queue_hits

HITS = 5


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Records server and custodians on SQLite; the camera has delivered five hits."""
    root = Path(tmp_path_factory.mktemp("custodian-faults"))
    built = World(root, records_url=f"sqlite:///{root / 'records.db'}")
    try:
        runtime = built.camera()
        try:
            queue_hits(runtime, HITS)
            assert runtime.deliver().stored == HITS
        finally:
            runtime.close()
        yield built
    finally:
        built.close()


@pytest.mark.timeout(120)
def test_one_custodian_killed_the_other_two_open_every_record(world: World) -> None:
    world.grant("w-one-down", max_records=HITS)
    down = world.custodians[1]
    down.kill9()
    try:
        outcome = world.investigate("w-one-down", timeout=10)
    finally:
        down.start()
    assert len(outcome.opened) == HITS
    assert {e.plate for e in outcome.opened} == {PLATE}
    assert outcome.custodians_failed == {"custodian-2": "unreachable (ConnectError)"}
    assert outcome.shortfall() is None


@pytest.mark.timeout(120)
def test_one_custodian_hung_costs_one_timeout_and_the_other_two_open_every_record(
    world: World,
) -> None:
    world.grant("w-one-hung", max_records=HITS)
    hung = world.custodians[2]
    hung.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        outcome = world.investigate("w-one-hung", timeout=3)
        took = time.monotonic() - started
    finally:
        hung.signal(signal.SIGCONT)
    assert len(outcome.opened) == HITS
    assert outcome.custodians_failed == {"custodian-3": "unreachable (ReadTimeout)"}
    assert took < 30  # bounded by the client timeout: no hang


@pytest.mark.timeout(120)
def test_two_custodians_down_open_nothing_say_why_and_use_up_nothing(world: World) -> None:
    world.grant("w-two-down", max_records=HITS)
    down = [world.custodians[0], world.custodians[2]]
    for service in down:
        service.kill9()
    try:
        outcome = world.investigate("w-two-down", timeout=10)
        cli = _investigate_cli(world, "w-two-down", world.root / "evidence")
    finally:
        for service in down:
            service.launch()
        for service in down:
            service.wait_ready()
    assert outcome.opened == []
    assert outcome.unopened == HITS
    assert outcome.custodians_answered == ["custodian-2"]
    assert set(outcome.custodians_failed) == {"custodian-1", "custodian-3"}
    assert outcome.too_few_custodians
    # The operator CLI fails with the same reason, and writes no evidence.
    assert cli.returncode == 1
    assert "too few custodians answered (1 of 2 needed)" in cli.stderr
    assert not list((world.root / "evidence").glob("*.json"))
    assert outcome.shortfall() == (
        "too few custodians answered (1 of 2 needed); failed: "
        "custodian-1: unreachable (ConnectError); custodian-3: unreachable (ConnectError)"
    )
    # Back up, the same warrant opens everything: the failed try used up nothing.
    again = world.investigate("w-two-down")
    assert len(again.opened) == HITS
    assert again.custodians_failed == {}
    for db in world.custodian_dbs:
        rows = db.rows(
            "SELECT count(*), count(DISTINCT record_id) FROM custodian_warrant_use "
            "WHERE warrant_id = 'w-two-down'"
        )
        assert rows == [(HITS, HITS)]  # custodian-2 answered twice, counted each record once
    request = world.as_("detective").get("/v1/warrant-requests/w-two-down").json()
    assert request["records_released"] == HITS


def _investigate_cli(world: World, warrant_id: str, out: Path) -> subprocess.CompletedProcess[str]:
    """``underseal-server investigate`` as the detective, asking every custodian."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSEAL_")}
    env["UNDERSEAL_INVESTIGATOR_TOKEN"] = world.tokens["detective"]
    specs: list[str] = []
    for service, token in zip(world.custodians, world._investigator_tokens, strict=True):
        env["UNDERSEAL_CUSTODIAN_TOKEN_" + service.name.upper().replace("-", "_")] = token
        specs += ["--custodian", f"{service.name},{service.url}"]
    argv = [*CLI, "investigate", warrant_id, "--records", world.records.url, *specs]
    return subprocess.run(
        [*argv, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
