"""Database back ends for the server tests: SQLite files, and a real PostgreSQL server.

PostgreSQL is started once per session from the machine's binaries (Debian's
``postgresql`` package, which ``make setup`` installs), in a temporary data
directory, listening on a Unix socket only. Under CI its absence is a
failure, never a silent skip; elsewhere the PostgreSQL cases are skipped
with the reason.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

UrlFactory = Callable[[str], str]
_counter = itertools.count()


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, int]]:
    """(socket directory, port) of a throw-away PostgreSQL server."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries are missing: `make setup` installs them")
        pytest.skip("PostgreSQL is not installed (make setup installs it)")
    root = Path(tempfile.mkdtemp(prefix="underseal-pg-"))
    data = root / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        root.chmod(0o755)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses='' -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c wal_recycle=off"
    )
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(root / "log"),
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield str(root), port
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: tuple[str, int]) -> UrlFactory:
    """Creates a fresh database per name and returns its SQLAlchemy URL."""
    host, port = postgres_server
    run = next(_counter)

    def make(name: str) -> str:
        database = f"t{run}_{name.replace('-', '_')}"
        with psycopg.connect(
            host=host, port=port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        return f"postgresql+psycopg://postgres@/{database}?host={host}&port={port}"

    return make


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> UrlFactory | None:
    """Each server test runs on SQLite (None: the deployment's files) and on PostgreSQL."""
    if request.param == "sqlite":
        return None
    factory: UrlFactory = request.getfixturevalue("postgres_url")
    return factory
