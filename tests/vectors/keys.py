"""Fixed keys for test vectors, each derived from a public label. Never use them for real."""

from __future__ import annotations

import hashlib

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from underseal import _group as group
from underseal.threshold import EpochSecret
from underseal.tokens import HMAC_SHA256, TokenKey, TokenScheme

EPOCH = 20_415  # 2025-11-23 UTC
NOW = EPOCH * 86_400 + 43_200


def seed(label: str) -> bytes:
    return hashlib.sha256(b"underseal test vector: " + label.encode()).digest()


def scalar(label: str) -> bytes:
    return group.hash_to_scalar(b"underseal test vector", label.encode())


def signing(label: str) -> SigningKey:
    return SigningKey(seed(label))


def box(label: str) -> PrivateKey:
    return PrivateKey(seed(label))


def token_key(scheme: TokenScheme = HMAC_SHA256) -> TokenKey:
    return TokenKey(seed("token key"), scheme)


def epoch_secret() -> EpochSecret:
    return EpochSecret(EPOCH, scalar("epoch secret"))
