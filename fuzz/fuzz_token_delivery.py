"""Token-key deliveries (``underseal.token_delivery.open_token_key``), as a custodian receives them.

Odd first byte: the sealed delivery as it arrives. Even: the delivery's
body, which the harness signs with the dealer's key and seals to the
custodian, so the fuzzer reaches the field checks behind the seal.
"""

from __future__ import annotations

from nacl.public import SealedBox

from fuzz.harness import Target, run
from fuzz.keys import EPOCH, box, signing
from underseal import domains
from underseal.errors import UndersealError
from underseal.token_delivery import open_token_key, seal_token_key
from underseal.tokens import HARDENED, TokenKey

DEALER = signing("dealer")
CUSTODIAN = box("custodian")


def _seal_body(body: bytes) -> bytes:
    signature = DEALER.sign(domains.TOKEN_KEY_DELIVERY + body).signature
    return bytes(SealedBox(CUSTODIAN.public_key).encrypt(body + signature))


def seeds() -> list[bytes]:
    out = []
    for key in (TokenKey(bytes(32)), TokenKey(bytes(range(32)), HARDENED)):
        sealed = seal_token_key(key, epoch=EPOCH, recipient=CUSTODIAN.public_key, dealer=DEALER)
        out.append(b"\x01" + sealed)
        plain = SealedBox(CUSTODIAN).decrypt(sealed)
        out.append(b"\x00" + plain[:-64])
    return out


def check(data: bytes) -> None:
    if not data:
        return
    sealed = data[1:] if data[0] & 1 else _seal_body(data[1:])
    open_token_key(sealed, CUSTODIAN, dealer=DEALER.verify_key, epoch=EPOCH)


TARGET = Target("token_delivery", check, seeds, (UndersealError,))

if __name__ == "__main__":
    run(TARGET)
