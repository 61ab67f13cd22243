"""A throw-away PostgreSQL cluster from the machine's binaries (tests and benchmarks).

Debian's ``postgresql`` package (installed by ``make setup``) provides
``initdb`` and ``pg_ctl``; the cluster lives in a temporary directory and
listens on a Unix socket only. PostgreSQL refuses to run as root, so under
root it runs as the ``postgres`` user.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import psycopg

__all__ = ["PostgresCluster", "pg_bin", "require_postgres"]

_names = itertools.count()


def pg_bin() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``, or None if PostgreSQL is not installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_postgres() -> None:
    """Skip the test when PostgreSQL is not installed; under CI its absence is a failure."""
    import pytest

    if pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries are missing: `make setup` installs them")
        pytest.skip("PostgreSQL is not installed (make setup installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """``with PostgresCluster() as pg: url = pg.database("records")``."""

    def __init__(self, *, durable: bool = False) -> None:
        bin_dir = pg_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (make setup installs it)")
        self.bin = bin_dir
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="underseal-pg-"))
        self.port = _free_port()
        self.prefix: list[str] = []

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True)

    def __enter__(self) -> PostgresCluster:
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.root, "postgres")
            self.root.chmod(0o755)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")
        self.start()
        return self

    def start(self) -> None:
        """Start the server (again, after :meth:`stop`); returns once it accepts connections."""
        # Tests trade durability for speed; a benchmark keeps PostgreSQL's defaults.
        fast = (
            "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses='' -c wal_recycle=off "
            f"-c max_connections=200 {fast}"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
            "-l", str(self.root / "log"), "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; returns once it is down.

        ``fast`` ends every session (their transactions roll back) and shuts
        down cleanly; ``immediate`` is a crash (recovery from the WAL on start).
        """
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def database(self, name: str) -> str:
        """Create a fresh database and return its SQLAlchemy URL."""
        database = f"d{next(_names)}_{name.replace('-', '_')}"
        with psycopg.connect(
            host=str(self.root), port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}&port={self.port}"

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        subprocess.run(
            [
                *self.prefix,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "stop",
            ],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)
