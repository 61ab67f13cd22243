"""Fixed keys and a clock for the fuzz targets (deterministic, so corpora stay valid)."""

from __future__ import annotations

import hashlib

from nacl.public import PrivateKey
from nacl.signing import SigningKey

NOW = 1_790_000_000
EPOCH = NOW // 86_400
CAMERA = "cam-fuzz"


def _seed(name: str) -> bytes:
    return hashlib.sha256(b"underseal fuzz " + name.encode()).digest()


def signing(name: str) -> SigningKey:
    return SigningKey(_seed(name))


def box(name: str) -> PrivateKey:
    return PrivateKey(_seed(name))
