"""A warrant search loads at most its record limit (plus one), and finds what loading all found.

The limit moved into each epoch's query (the load generator showed searches
slowing, and holding SQLite's writer lock, as records accumulated). These
tests hold the new search to the old one: every record in scope loaded,
sorted by (epoch, time received, record id), then cut at the limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from underseal_server.records.camera_api import token_key_of
from underseal_server.records.models import EpochKey, Record
from underseal_server.records.warrants import in_scope

from tests.server.conftest import UrlFactory
from tests.server.deployment import CAMERA, Deployment, ok
from underseal.encoding import b64e
from underseal.epochs import epoch_of
from underseal.warrant import Warrant, WarrantScope

PLATE, OTHER, OUTSIDE = "7ABC123", "4DEF567", "9GHJ012"


@pytest.fixture
def world(tmp_path: Path, database: UrlFactory | None) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path, database_url=database)
    deployment.ceremony(days=2)
    for plate in (PLATE, OTHER, OUTSIDE):
        deployment.list_plate(plate)
    yield deployment
    deployment.close()


def _load_all(session: Session, warrant: Warrant, limit: int) -> tuple[list[Record], bool]:
    """The search as it was: every record in scope, sorted, then cut at ``limit``."""
    scope = warrant.scope
    first, last = epoch_of(scope.time_from), epoch_of(scope.time_to - 1)
    found: list[Record] = []
    for epoch in session.exec(
        select(EpochKey).where(col(EpochKey.epoch) >= first, col(EpochKey.epoch) <= last)
    ).all():
        key = token_key_of(epoch)
        query = select(Record).where(
            Record.epoch == epoch.epoch,
            col(Record.match_token).in_([key.token(p) for p in scope.plates]),
        )
        if scope.cameras is not None:
            query = query.where(col(Record.camera_id).in_(scope.cameras))
        found.extend(session.exec(query).all())
    found.sort(key=lambda r: (r.epoch, r.received_at, r.record_id))
    return found[:limit], len(found) > limit


def _warrant(world: Deployment, start: int, cameras: tuple[str, ...] | None) -> Warrant:
    now = world.clock()
    return Warrant(
        id="w-1",
        court_id="superior-court",
        investigator="detective",
        case="SPD-2026-0042",
        issued_at=now,
        not_after=now + 86_400,
        scope=WarrantScope(
            plates=(PLATE, OTHER),
            time_from=start,
            time_to=now + 86_400,
            purpose="stolen vehicle recovery",
            cameras=cameras,
        ),
        max_records=100,
    )


def _ingest_two_days(world: Deployment) -> int:
    """Hits over two epochs, at several times, in batches (ties on time received); the start."""
    start = world.clock()
    for day in range(2):
        bundle = world.bundle()
        for second in range(3):
            batch = [world.seal_hit(p, bundle) for p in (PLATE, OTHER, OUTSIDE, PLATE, OTHER)]
            ok(world.ingest(*batch), 200)
            world.clock.advance(7 + second)
        if day == 0:
            world.clock.advance(86_400)
    return start


def test_search_with_the_limit_in_each_query_finds_what_loading_all_found(
    world: Deployment,
) -> None:
    start = _ingest_two_days(world)
    with Session(world.records_app.state.engine) as session:
        for cameras in (None, (CAMERA,), ("cam-elsewhere",)):
            warrant = _warrant(world, start, cameras)
            everything = _load_all(session, warrant, 1_000)[0]
            assert len(everything) == (24 if cameras != ("cam-elsewhere",) else 0)
            assert len({r.epoch for r in everything}) == (2 if everything else 0)
            for limit in range(1, len(everything) + 3):
                found, more = in_scope(session, warrant, limit, horizon=0)
                expected, expected_more = _load_all(session, warrant, limit)
                assert [r.record_id for r in found] == [r.record_id for r in expected]
                assert more == expected_more == (limit < len(everything))


def test_the_search_api_returns_the_oldest_records_up_to_the_warrants_limit(
    world: Deployment,
) -> None:
    start = _ingest_two_days(world)
    ok(world.warrant("w-1", [PLATE, OTHER], time_from=start, max_records=13), 200)
    reply = ok(world.as_["detective"].post("/v1/warrants/w-1/search"), 200)
    with Session(world.records_app.state.engine) as session:
        expected, more = _load_all(session, _warrant(world, start, None), 13)
    assert reply["records"] == [b64e(r.data) for r in expected]
    assert reply["truncated"] is more is True
    assert len(reply["certificates"]) == 2  # the 13 oldest span both days
