"""Private: the prime-order group of edwards25519, through libsodium only.

This is the only module that touches group arithmetic. Scalars are 32-byte
little-endian integers reduced modulo the group order ``L``; points are
32-byte canonical encodings in the main subgroup. Every point that arrives
from outside is checked with ``crypto_core_ed25519_is_valid_point``, which
refuses non-canonical encodings, small-order points and points outside the
main subgroup, so no torsion component can ever reach a scalar
multiplication. Arithmetic on secret scalars goes through libsodium's
constant-time routines; only public values (share indices, Lagrange
coefficients) are handled as Python integers.
"""

from __future__ import annotations

import os
from typing import Final, NewType

import nacl.bindings as sodium
import nacl.exceptions
from cryptography.hazmat.primitives import hashes

from underseal.encoding import length_prefixed
from underseal.errors import Malformed

Scalar = NewType("Scalar", bytes)
Point = NewType("Point", bytes)

#: Order of the prime-order subgroup of edwards25519.
L: Final = 2**252 + 27742317777372353535851937790883648493
SCALAR_BYTES: Final = 32
POINT_BYTES: Final = 32


class GroupError(Exception):
    """libsodium refused an operation (identity result or invalid input)."""


def random_scalar() -> Scalar:
    """A uniformly random non-zero scalar (64 random bytes reduced mod L)."""
    while True:
        s = sodium.crypto_core_ed25519_scalar_reduce(os.urandom(64))
        if s != bytes(32):
            return Scalar(s)


def scalar_from_int(value: int) -> Scalar:
    """The scalar ``value mod L`` (public values only: Python ints are not constant time)."""
    return Scalar((value % L).to_bytes(SCALAR_BYTES, "little"))


def scalar_to_int(s: Scalar) -> int:
    """The integer value of a scalar (public values only)."""
    return int.from_bytes(s, "little")


def scalar_from_bytes(data: bytes, *, field: str = "scalar") -> Scalar:
    """Parse a canonical, non-zero scalar.

    Raises:
        Malformed: wrong length, not reduced mod L, or zero.
    """
    if len(data) != SCALAR_BYTES:
        raise Malformed(f"{field} must be {SCALAR_BYTES} bytes")
    value = int.from_bytes(data, "little")
    if value >= L or value == 0:
        raise Malformed(f"{field} is not a canonical non-zero scalar")
    return Scalar(bytes(data))


def hash_to_scalar(label: bytes, *parts: bytes) -> Scalar:
    """SHA-512 of the label and length-prefixed parts, reduced mod L."""
    h = hashes.Hash(hashes.SHA512())
    h.update(label + length_prefixed(*parts))
    return Scalar(sodium.crypto_core_ed25519_scalar_reduce(h.finalize()))


def point_from_bytes(data: bytes, *, field: str = "point") -> Point:
    """Parse a point, refusing anything but a canonical main-subgroup point.

    Raises:
        Malformed: wrong length, not on the curve, small order, or outside
            the prime-order subgroup.
    """
    if len(data) != POINT_BYTES or not sodium.crypto_core_ed25519_is_valid_point(bytes(data)):
        raise Malformed(f"{field} is not a valid group element")
    return Point(bytes(data))


def base_mul(s: Scalar) -> Point:
    """``s·G``. Raises GroupError for the zero scalar."""
    try:
        return Point(sodium.crypto_scalarmult_ed25519_base_noclamp(s))
    except nacl.exceptions.RuntimeError:
        raise GroupError("scalar multiplication gave the identity") from None


def mul(s: Scalar, p: Point) -> Point:
    """``s·P``. Raises GroupError when the result is the identity."""
    try:
        return Point(sodium.crypto_scalarmult_ed25519_noclamp(s, p))
    except nacl.exceptions.RuntimeError:
        raise GroupError("scalar multiplication gave the identity") from None


def add(p: Point, q: Point) -> Point:
    """``P + Q``."""
    return Point(sodium.crypto_core_ed25519_add(p, q))


def sub(p: Point, q: Point) -> Point:
    """``P - Q``."""
    return Point(sodium.crypto_core_ed25519_sub(p, q))


def scalar_add(a: Scalar, b: Scalar) -> Scalar:
    """``a + b mod L`` (constant time)."""
    return Scalar(sodium.crypto_core_ed25519_scalar_add(a, b))


def scalar_mul(a: Scalar, b: Scalar) -> Scalar:
    """``a · b mod L`` (constant time)."""
    return Scalar(sodium.crypto_core_ed25519_scalar_mul(a, b))


def scalar_sub(a: Scalar, b: Scalar) -> Scalar:
    """``a - b mod L`` (constant time)."""
    return Scalar(sodium.crypto_core_ed25519_scalar_sub(a, b))


def ct_equal(a: bytes, b: bytes) -> bool:
    """Constant-time equality of two equal-length byte strings."""
    return len(a) == len(b) and bool(sodium.sodium_memcmp(a, b))
