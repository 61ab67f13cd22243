"""Threshold keys: epoch key pairs split t-of-n among custodians (DESIGN §3.2, §4).

The epoch secret ``x`` is the constant term of a random polynomial ``f`` of
degree ``t-1`` over the scalars mod ``L``; custodian ``i`` (1-based) holds
``s_i = f(i)``. The dealer publishes Feldman commitments ``C_j = a_j·G`` to
the coefficients, so that

* each custodian checks its own share: ``s_i·G == Σ_j i^j·C_j``;
* anyone derives custodian ``i``'s share public key ``P_i = Σ_j i^j·C_j``
  and checks its partial decryptions against it.

A partial decryption of a record with ephemeral point ``R`` is
``D_i = s_i·R`` with a Chaum–Pedersen proof that ``log_G P_i = log_R D_i``
(Fiat–Shamir, challenge hashed with a domain label). Any ``t`` valid
partials combine by Lagrange interpolation in the exponent to
``S = x·R``; ``t-1`` shares are independent of ``x`` (Shamir), so they
combine to a point that is not ``S`` except with probability ``1/L``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from underseal import _group as group
from underseal import domains
from underseal.encoding import b64d, b64e, canonical_json, check_uint, parse_canonical_json
from underseal.errors import (
    DecryptionFailed,
    InvalidProof,
    InvalidSignature,
    Malformed,
    NotEnoughShares,
)

__all__ = [
    "MAX_CUSTODIANS",
    "DealtEpoch",
    "EpochPublicKey",
    "EpochSecret",
    "KeyShare",
    "Partial",
    "combine_partials",
    "deal",
    "open_share",
    "partial_decrypt",
    "seal_share",
    "share_public_key",
    "split_secret",
    "verify_partial",
]

MAX_CUSTODIANS: Final = 64


@dataclass(frozen=True, slots=True)
class EpochPublicKey:
    """The public key records of one epoch are sealed to."""

    epoch: int
    point: bytes

    def __post_init__(self) -> None:
        check_uint(self.epoch, field="epoch")
        group.point_from_bytes(self.point, field="epoch public key")


class EpochSecret:
    """A whole epoch secret scalar: exists only in tests, the dealer, and case keys.

    In a deployment the dealer splits it and erases it (:func:`deal`); a case
    key for legal hold is one of these held by the court's case custodian.
    """

    __slots__ = ("_scalar", "epoch")

    def __init__(self, epoch: int, scalar: bytes) -> None:
        self.epoch = check_uint(epoch, field="epoch")
        self._scalar = group.scalar_from_bytes(scalar, field="epoch secret")

    @classmethod
    def generate(cls, epoch: int) -> EpochSecret:
        """A fresh random epoch secret."""
        return cls(epoch, group.random_scalar())

    def public_key(self) -> EpochPublicKey:
        """``x·G``."""
        return EpochPublicKey(self.epoch, group.base_mul(self._scalar))

    def secret_bytes(self) -> bytes:
        """The raw scalar. Handle as a secret."""
        return self._scalar

    def __repr__(self) -> str:
        return f"EpochSecret(epoch={self.epoch}, <secret>)"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("epoch secrets are not picklable")


@dataclass(frozen=True, slots=True)
class KeyShare:
    """Custodian ``index``'s share of one epoch key, with the public commitments."""

    epoch: int
    index: int
    custodians: int
    commitments: tuple[bytes, ...]
    scalar: bytes

    def __post_init__(self) -> None:
        check_uint(self.epoch, field="epoch")
        _check_params(len(self.commitments), self.custodians, self.index)
        group.scalar_from_bytes(self.scalar, field="share")
        for c in self.commitments:
            group.point_from_bytes(c, field="commitment")

    def __repr__(self) -> str:
        return f"KeyShare(epoch={self.epoch}, index={self.index}, <secret>)"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("key shares are not picklable")

    @property
    def threshold(self) -> int:
        """How many shares decrypt: one more than the polynomial's degree."""
        return len(self.commitments)

    def verify(self) -> None:
        """Check the share against the dealer's commitments.

        Raises:
            InvalidProof: ``s_i·G`` is not the committed share public key.
        """
        expected = share_public_key(self.commitments, self.index)
        if not group.ct_equal(group.base_mul(group.Scalar(self.scalar)), expected):
            raise InvalidProof("key share does not match the dealer's commitments")

    def public_key(self) -> EpochPublicKey:
        """The epoch public key these commitments describe (``C_0``)."""
        return EpochPublicKey(self.epoch, self.commitments[0])


@dataclass(frozen=True, slots=True)
class DealtEpoch:
    """What a key ceremony publishes and hands out; the secret is not in it."""

    public_key: EpochPublicKey
    commitments: tuple[bytes, ...]
    shares: tuple[KeyShare, ...]

    @property
    def threshold(self) -> int:
        """How many shares decrypt."""
        return len(self.commitments)


def _check_params(threshold: int, n: int, index: int | None = None) -> None:
    for value in (threshold, n, index):
        if value is not None and type(value) is not int:
            raise Malformed("threshold, custodians and index must be integers")
    if not 1 <= threshold <= n <= MAX_CUSTODIANS:
        raise Malformed(f"need 1 <= threshold <= custodians <= {MAX_CUSTODIANS}")
    if index is not None and not 1 <= index <= n:
        raise Malformed("share index must be between 1 and the number of custodians")


def _horner(coefficients: Sequence[group.Scalar], x: int) -> group.Scalar:
    # Constant-time scalar arithmetic on the secret coefficients; x is public.
    xs = group.scalar_from_int(x)
    acc = coefficients[-1]
    for a in reversed(coefficients[:-1]):
        acc = group.scalar_add(group.scalar_mul(acc, xs), a)
    return acc


def split_secret(secret: EpochSecret, *, threshold: int, custodians: int) -> DealtEpoch:
    """Split ``secret`` into ``custodians`` shares, any ``threshold`` of which recover it."""
    _check_params(threshold, custodians)
    while True:
        coefficients = [group.random_scalar() for _ in range(threshold - 1)]
        try:
            return _split_with(secret, coefficients, custodians=custodians)
        except group.GroupError:  # a zero share (probability n/L): draw again
            continue


def _split_with(
    secret: EpochSecret, coefficients: Sequence[bytes], *, custodians: int
) -> DealtEpoch:
    # Separate from split_secret so that test vectors can fix the coefficients.
    poly = [group.Scalar(secret.secret_bytes())] + [group.Scalar(c) for c in coefficients]
    _check_params(len(poly), custodians)
    commitments = tuple(bytes(group.base_mul(a)) for a in poly)
    shares = []
    for i in range(1, custodians + 1):
        s_i = _horner(poly, i)
        if s_i == bytes(32):
            raise group.GroupError("zero share")
        shares.append(KeyShare(secret.epoch, i, custodians, commitments, s_i))
    return DealtEpoch(secret.public_key(), commitments, tuple(shares))


def deal(*, epoch: int, threshold: int, custodians: int) -> DealtEpoch:
    """Key ceremony: a fresh epoch key, split; the whole secret is dropped on return.

    Python cannot promise to wipe memory; the secret lives only in this call's
    frame. A distributed key generation would avoid the dealer altogether.
    """
    return split_secret(EpochSecret.generate(epoch), threshold=threshold, custodians=custodians)


def share_public_key(commitments: Sequence[bytes], index: int) -> bytes:
    """``P_i = Σ_j i^j·C_j``: what custodian ``index``'s share times G must be."""
    _check_params(len(commitments), MAX_CUSTODIANS, index)
    points = [group.point_from_bytes(c, field="commitment") for c in commitments]
    acc = points[0]
    power = 1
    for c in points[1:]:
        power *= index
        acc = group.add(acc, group.mul(group.scalar_from_int(power), c))
    return acc


# --- sealing shares to custodians -------------------------------------------------


_SHARE_FIELDS: Final = frozenset(
    {"epoch", "index", "custodians", "commitments", "share", "recipient"}
)


def seal_share(share: KeyShare, custodian: PublicKey, *, dealer: SigningKey) -> bytes:
    """Sign a share with the dealer's key, then seal it to its custodian's X25519 key.

    SealedBox alone does not say who sealed: without the dealer's signature
    anyone could deal custodians an epoch key of their own choosing and have
    them endorse it. The body names the recipient's key, so a share cannot
    be forwarded to another custodian either.
    """
    body = canonical_json(
        {
            "epoch": share.epoch,
            "index": share.index,
            "custodians": share.custodians,
            "commitments": [b64e(c) for c in share.commitments],
            "share": b64e(share.scalar),
            "recipient": b64e(bytes(custodian)),
        }
    )
    signature = dealer.sign(domains.KEY_SHARE + body).signature
    return bytes(SealedBox(custodian).encrypt(body + signature))


def open_share(
    sealed: bytes, custodian: PrivateKey, *, dealer: VerifyKey, epoch: int, index: int
) -> KeyShare:
    """Open, authenticate and check a sealed share (custodian side).

    Raises:
        DecryptionFailed: not sealed to this custodian.
        InvalidSignature: not signed by the registered dealer.
        Malformed: not a share, or for another epoch, index or custodian.
        InvalidProof: the share does not match its commitments (a bad dealer).
    """
    # 1. Unseal; 2. check the dealer's signature; 3. parse; 4. check the share.
    try:
        plain = SealedBox(custodian).decrypt(bytes(sealed))
    except (nacl.exceptions.CryptoError, TypeError, ValueError):
        raise DecryptionFailed("share does not open with this custodian's key") from None
    body, signature = plain[:-64], plain[-64:]
    try:
        dealer.verify(domains.KEY_SHARE + body, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise InvalidSignature("key share is not signed by the registered dealer") from None
    fields = parse_canonical_json(body, what="key share")
    if set(fields) != _SHARE_FIELDS:
        raise Malformed("key share has the wrong fields")
    if fields["epoch"] != epoch or fields["index"] != index:
        raise Malformed("key share is for another epoch or custodian")
    if fields["recipient"] != b64e(bytes(custodian.public_key)):
        raise Malformed("key share was dealt to another custodian")
    commitments, custodians = fields["commitments"], fields["custodians"]
    if not isinstance(commitments, list) or not 1 <= len(commitments) <= MAX_CUSTODIANS:
        raise Malformed("key share commitments must be a non-empty list")
    share = KeyShare(
        epoch=epoch,
        index=index,
        custodians=check_uint(custodians, field="custodians"),
        commitments=tuple(b64d(c, size=32, field="commitment") for c in commitments),
        scalar=b64d(fields["share"], size=32, field="share"),
    )
    share.verify()
    return share


# --- partial decryption with a Chaum–Pedersen proof -------------------------------


@dataclass(frozen=True, slots=True)
class Partial:
    """``D_i = s_i·R`` from custodian ``index``, with its DLEQ proof ``(c, z)``."""

    index: int
    point: bytes
    challenge: bytes
    response: bytes

    def to_json(self) -> dict[str, int | str]:
        """Canonical JSON fields."""
        return {
            "index": self.index,
            "point": b64e(self.point),
            "challenge": b64e(self.challenge),
            "response": b64e(self.response),
        }

    @classmethod
    def from_json(cls, value: object) -> Partial:
        """Parse :meth:`to_json` output. Raises Malformed."""
        if not isinstance(value, dict) or set(value) != {"index", "point", "challenge", "response"}:
            raise Malformed("partial must have exactly index, point, challenge and response")
        index = value["index"]
        if type(index) is not int or not 1 <= index <= MAX_CUSTODIANS:
            raise Malformed("partial index is out of range")
        return cls(
            index=index,
            point=b64d(value["point"], size=32, field="point"),
            challenge=b64d(value["challenge"], size=32, field="challenge"),
            response=b64d(value["response"], size=32, field="response"),
        )


def _challenge(p_i: bytes, r: bytes, d_i: bytes, a: bytes, b: bytes) -> group.Scalar:
    return group.hash_to_scalar(domains.DLEQ_CHALLENGE, p_i, r, d_i, a, b)


def partial_decrypt(share: KeyShare, ephemeral: bytes) -> Partial:
    """Custodian side: ``D_i = s_i·R`` and a proof that it used the committed share.

    Raises:
        Malformed: ``ephemeral`` is not a valid group element.
    """
    r = group.point_from_bytes(ephemeral, field="ephemeral point")
    s_i = group.Scalar(share.scalar)
    p_i = group.base_mul(s_i)
    d_i = group.mul(s_i, r)
    # Hedged nonce: hashed from the share, the statement and fresh randomness,
    # so neither a bad RNG nor a repeated statement can leak s_i.
    k = group.hash_to_scalar(domains.DLEQ_NONCE, s_i, r, os.urandom(32))
    a, b = group.base_mul(k), group.mul(k, r)
    c = _challenge(p_i, r, d_i, a, b)
    z = group.scalar_add(k, group.scalar_mul(c, s_i))
    return Partial(index=share.index, point=d_i, challenge=c, response=z)


def verify_partial(partial: Partial, ephemeral: bytes, share_public: bytes) -> None:
    """Check a custodian's partial against its share public key ``P_i``.

    Raises:
        InvalidProof: the partial was not computed with the committed share.
    """
    try:
        r = group.point_from_bytes(ephemeral, field="ephemeral point")
        p_i = group.point_from_bytes(share_public, field="share public key")
        d_i = group.point_from_bytes(partial.point, field="partial")
        c = group.scalar_from_bytes(partial.challenge, field="challenge")
        z = group.scalar_from_bytes(partial.response, field="response")
        # A = z·G - c·P_i and B = z·R - c·D_i; the proof holds iff c hashes them back.
        a = group.sub(group.base_mul(z), group.mul(c, p_i))
        b = group.sub(group.mul(z, r), group.mul(c, d_i))
    except (Malformed, group.GroupError):
        raise InvalidProof("partial decryption proof does not verify") from None
    if not group.ct_equal(_challenge(p_i, r, d_i, a, b), c):
        raise InvalidProof("partial decryption proof does not verify")


def _lagrange_at_zero(index: int, indices: Sequence[int]) -> group.Scalar:
    # Public values only: λ_i = Π_{j≠i} j / (j - i) mod L.
    num, den = 1, 1
    for j in indices:
        if j != index:
            num = num * j % group.L
            den = den * (j - index) % group.L
    return group.scalar_from_int(num * pow(den, -1, group.L))


def combine_partials(
    partials: Sequence[Partial],
    ephemeral: bytes,
    *,
    commitments: Sequence[bytes],
) -> bytes:
    """Verify partials and combine ``t = len(commitments)`` of them into ``S = x·R``.

    Invalid partials are skipped, not fatal: a custodian that lies is
    detected and the others suffice when enough of them are honest.

    Raises:
        NotEnoughShares: fewer than ``threshold`` valid partials from distinct custodians.
        Malformed: no commitments, or more than MAX_CUSTODIANS.
    """
    threshold = len(commitments)
    _check_params(threshold, MAX_CUSTODIANS)
    valid: dict[int, Partial] = {}
    for p in partials:
        if p.index in valid or not 1 <= p.index <= MAX_CUSTODIANS:
            continue
        try:
            verify_partial(p, ephemeral, share_public_key(commitments, p.index))
        except InvalidProof:
            continue
        valid[p.index] = p
        if len(valid) == threshold:
            break
    if len(valid) < threshold:
        raise NotEnoughShares(
            f"{len(valid)} valid partial decryptions from distinct custodians; need {threshold}"
        )
    return _interpolate(list(valid.values()))


def _interpolate(partials: Sequence[Partial]) -> bytes:
    indices = [p.index for p in partials]
    acc: bytes | None = None
    for p in partials:
        term = group.mul(_lagrange_at_zero(p.index, indices), group.Point(p.point))
        acc = term if acc is None else group.add(group.Point(acc), term)
    assert acc is not None
    return acc


def combine_unverified(partials: Sequence[Partial]) -> bytes:
    """Interpolate partials with no proof check: for proofs and tests of the t-1 bound only."""
    return _interpolate(partials)
