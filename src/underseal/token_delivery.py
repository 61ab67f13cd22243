"""Delivering an epoch's token key from the dealer to a custodian, signed then sealed.

The key ceremony gives each custodian its share (``threshold.seal_share``)
and, beside it, the epoch's token key, which the custodian needs to test a
warrant's scope on its own (``warrant.check_scope``). Like a share, the key
is signed by the registered dealer, so nobody else can hand a custodian a
token key of their choosing, and names its recipient and epoch, so it
cannot be forwarded or replayed for another day.
"""

from __future__ import annotations

from typing import Final

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from underseal import domains
from underseal.encoding import b64d, b64e, canonical_json, check_uint, parse_canonical_json
from underseal.errors import DecryptionFailed, InvalidSignature, Malformed
from underseal.tokens import KEY_BYTES, TokenKey, TokenScheme

__all__ = ["open_token_key", "seal_token_key"]

_FIELDS: Final = frozenset({"epoch", "key", "scheme", "recipient"})


def seal_token_key(key: TokenKey, *, epoch: int, recipient: PublicKey, dealer: SigningKey) -> bytes:
    """Sign ``key`` for ``epoch`` and ``recipient`` with the dealer's key, then seal it."""
    body = canonical_json(
        {
            "epoch": check_uint(epoch, field="epoch"),
            "key": b64e(key.secret_bytes()),
            "scheme": key.scheme.to_json(),
            "recipient": b64e(bytes(recipient)),
        }
    )
    signature = dealer.sign(domains.TOKEN_KEY_DELIVERY + body).signature
    return bytes(SealedBox(recipient).encrypt(body + signature))


def open_token_key(
    sealed: bytes, recipient: PrivateKey, *, dealer: VerifyKey, epoch: int
) -> TokenKey:
    """Open and authenticate a delivered token key.

    Raises:
        DecryptionFailed: not sealed to this recipient.
        InvalidSignature: not signed by the registered dealer.
        Malformed: not a token key, or for another epoch or recipient.
    """
    # 1. Unseal; 2. check the dealer's signature; 3. parse and check the binding.
    try:
        plain = SealedBox(recipient).decrypt(bytes(sealed))
    except (nacl.exceptions.CryptoError, TypeError, ValueError):
        raise DecryptionFailed("token key does not open with this key") from None
    body, signature = plain[:-64], plain[-64:]
    try:
        dealer.verify(domains.TOKEN_KEY_DELIVERY + body, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise InvalidSignature("token key is not signed by the registered dealer") from None
    fields = parse_canonical_json(body, what="token key delivery")
    if set(fields) != _FIELDS:
        raise Malformed("token key delivery has the wrong fields")
    if fields["epoch"] != epoch:
        raise Malformed("token key is for another epoch")
    if fields["recipient"] != b64e(bytes(recipient.public_key)):
        raise Malformed("token key was delivered to another recipient")
    return TokenKey(
        b64d(fields["key"], size=KEY_BYTES, field="key"), TokenScheme.from_json(fields["scheme"])
    )
