"""The launcher of real server processes, driven with a stand-in server (quick: no underseal).

The stand-in answers ``/v1/health`` on the port it is given, so every path
of :class:`ServerProcess` runs here in seconds: start, restart on the same
port, ``kill -9``, SIGSTOP then stop, a lost port retried, and a failure
that shows the end of the log.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
from underseal_server.demo.processes import Children
from underseal_server.demo.server_process import Argv, ServerProcess, ServiceFailed

# argv: PORT [MARKER]; with MARKER, the first run (no marker file yet) loses its port.
_STAND_IN = """\
import http.server, pathlib, sys
if len(sys.argv) > 2 and not pathlib.Path(sys.argv[2]).exists():
    pathlib.Path(sys.argv[2]).touch()
    sys.exit(print("[Errno 98] error while attempting to bind: address already in use") or 1)
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/v1/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
print("serving on", sys.argv[1], flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"""


def _stand_in(*extra: str) -> Argv:
    return lambda port: [sys.executable, "-c", _STAND_IN, str(port), *extra]


def _server(tmp_path: Path, command: Argv, *, port: int = 0) -> ServerProcess:
    return ServerProcess("stand-in", command, env={}, log=tmp_path / "stand-in.log", port=port)


def test_restart_keeps_the_port_and_the_log_keeps_every_start(tmp_path: Path) -> None:
    server = _server(tmp_path, _stand_in())
    try:
        server.start()
        port = server.port
        assert server.running
        assert server.starts == 1
        server.kill9()
        assert not server.running
        assert server.process is not None
        assert server.process.returncode == -signal.SIGKILL
        server.start()
        assert (server.port, server.starts) == (port, 2)
        assert server.log_text().count(f"serving on {port}") == 2
    finally:
        server.stop()
    assert not server.running


def test_a_stopped_server_still_stops_gracefully(tmp_path: Path) -> None:
    with _server(tmp_path, _stand_in()) as server:
        server.signal(signal.SIGSTOP)  # it accepts connections and never answers
    assert server.process is not None
    assert server.process.returncode == -signal.SIGTERM  # SIGCONT came first, no SIGKILL


def test_a_port_in_use_is_left_for_a_free_one(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with _server(tmp_path, _stand_in(), port=taken) as server:
            assert server.port != taken


def test_a_port_lost_to_another_process_is_retried_on_another(tmp_path: Path) -> None:
    with _server(tmp_path, _stand_in(str(tmp_path / "lost-once"))) as server:
        assert server.starts == 1
        assert "address already in use" in server.log_text()


def test_a_server_that_exits_fails_with_the_end_of_its_log(tmp_path: Path) -> None:
    lines = "for i in range(30): print('line', i)\nraise SystemExit(3)"
    server = _server(tmp_path, lambda port: [sys.executable, "-c", lines])
    with pytest.raises(ServiceFailed) as failed:
        server.start()
    message = str(failed.value)
    assert message.startswith("stand-in exited with code 3 before answering /v1/health")
    assert "line 29" in message
    assert "line 9\n" not in message  # the tail only
    assert server.starts == 0


def test_a_server_that_never_answers_is_stopped_and_named(tmp_path: Path) -> None:
    mute = "import time; print('thinking', flush=True); time.sleep(600)"
    server = _server(tmp_path, lambda port: [sys.executable, "-c", mute])
    server.start_timeout = 8  # a slow machine must have time to start Python and print
    with pytest.raises(ServiceFailed, match=r"did not answer /v1/health within 8 s") as failed:
        server.start()
    assert "thinking" in str(failed.value)
    assert not server.running


_DEAF = """\
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("deaf", flush=True)
time.sleep(120)
"""


def test_stop_all_gives_each_child_its_own_grace_period(tmp_path: Path) -> None:
    # A child that ignores SIGTERM is killed once its own stop_timeout (0.5 s)
    # runs out, not after the 10 s default.
    children = Children()
    log = tmp_path / "deaf.log"
    process = children.spawn(
        [sys.executable, "-c", _DEAF], env=os.environ, log=log, stop_timeout=0.5
    )
    deadline = time.monotonic() + 30
    while "deaf" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "deaf" in log.read_text(), "the child never started"
    start = time.monotonic()
    children.stop_all()
    assert time.monotonic() - start < 8
    assert process.returncode == -signal.SIGKILL
    assert children.processes == []
    assert children.timeouts == {}
