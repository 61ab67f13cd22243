"""Claim 1: a non-hit read never leaves the camera and is never written to its disk.

The state machine drives the real camera (pipeline, matcher, outbox,
uplink, hotlist store) against the real records server while plates pass,
the hotlist changes, the server goes down and comes back, the camera
restarts and days go by. After every step it scans everything: each byte
the camera sent, every file under its state directory (bundles, outbox and
its WAL, status), every log line at DEBUG from the camera, the core and the
server, and the records server's database files. No plate read as a non-hit
may appear there in any form: as read, folded, or as its token under any
epoch's key (raw, base64url, base64 or hex).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from underseal_device.camera.hits import SealedHit
from underseal_device.camera.matching import HotlistHit, Matcher
from underseal_device.camera.pipeline import Pipeline
from underseal_device.camera.vote import PassRead

from proofs.world import (
    HOT_POOL,
    NON_HIT_POOL,
    ProofWorld,
    absent,
    event,
    plant_settings,
    proof_settings,
)
from underseal.bundle import Match
from underseal.encoding import b64e
from underseal.plates import fold

non_hits = st.integers(0, len(NON_HIT_POOL) - 1)
hots = st.integers(0, len(HOT_POOL) - 1)
confidence = st.floats(0.3, 0.99)


def forms(plate: str, tokens: list[bytes]) -> list[tuple[str, bytes]]:
    """Every byte form a read of ``plate`` could leak as, each with a name that holds no plate."""
    out = [("text", plate.encode()), ("folded", fold(plate).encode())]
    for token in tokens:
        out += [
            ("token", token),
            ("token base64url", b64e(token).encode()),
            ("token base64", base64.b64encode(token).rstrip(b"=")),
            ("token hex", token.hex().encode()),
        ]
    return out


class NonHitsStayOnTheCamera(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = ProofWorld()
        self.world.list_plate(0)
        assert self.world.sync()
        self.read: set[int] = set()  # NON_HIT_POOL indices read so far

    def teardown(self) -> None:
        self.world.close()

    # --- traffic ------------------------------------------------------------------------

    @rule(i=non_hits, j=non_hits, p=confidence)
    def non_hit_passes(self, i: int, j: int, p: float) -> None:
        """A never-listed plate passes; its runner-up reading is never listed either."""
        hits = self.world.drive(((NON_HIT_POOL[i], p), (NON_HIT_POOL[j], (1 - p) / 2)))
        assert hits == [], "a non-hit pass was sealed as a hit"
        self.read |= {i, j}

    @rule(i=hots, j=non_hits)
    def listed_plate_passes(self, i: int, j: int) -> None:
        """A plate from the hot pool passes (a hit if the camera's bundle lists it)."""
        if self.world.drive(((HOT_POOL[i], 0.9), (NON_HIT_POOL[j], 0.05))):
            event("a listed plate was sealed as a hit")
        self.read.add(j)

    @rule(i=non_hits)
    def look_alike_of_a_listed_plate_in_second_place(self, i: int) -> None:
        """A non-hit whose second reading is listed: a hit on the listed plate, never on it."""
        if not self.world.listed:
            return
        listed = HOT_POOL[min(self.world.listed)]
        self.world.drive(((NON_HIT_POOL[i], 0.6), (listed, 0.3)))
        self.read.add(i)

    @rule()
    def sign_text(self) -> None:
        self.world.drive((("CROSSWALK", 0.99),))

    # --- the rest of the world -------------------------------------------------------------

    @rule(i=hots)
    def list_plate(self, i: int) -> None:
        self.world.list_plate(i)

    @rule(i=hots)
    def delist_plate(self, i: int) -> None:
        self.world.delist_plate(i)

    @rule()
    def sync(self) -> None:
        self.world.sync()

    @rule()
    def deliver(self) -> None:
        self.world.deliver()

    @rule(down=st.booleans())
    def server_outage(self, down: bool) -> None:
        self.world.tap.down = down

    @rule(seconds=st.integers(60, 30 * 3600))
    def time_passes(self, seconds: int) -> None:
        self.world.advance(seconds)

    @rule()
    def camera_restarts(self) -> None:
        self.world.start_camera()

    # --- the claim ------------------------------------------------------------------------

    @precondition(lambda self: bool(self.read))
    @invariant()
    def no_trace_of_a_non_hit(self) -> None:
        w = self.world
        places = {
            "sent by the camera": w.sent(),
            "a camera file": w.camera_files(),
            "a log line": w.log.text(),
            "the records server's database": w.records_files(),
        }
        event("scanned for non-hits after camera reads")
        for index in sorted(self.read):
            plate = NON_HIT_POOL[index]
            for form, needle in forms(plate, w.tokens_of(plate)):
                for place, haystack in places.items():
                    absent(needle, haystack, f"non-hit #{index} ({form}) found in {place}")


NonHitsStayOnTheCamera.TestCase.settings = proof_settings(ci=(5, 12), thorough=(20, 25))
test_non_hits_stay_on_the_camera = NonHitsStayOnTheCamera.TestCase


# --- sensitivity: plant the violation, and the proof must fail ------------------------------


def _logs_non_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A camera that writes each non-hit's best reading to its debug log."""
    original = Pipeline._one
    log = logging.getLogger("underseal_device.camera.pipeline")

    def leaky(self: Pipeline, passed: PassRead) -> SealedHit | None:
        hit = original(self, passed)
        if hit is None and passed.readings:
            log.debug("dropped %s", passed.readings[0].text)
        return hit

    monkeypatch.setattr(Pipeline, "_one", leaky)


def _seals_every_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """A camera whose matcher treats every pass as a hit: sealed, but keyed by its token."""
    original = Matcher.match

    def everything(self: Matcher, passed: PassRead, *, now: int) -> HotlistHit | None:
        hit = original(self, passed, now=now)
        bundle = self.store.bundle_for(now)
        if hit is not None or bundle is None or not passed.readings:
            return hit
        reading = passed.readings[0]
        token = bundle.token_key.token(reading.text)
        match = Match(token=token, ref=bytes(bundle.header.ref_len), serial=bundle.header.serial)
        return HotlistHit(reading, match, bundle.header.epoch, 0)

    monkeypatch.setattr(Matcher, "match", everything)


@pytest.mark.parametrize("plant", [_logs_non_hits, _seals_every_pass])
def test_the_proof_fails_when_the_camera_leaks_a_non_hit(
    monkeypatch: pytest.MonkeyPatch, plant: Callable[[pytest.MonkeyPatch], None]
) -> None:
    plant(monkeypatch)
    with pytest.raises(AssertionError, match="non-hit"):
        run_state_machine_as_test(NonHitsStayOnTheCamera, settings=plant_settings())
