"""Fixtures for the portal tests: a seeded deployment, and its records app on a real port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.portal.world import SeededWorld, seed


@pytest.fixture(scope="package")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededWorld]:
    world = seed(Path(tmp_path_factory.mktemp("portal")))
    yield world
    world.deployment.close()


@pytest.fixture(scope="package")
def base_url(seeded: SeededWorld) -> Iterator[str]:
    """The records app served by uvicorn on a loopback port, as a browser reaches it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # No lifespan: the retention scheduler would run on the test's manual clock.
    config = uvicorn.Config(
        seeded.deployment.records_app, lifespan="off", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()
