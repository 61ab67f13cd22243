"""The operator CLI: clear one-line errors on bad input, secrets written with care."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner
from underseal_server.cli import app

from underseal.encoding import b64d

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("UNDERSEAL_"):
            monkeypatch.delenv(name)


def test_missing_settings_name_the_variables_and_exit_1() -> None:
    result = runner.invoke(app, ["records", "serve"])
    assert result.exit_code == 1
    assert "UNDERSEAL_RECORDS_" in result.output
    assert "authority_key" in result.output
    assert "Traceback" not in result.output


def test_a_bad_key_in_the_environment_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UNDERSEAL_RECORDS_AUTHORITY_KEY", "not-a-key-SECRET")
    monkeypatch.setenv("UNDERSEAL_RECORDS_LOG_KEY", "not-a-key-SECRET")
    result = runner.invoke(app, ["records", "serve"])
    assert result.exit_code == 1
    assert "SECRET" not in result.output


def test_several_workers_need_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    seed = "A" * 43
    monkeypatch.setenv("UNDERSEAL_RECORDS_AUTHORITY_KEY", seed)
    monkeypatch.setenv("UNDERSEAL_RECORDS_LOG_KEY", seed)
    result = runner.invoke(app, ["records", "serve", "--workers", "2"])
    assert result.exit_code == 1
    assert "PostgreSQL" in result.output


def test_keygen_writes_secrets_readable_by_the_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "custodian.env"
    result = runner.invoke(app, ["keygen", "custodian", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    lines = dict(
        line.split("=", 1) for line in target.read_text().splitlines() if not line.startswith("#")
    )
    for name in ("UNDERSEAL_CUSTODIAN_SIGNING_KEY", "UNDERSEAL_CUSTODIAN_BOX_KEY"):
        assert len(b64d(lines[name], size=32)) == 32
    again = runner.invoke(app, ["keygen", "custodian", "--out", str(target)])
    assert again.exit_code == 1
    assert "never overwritten" in again.output


def test_keygen_refuses_an_unknown_kind() -> None:
    result = runner.invoke(app, ["keygen", "printer"])
    assert result.exit_code == 1
    assert "kind must be one of" in result.output


def test_ceremony_without_its_keys_says_which_variable_is_missing() -> None:
    result = runner.invoke(
        app, ["ceremony", "--records", "http://127.0.0.1:9", "--custodian", "c1,1,http://x,AAAA"]
    )
    assert result.exit_code == 1
    assert "UNDERSEAL_DEALER_KEY" in result.output


def test_the_workers_listener_gets_tcp_nodelay_on_every_accepted_connection() -> None:
    # asyncio sets TCP_NODELAY only on sockets made with IPPROTO_TCP; without it
    # Nagle's algorithm delays small replies by the peer's delayed ACK (~40 ms).
    from underseal_server.cli import _tcp_listener

    async def accepted_nodelay() -> int:
        flags: asyncio.Queue[int] = asyncio.Queue()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                flags.put_nowait(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        listener = _tcp_listener("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            flag = await asyncio.wait_for(flags.get(), timeout=10)
        server.close()
        return flag

    assert asyncio.run(accepted_nodelay()) != 0
