"""``underseal demo --check``: the whole story on loopback, as CI runs it, every step asserted.

One run (a minute or two on two slow cores): real services as separate
processes, the real camera CLI with the shipped models on a short synthetic
video. The demo's own checks are the assertions; this test adds what only
an outsider can see: the exit status, that a port in use is avoided, that
no plate other than a hit appears in anything it printed or logged, and that
no process it started is left listening. Every process runs at DEBUG (the demo's
``UNDERSEAL_LOG_LEVEL``), and everything printed or logged is scanned for non-hit
plates, their tokens, every secret the demo generated and bearer tokens (``logscan``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from underseal_server.demo.processes import _LOG_BOOTSTRAP

from underseal.plates import fold

from .logscan import forbidden, scan

UNDERSEAL = str(Path(sys.executable).parent / "underseal")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("UNDERSEAL_")}


def test_help_lists_the_demo() -> None:
    done = subprocess.run(
        [UNDERSEAL, "--help"], capture_output=True, timeout=60, env=_env(), check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "demo" in done.stdout.decode()


@pytest.mark.timeout(1200)
def test_demo_check_runs_every_step_and_leaves_nothing_behind(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    debug_log = tmp_path / "debug.log"  # every child's log records, one-shot commands' too
    debug = {"UNDERSEAL_LOG_LEVEL": "DEBUG", "UNDERSEAL_LOG_FILE": str(debug_log)}
    # The demo itself through the same bootstrap, so its own records (httpx, …) are kept too.
    demo = [sys.executable, "-c", _LOG_BOOTSTRAP, "DEBUG", str(debug_log)]
    demo.append("underseal_server.demo.cli")
    with socket.socket() as busy:  # the port the demo is asked for is taken
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        done = subprocess.run(
            [*demo, "demo", "--check", "--port", str(taken), "--workdir", str(work)],
            capture_output=True,
            timeout=1100,
            env={**_env(), **debug, "COLUMNS": "200"},
            check=False,
        )
    out = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert done.returncode == 0, out[-6000:]
    assert "demo check passed" in out
    assert f"port {taken} was in use" in out
    # Nothing but hits: no other plate that drove past, in any form, anywhere it wrote.
    truth = json.loads((work / "traffic.json").read_text())
    others = {p["text"] for p in truth["passes"] if not p["hotlist"]}
    assert others, "the video should have passes of unlisted plates"
    texts = [out] + [p.read_text(errors="replace") for p in work.glob("*.log")]
    for text in texts:
        leaked = sum(1 for plate in others if plate in text or fold(plate) in text)
        assert leaked == 0, f"{leaked} non-hit plates appear in the demo's output or logs"
    # At DEBUG: the demo, four services, the camera and the one-shot commands all logged.
    records = debug_log.read_bytes()
    debugging = set(re.findall(rb" (\d+) DEBUG ", records))
    assert len(debugging) >= 6, "DEBUG did not reach every process"
    logs = {p.name: p.read_bytes() for p in [debug_log, *work.glob("*.log")]}
    found = scan({"output": out.encode(), **logs}, forbidden(work))
    assert not found, "printed or logged: " + "; ".join(found[:20])
    # Every service it started is gone: its ports refuse connections.
    ports = {int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", out)}
    assert len(ports) >= 4
    for port in ports:
        with socket.socket() as probe:
            probe.settimeout(2)
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
