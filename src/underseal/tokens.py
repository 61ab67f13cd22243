"""Plate tokens: keyed hashes of folded plates, the only form a camera matches on.

A token is ``HMAC-SHA256(K_epoch, label ‖ fold(plate))`` truncated to 16
bytes. It is keyed because an unkeyed hash of a plate is reversed by hashing
every plate (New York's taxi data, England's 18–24-bit roadside hashes): the
plate space of a US state is 10^7–10^9 strings, a few seconds of SHA-256.

The hardened scheme puts Argon2id behind the HMAC: the HMAC output is the
password and a salt derived from the same key is the salt. Without the key
both schemes are equally out of reach; with the key (a stolen camera holds
it for the epochs its bundles cover) every guess costs one Argon2id
evaluation instead of one HMAC. The default cost, ``opslimit=2`` and
``memlimit=4 MiB``, measured 4.3 ms per token on the 2-core development
machine: a camera checking four OCR candidates per vehicle spends ~17 ms per
pass, while a brute-force search pays the same per guess (``proofs/``
reports the cost over the plate space).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final, Literal

import nacl.pwhash.argon2id as argon2id
from cryptography.hazmat.primitives import hashes, hmac

from underseal import domains
from underseal.errors import Malformed
from underseal.plates import fold

__all__ = [
    "HARDENED",
    "HMAC_SHA256",
    "KEY_BYTES",
    "TOKEN_BYTES",
    "TokenKey",
    "TokenScheme",
]

KEY_BYTES: Final = 32
TOKEN_BYTES: Final = 16


@dataclass(frozen=True, slots=True)
class TokenScheme:
    """How tokens are derived; carried in every bundle so camera and server agree."""

    mode: Literal["hmac-sha256", "argon2id"]
    opslimit: int = 0
    memlimit: int = 0

    def __post_init__(self) -> None:
        if type(self.opslimit) is not int or type(self.memlimit) is not int:
            raise Malformed("token scheme costs must be integers")
        if self.mode == "hmac-sha256":
            if self.opslimit or self.memlimit:
                raise Malformed("hmac-sha256 tokens take no Argon2id cost")
        elif self.mode == "argon2id":
            if not argon2id.OPSLIMIT_MIN <= self.opslimit <= 10:
                raise Malformed("argon2id opslimit must be between 1 and 10")
            if not argon2id.MEMLIMIT_MIN <= self.memlimit <= 256 << 20:
                raise Malformed("argon2id memlimit must be between 8 KiB and 256 MiB")
        else:
            raise Malformed("token mode must be 'hmac-sha256' or 'argon2id'")

    def to_json(self) -> dict[str, int | str]:
        """Canonical JSON fields of the scheme."""
        return {"mode": self.mode, "opslimit": self.opslimit, "memlimit": self.memlimit}

    @classmethod
    def from_json(cls, value: object) -> TokenScheme:
        """Parse the fields written by :meth:`to_json`.

        Raises:
            Malformed: missing, extra or out-of-range fields.
        """
        if not isinstance(value, dict) or set(value) != {"mode", "opslimit", "memlimit"}:
            raise Malformed("token scheme must have exactly mode, opslimit and memlimit")
        mode, ops, mem = value["mode"], value["opslimit"], value["memlimit"]
        if mode not in ("hmac-sha256", "argon2id"):
            raise Malformed("token mode must be 'hmac-sha256' or 'argon2id'")
        return cls(mode=mode, opslimit=ops, memlimit=mem)


HMAC_SHA256: Final = TokenScheme("hmac-sha256")
HARDENED: Final = TokenScheme("argon2id", opslimit=2, memlimit=4 << 20)


class TokenKey:
    """An epoch token key. Its bytes never appear in a repr, str or error."""

    __slots__ = ("_hmac", "_key", "_salt", "scheme")

    def __init__(self, key: bytes, scheme: TokenScheme = HMAC_SHA256) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise Malformed(f"token key must be {KEY_BYTES} bytes")
        self._key = key
        self.scheme = scheme
        # A keyed HMAC state, copied per token, saves re-keying on the hot path.
        self._hmac = hmac.HMAC(key, hashes.SHA256())
        self._hmac.update(domains.PLATE_TOKEN)
        salt = hmac.HMAC(key, hashes.SHA256())
        salt.update(domains.PLATE_TOKEN_ARGON2_SALT)
        self._salt = salt.finalize()[: argon2id.SALTBYTES]

    @classmethod
    def generate(cls, scheme: TokenScheme = HMAC_SHA256) -> TokenKey:
        """A fresh random key."""
        return cls(os.urandom(KEY_BYTES), scheme)

    def secret_bytes(self) -> bytes:
        """The raw key, for sealing into a bundle. Handle as a secret."""
        return self._key

    def token(self, plate: str) -> bytes:
        """The 16-byte token of ``plate`` (folded first).

        Raises:
            InvalidPlate: the text cannot be a plate (the message does not quote it).
        """
        folded = fold(plate)
        # fold() returns A-Z0-9 only, so the ASCII encoding cannot fail.
        h = self._hmac.copy()
        h.update(folded.encode("ascii"))
        digest = h.finalize()
        if self.scheme.mode == "hmac-sha256":
            return digest[:TOKEN_BYTES]
        return bytes(
            argon2id.kdf(
                TOKEN_BYTES,
                digest,
                self._salt,
                opslimit=self.scheme.opslimit,
                memlimit=self.scheme.memlimit,
            )
        )

    def __repr__(self) -> str:
        return f"TokenKey(<secret>, scheme={self.scheme.mode})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("token keys are not picklable")
