"""Fault tests: a world of real processes per test, on SQLite or on a real PostgreSQL.

PostgreSQL comes from the machine's binaries (``make setup`` installs them),
one throw-away cluster per test that needs it, since a fault test may stop
or restart it. Under CI its absence is a failure; elsewhere the PostgreSQL
cases are skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.world import World
from tests.server.pgcluster import PostgresCluster, require_postgres


@pytest.fixture
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL server of this test's own, free to stop and restart."""
    require_postgres()
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """Records server and custodians as processes: SQLite with one worker, PostgreSQL with two."""
    if request.param == "sqlite":
        url, workers = f"sqlite:///{tmp_path / 'records.db'}", 1
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        url, workers = cluster.database("records"), 2
    built = World(tmp_path, records_url=url, workers=workers)
    try:
        yield built
    finally:
        built.close()
