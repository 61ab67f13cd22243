"""The log scan of ``test_demo.py`` can fail: each thing it looks for is found when planted.

``test_demo.py`` runs ``underseal demo --check`` with every process at DEBUG and
scans all it printed or logged with ``logscan``; a scan that finds nothing
proves something only if it would have found a leak. Here a small work folder
like the demo's (truth file, keygen files, the camera's keys and a real sealed
bundle) is built, and every needle is planted in turn.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey
from underseal_server.demo.processes import _LOG_BOOTSTRAP, server_cli

from underseal.bundle import build_bundle, seal_bundle
from underseal.plates import fold
from underseal.tokens import TokenKey

from .logscan import Needle, encodings, forbidden, scan

EPOCH = 20_000
LISTED = "7ABC123"
UNLISTED = ("8XYZ456", "5SBO210")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def work(tmp_path: Path) -> tuple[Path, TokenKey]:
    """A work folder with the files ``forbidden`` reads, as the demo leaves them."""
    passes = [{"text": LISTED, "hotlist": True}] + [{"text": p, "hotlist": False} for p in UNLISTED]
    (tmp_path / "traffic.json").write_text(json.dumps({"hotlist": [LISTED], "passes": passes}))
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "court.env").write_text(
        f"# public: verify_key {_b64(os.urandom(32))}\nUNDERSEAL_COURT_KEY={_b64(os.urandom(32))}\n"
    )
    camera = tmp_path / "camera"
    (camera / "keys").mkdir(parents=True)
    (camera / "bundles").mkdir()
    box, authority = PrivateKey.generate(), SigningKey.generate()
    (camera / "keys" / "box.key").write_text(_b64(bytes(box)))
    (camera / "keys" / "device.key").write_text(_b64(os.urandom(32)))
    (camera / "device.json").write_text(json.dumps({"camera_id": "cam-1"}))
    trust = {"authority_key": _b64(bytes(authority.verify_key))}
    (camera / "trust.json").write_text(json.dumps(trust))
    key = TokenKey.generate()
    bundle = build_bundle(
        [(key.token(LISTED), b"\0" * 8)],
        camera_id="cam-1",
        serial=1,
        epoch=EPOCH,
        not_before=EPOCH * 86_400,
        not_after=(EPOCH + 1) * 86_400,
        token_key=key,
    )
    sealed = seal_bundle(bundle, authority=authority, camera=box.public_key)
    (camera / "bundles" / f"{EPOCH}.bundle").write_bytes(sealed)
    return tmp_path, key


def test_every_needle_is_found_when_planted_and_none_in_clean_text(
    work: tuple[Path, TokenKey],
) -> None:
    folder, _ = work
    needles = forbidden(folder)
    for needle in needles:
        text = b"INFO x: start " + needle.data + b" end"
        assert scan({"log": text}, [needle]) == [f"{needle.label} in log"]
    # A hit is what the demo is meant to show: a listed plate and its alert are not a leak.
    assert scan({"log": f"alert for {LISTED} ({fold(LISTED)})".encode()}, needles) == []


def test_it_looks_for_each_kind_of_secret(work: tuple[Path, TokenKey]) -> None:
    folder, key = work
    labels = {needle.label for needle in forbidden(folder)}
    for i in range(len(UNLISTED)):
        assert f"non-hit plate #{i}" in labels
        assert f"non-hit plate #{i} (folded)" in labels
        assert f"token of non-hit plate #{i} under day {EPOCH} (base64url)" in labels
    assert f"token key of day {EPOCH} (hex)" in labels
    assert "secret court.env:UNDERSEAL_COURT_KEY (base64)" in labels
    assert "secret camera/keys/device.key (raw)" in labels
    assert "secret camera/keys/box.key (HEX)" in labels
    token = key.token(UNLISTED[1])
    found = scan({"log": token.hex().encode()}, forbidden(folder))
    i = sorted(UNLISTED).index(UNLISTED[1])  # numbered in sorted order
    assert found == [f"token of non-hit plate #{i} under day {EPOCH} (hex) in log"]


@pytest.mark.parametrize(
    "line",
    [
        b"token ust_" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"="),
        b"(b'authorization', b'Bearer " + base64.urlsafe_b64encode(os.urandom(32)) + b"')",
    ],
    ids=["access token", "authorization header"],  # fixed: parallel workers collect alike
)
def test_bearer_tokens_are_found(line: bytes) -> None:
    assert scan({"log": line}, []) == ["a bearer token in log"]


def test_encodings_cover_raw_hex_and_both_base64s() -> None:
    secret = bytes(range(250, 256)) + b"\xfb\xff"
    forms = {n.label.split(" ")[-1]: n.data for n in encodings("s", secret)}
    assert forms == {
        "(raw)": secret,
        "(hex)": secret.hex().encode(),
        "(HEX)": secret.hex().upper().encode(),
        "(base64)": base64.b64encode(secret).rstrip(b"="),
        "(base64url)": base64.urlsafe_b64encode(secret).rstrip(b"="),
    }
    assert Needle("x", b"") not in encodings("s", secret)


def test_the_bootstrap_sets_the_level_of_a_child_that_sets_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``UNDERSEAL_LOG_LEVEL``: the demo's children log at DEBUG, to stderr and the shared file."""
    log = tmp_path / "all.log"
    argv = [sys.executable, "-c", _LOG_BOOTSTRAP, "DEBUG", str(log), "underseal_server.cli"]
    done = subprocess.run([*argv, "presets"], capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert "vermont" in done.stdout.decode()  # the command ran, its stdout untouched
    assert log.exists()  # the shared file is opened at start-up
    env = {**os.environ, "UNDERSEAL_LOG_LEVEL": "debug", "UNDERSEAL_LOG_FILE": str(log)}
    probe = "from underseal_server.demo.processes import server_cli; print(server_cli())"
    shown = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, timeout=60, check=True
    ).stdout.decode()
    for part in ("DEBUG", str(log), "underseal_server.cli"):
        assert part in shown
    monkeypatch.delenv("UNDERSEAL_LOG_LEVEL", raising=False)
    assert "DEBUG" not in server_cli()
