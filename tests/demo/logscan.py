"""What must never appear in the demo's output or logs, and the scan that looks for it.

Read from the demo's work folder after a run: every plate of the video's truth
file that is not on the hotlist (as written and folded) and its token under
each day's token key (opened from the camera's stored bundles), every secret
the demo generated (the key files of ``underseal-server keygen`` and the
camera's own keys, each searched raw and as hex, base64 and base64url), and
any bearer token (``ust_…``, or an ``Authorization: Bearer`` value). A
finding names what leaked and where, never the leaked bytes.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import VerifyKey

from underseal.bundle import HotlistBundle, open_bundle
from underseal.plates import fold

__all__ = ["Needle", "encodings", "forbidden", "scan"]

DAY = 86_400

# Bearer tokens are "ust_" + 43 base64url characters (identity.TOKEN_PREFIX): greppable on purpose.
_BEARER = (
    re.compile(rb"ust_[A-Za-z0-9_-]{16,}"),
    re.compile(rb"(?i)bearer\s+[A-Za-z0-9._~+/=-]{16,}"),
)


@dataclass(frozen=True)
class Needle:
    """A byte string that must not appear; ``label`` says what it is without showing it."""

    label: str
    data: bytes


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encodings(label: str, secret: bytes) -> list[Needle]:
    """``secret`` raw and as lower/upper hex, base64 and base64url (unpadded: prefix of padded)."""
    return [
        Needle(f"{label} (raw)", secret),
        Needle(f"{label} (hex)", secret.hex().encode()),
        Needle(f"{label} (HEX)", secret.hex().upper().encode()),
        Needle(f"{label} (base64)", base64.b64encode(secret).rstrip(b"=")),
        Needle(f"{label} (base64url)", base64.urlsafe_b64encode(secret).rstrip(b"=")),
    ]


def _key_files(work: Path) -> Iterable[tuple[str, bytes]]:
    """Every secret in the keygen files (``NAME=base64url``) and the camera's key files."""
    for env in sorted((work / "keys").glob("*.env")):
        for line in env.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                yield f"{env.name}:{name}", _b64d(value.strip())
    for key in sorted((work / "camera" / "keys").glob("*.key")):
        yield f"camera/keys/{key.name}", _b64d(key.read_text().strip())


def _bundles(work: Path) -> Iterable[tuple[str, HotlistBundle]]:
    """The camera's stored bundles, opened with its own key (as a thief could)."""
    camera = work / "camera"
    camera_id = json.loads((camera / "device.json").read_text())["camera_id"]
    authority = VerifyKey(_b64d(json.loads((camera / "trust.json").read_text())["authority_key"]))
    box = PrivateKey(_b64d((camera / "keys" / "box.key").read_text().strip()))
    for path in sorted((camera / "bundles").glob("*.bundle")):
        epoch = int(path.stem)
        with path.open("rb") as handle:
            bundle = open_bundle(
                handle,
                camera_id=camera_id,
                camera_key=box,
                authority=authority,
                now=epoch * DAY + DAY // 2,
                min_serial=0,
            )
        yield f"day {epoch}", bundle


def forbidden(work: Path) -> list[Needle]:
    """Everything the demo run in ``work`` must never print or log."""
    truth = json.loads((work / "traffic.json").read_text())
    listed = {fold(p["text"]) for p in truth["passes"] if p["hotlist"]}
    listed |= {fold(plate) for plate in truth.get("hotlist", [])}
    # A plate that folds like a listed one matches it by design: it is a hit, not a non-hit.
    others = sorted({p["text"] for p in truth["passes"] if not p["hotlist"]} - listed)
    others = [plate for plate in others if fold(plate) not in listed]
    needles: list[Needle] = []
    for i, plate in enumerate(others):
        needles.append(Needle(f"non-hit plate #{i}", plate.encode()))
        needles.append(Needle(f"non-hit plate #{i} (folded)", fold(plate).encode()))
    for day, bundle in _bundles(work):
        key = bundle.token_key
        needles += encodings(f"token key of {day}", key.secret_bytes())
        for i, plate in enumerate(others):
            needles += encodings(f"token of non-hit plate #{i} under {day}", key.token(plate))
    for name, secret in _key_files(work):
        needles += encodings(f"secret {name}", secret)
    return needles


def scan(texts: Mapping[str, bytes], needles: Iterable[Needle]) -> list[str]:
    """Where each needle or bearer token appears: ``["<label> in <where>", …]``, empty if clean."""
    found: list[str] = []
    needles = list(needles)
    for where, text in texts.items():
        found += [f"{n.label} in {where}" for n in needles if n.data and n.data in text]
        found += [f"a bearer token in {where}" for pattern in _BEARER if pattern.search(text)]
    return found
