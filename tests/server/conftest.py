"""Database back ends for the server tests: SQLite files, and a real PostgreSQL server.

PostgreSQL is started once per session from the machine's binaries (Debian's
``postgresql`` package, which ``make setup`` installs), in a temporary data
directory, listening on a Unix socket only. Under CI its absence is a
failure, never a silent skip; elsewhere the PostgreSQL cases are skipped
with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server.pgcluster import PostgresCluster, require_postgres

UrlFactory = Callable[[str], str]


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throw-away PostgreSQL server for the session."""
    require_postgres()
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> UrlFactory:
    """Creates a fresh database per name and returns its SQLAlchemy URL."""
    return postgres_cluster.database


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> UrlFactory | None:
    """Each server test runs on SQLite (None: the deployment's files) and on PostgreSQL."""
    if request.param == "sqlite":
        return None
    factory: UrlFactory = request.getfixturevalue("postgres_url")
    return factory
