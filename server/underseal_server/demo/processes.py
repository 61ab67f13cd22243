"""Child processes: how to run the CLIs, free loopback ports, spawn and stop, one-shot calls.

Every child runs in its own session (so a Ctrl-C in the terminal reaches
the parent only, which then stops them in order, and a signal to its process
group reaches every process it forks). A child started from the main thread
also asks the kernel, on Linux, to send it SIGTERM if the parent dies without
cleaning up (a ``kill -9``), so no service is left orphaned on its port; one
started from another thread cannot, as the kernel ties that signal to the
thread that forked it. :mod:`.server_process` runs a server
on top of these.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Children",
    "CliFailed",
    "device_cli",
    "free_port",
    "port_is_free",
    "run_cli",
    "server_cli",
    "spawn",
    "stop_group",
]

_PR_SET_PDEATHSIG = 1


class CliFailed(Exception):
    """A one-shot CLI call exited non-zero; ``output`` is its stderr (never holds a plate)."""

    def __init__(self, command: str, code: int, output: str) -> None:
        super().__init__(f"`{command}` exited with {code}: {output.strip()[-600:]}")
        self.code = code
        self.output = output


# Tests and debugging: ``UNDERSEAL_LOG_LEVEL=DEBUG`` in the demo's environment runs every
# child through this bootstrap, which sets the root logger's level (the services and the
# camera set none of their own below WARNING) before calling the module's ``main()``;
# ``UNDERSEAL_LOG_FILE`` also appends every child's log records to one file, because a
# one-shot command's stderr is otherwise kept only when it fails.
_LOG_BOOTSTRAP = """\
import importlib, logging, sys
level, file, module = sys.argv[1:4]
fmt = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
handlers = [logging.StreamHandler()] + ([logging.FileHandler(file)] if file else [])
logging.basicConfig(level=level, format=fmt, handlers=handlers)
sys.argv = [module, *sys.argv[4:]]
importlib.import_module(module).main()
"""


def _script(name: str, module: str) -> list[str]:
    """The console script ``name`` beside this interpreter, else ``python -m module``.

    With ``UNDERSEAL_LOG_LEVEL`` set, ``module`` runs through the logging bootstrap.
    """
    level = os.environ.get("UNDERSEAL_LOG_LEVEL", "")
    if level:
        file = os.environ.get("UNDERSEAL_LOG_FILE", "")
        return [sys.executable, "-c", _LOG_BOOTSTRAP, level.upper(), file, module]
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-m", module]


def server_cli() -> list[str]:
    """How to run ``underseal-server``."""
    return _script("underseal-server", "underseal_server.cli")


def device_cli() -> list[str]:
    """How to run ``underseal-device`` (the camera's CLI: never imported here)."""
    return _script("underseal-device", "underseal_device.camera.cli")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``port`` can be bound on ``host`` right now."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free on ``host`` now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _load_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, loaded in the parent: a forked child must not call the loader."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Only a call into libc here: no allocation, import or lock.
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, its output appended to ``log``."""
    # PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process:
    # from another thread (a test's saboteur in a pool) it would kill the child with it.
    main = threading.current_thread() is threading.main_thread()
    with log.open("ab") as handle:  # the child keeps its own copy of the descriptor
        # argv is built by our callers from our own scripts and their own paths.
        return subprocess.Popen(  # noqa: S603
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Other threads may be running: the hook only calls into libc.
            preexec_fn=_die_with_parent if main else None,
        )


def stop_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL it if the child does not exit in time."""
    if process.poll() is not None:
        # The leader is gone; workers it left in its group would hold the port.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGCONT)  # a stopped (SIGSTOP) group cannot act on SIGTERM
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


@dataclass
class Children:
    """Every process the demo started, stopped together (in reverse order) by :meth:`stop_all`."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    #: Each child's own grace period before SIGKILL (what ``spawn`` was given).
    timeouts: dict[subprocess.Popen[bytes], float] = field(default_factory=dict)

    def spawn(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log: Path,
        cwd: Path | None = None,
        stop_timeout: float = 10.0,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` with its output in ``log`` (see :func:`spawn`).

        ``stop_timeout``: how long :meth:`stop` and :meth:`stop_all` wait for it
        to exit after SIGTERM before they SIGKILL its group.
        """
        process = spawn(argv, env=env, log=log, cwd=cwd)
        self.processes.append(process)
        self.timeouts[process] = stop_timeout
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float | None = None) -> None:
        """Stop ``process`` and its group (see :func:`stop_group`); forget it.

        ``timeout`` defaults to the ``stop_timeout`` it was spawned with.
        """
        stop_group(process, self.timeouts.get(process, 10.0) if timeout is None else timeout)
        if process in self.processes:
            self.processes.remove(process)
        self.timeouts.pop(process, None)

    def stop_all(self) -> None:
        """Stop every child still known, newest first, each with its own grace period."""
        for process in reversed(list(self.processes)):
            self.stop(process)


def run_cli(argv: Sequence[str], *, env: Mapping[str, str], timeout: float = 180.0) -> str:
    """Run a one-shot command in its own session; its stdout.

    Raises:
        CliFailed: it exited non-zero (or ran past ``timeout``).
    """
    shown = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))
    try:
        done = subprocess.run(  # noqa: S603 - argv built by the demo from its own scripts
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        raise CliFailed(shown, -1, f"ran past {timeout:.0f} s") from None
    if done.returncode != 0:
        raise CliFailed(shown, done.returncode, done.stderr.decode(errors="replace"))
    return done.stdout.decode(errors="replace")
