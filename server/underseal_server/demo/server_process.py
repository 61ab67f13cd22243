"""A server as a child process on a loopback port: started, waited for, stopped, broken.

The one launcher of a real ``records`` or ``custodian`` process, for the
demo, the benchmark and load generator, and the loopback and fault tests.
Each run is spawned by :func:`.processes.spawn`: its own process group, so a
stop, a signal or a ``kill -9`` reaches the server and every uvicorn worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx2 as httpx

from underseal_server.demo.processes import (
    Children,
    free_port,
    port_is_free,
    server_cli,
    spawn,
    stop_group,
)

__all__ = ["Argv", "ServerProcess", "ServiceFailed", "serve_command"]

HEALTH = "/v1/health"
#: Lines of the log a :class:`ServiceFailed` shows: a Python traceback's end.
TAIL_LINES = 20

Argv = Callable[[int], Sequence[str]]
"""How to run a server, given the port it is to listen on."""


class ServiceFailed(Exception):
    """A server did not come up; the message ends with the tail of its log."""


def serve_command(kind: str, *, workers: int = 1, cli: Sequence[str] | None = None) -> Argv:
    """``underseal-server KIND serve --port PORT``, with ``--workers N`` when ``workers > 1``.

    ``cli`` is how to run ``underseal-server``; :func:`.processes.server_cli` if not given.
    """
    prefix = server_cli() if cli is None else list(cli)
    extra = ["--workers", str(workers)] if workers > 1 else []

    def argv(port: int) -> list[str]:
        return [*prefix, kind, "serve", "--port", str(port), *extra]

    return argv


class ServerProcess:
    """``name``, run as ``command(port)`` with exactly ``env`` on 127.0.0.1; output in ``log``.

    The first start takes ``port`` if it is free, else one the kernel says is
    free, and tries another free one (up to ``tries`` launches) if the server
    then loses its port to another process. Once it has answered, restarts keep
    the port, as a real service behind a fixed address would. The first start
    empties ``log``; later ones append to it. With ``children``, the process is
    also one of theirs, stopped with the rest by :meth:`Children.stop_all`.
    """

    def __init__(
        self,
        name: str,
        command: Argv,
        *,
        env: Mapping[str, str],
        log: Path,
        port: int = 0,
        cwd: Path | None = None,
        start_timeout: float = 120.0,
        stop_timeout: float = 30.0,
        tries: int = 3,
        children: Children | None = None,
    ) -> None:
        if tries < 1:
            raise ValueError("tries must be at least 1")
        self.name = name
        self.command = command
        self.env = dict(env)
        self.log = log
        self.port = port
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.tries = tries
        self.children = children
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0  # times it came up and answered
        self._launches = 0
        self._log_from = 0  # where this launch's output begins in ``log``
        self._pinned = False  # answered once: its port is its address from now on

    def __repr__(self) -> str:
        return f"ServerProcess({self.name!r}, {self.url!r})"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """:meth:`launch`, then :meth:`wait_ready`.

        Raises:
            ServiceFailed: it exited or did not answer in time (it is stopped).
        """
        self.launch()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()  # an interrupt while waiting must not leave the server running
            raise

    def launch(self) -> None:
        """Start the process and return at once: start several, then wait for each."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        if not self._pinned:
            wanted = self.port if self._launches == 0 else 0  # a retry takes any free port
            self.port = wanted if wanted and port_is_free(wanted) else free_port()
        if self._launches == 0:
            self.log.write_bytes(b"")
        self._log_from = self.log.stat().st_size
        self._launches += 1
        argv = self.command(self.port)
        if self.children is not None:
            self.process = self.children.spawn(
                argv, env=self.env, log=self.log, cwd=self.cwd, stop_timeout=self.stop_timeout
            )
        else:
            self.process = spawn(argv, env=self.env, log=self.log, cwd=self.cwd)

    def wait_ready(self) -> None:
        """Return once ``/v1/health`` answers 200 (relaunching if the first start lost its port).

        Raises:
            ServiceFailed: it exited or did not answer within ``start_timeout`` (it is stopped).
        """
        for attempt in range(1, self.tries + 1):
            why = self._wait_healthy()
            if why is None:
                self.starts += 1
                self._pinned = True
                return
            self.stop()
            # Another process bound the port between our check and the server's bind.
            lost_port = not self._pinned and "address already in use" in self._output().lower()
            if not lost_port or attempt == self.tries:
                break
            self.launch()
        raise ServiceFailed(f"{self.name} {why}; its log ends:\n{self.log_tail()}")

    def _wait_healthy(self) -> str | None:
        """None once it answers; else why not."""
        process = self._process()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                return f"exited with code {code} before answering {HEALTH}"
            try:
                healthy = httpx.get(self.url + HEALTH, timeout=2).status_code == 200
                # Ours only if it is still alive: else another process holds the port.
                if healthy and process.poll() is None:
                    return None
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return f"did not answer {HEALTH} within {self.start_timeout:.0f} s"

    def stop(self) -> None:
        """SIGTERM its process group, then SIGKILL it after ``stop_timeout`` seconds."""
        if self.process is None:
            return
        if self.children is not None:
            self.children.stop(self.process, self.stop_timeout)
        else:
            stop_group(self.process, self.stop_timeout)

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to its whole process group (the server and its workers).

        Raises:
            RuntimeError: it is not running (a stale pid must never be signalled).
        """
        if not self.running:
            raise RuntimeError(f"{self.name} is not running")
        os.killpg(self._process().pid, sig)

    def kill9(self) -> None:
        """``kill -9`` of the server and every worker, as a crash would; returns once it is dead."""
        self.signal(signal.SIGKILL)
        self._process().wait(timeout=30)

    def log_text(self) -> str:
        """Everything it printed, every start (no service ever prints a secret)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` lines its latest launch printed."""
        return "\n".join(self._output().strip().splitlines()[-lines:])

    def _output(self) -> str:
        """What its latest launch printed."""
        if not self._launches or not self.log.exists():
            return ""
        return self.log.read_bytes()[self._log_from :].decode(errors="replace")

    def _process(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.process

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
