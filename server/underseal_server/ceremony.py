"""The key ceremony: epoch keys dealt to custodians, endorsed, and published for cameras.

For each epoch (a UTC day), ahead of time: deal a fresh epoch key as t-of-n
Shamir shares; send each custodian its share and the epoch's token key,
signed by the dealer and sealed to that custodian; collect each custodian's
endorsement of the epoch public key; publish the endorsed certificate and
the token key to the records server. The epoch secret lives only inside
``deal`` (a distributed key generation would remove the dealer; see the
design notes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx2 as httpx
from nacl.public import PublicKey
from nacl.signing import SigningKey

from underseal.encoding import b64d, b64e
from underseal.epochs import EpochCertificate
from underseal.errors import Malformed
from underseal.threshold import deal, seal_share
from underseal.token_delivery import seal_token_key
from underseal.tokens import HMAC_SHA256, TokenKey, TokenScheme

__all__ = ["CeremonyError", "CustodianEndpoint", "prepare_epochs"]


class CeremonyError(Exception):
    """A step of the ceremony failed; the message says which and never holds a key."""


@dataclass(frozen=True, slots=True)
class CustodianEndpoint:
    """A custodian as the dealer sees it: id, share index, box key, and an admin client."""

    id: str
    index: int
    box_key: PublicKey
    client: httpx.Client


def _check(response: httpx.Response, what: str) -> dict[str, object]:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            detail = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            detail = f"HTTP {response.status_code}"
        raise CeremonyError(f"{what} failed ({detail})")
    body = response.json()
    if not isinstance(body, dict):
        raise CeremonyError(f"{what}: unexpected response")
    return body


def prepare_epochs(
    epochs: Sequence[int],
    *,
    dealer: SigningKey,
    custodians: Sequence[CustodianEndpoint],
    records: httpx.Client,
    threshold: int,
    scheme: TokenScheme = HMAC_SHA256,
) -> list[int]:
    """Run the ceremony for ``epochs``; returns those published.

    ``custodians`` must be every enrolled custodian, indices 1..n; every one
    must endorse (the records server refuses a certificate otherwise).

    Raises:
        CeremonyError: a custodian or the records server refused a step.
    """
    indices = sorted(c.index for c in custodians)
    if indices != list(range(1, len(custodians) + 1)):
        raise CeremonyError("custodian indices must be 1..n with no gaps")
    if not 2 <= threshold <= len(custodians):
        raise CeremonyError("threshold must be at least 2 and at most the number of custodians")
    published = []
    for epoch in epochs:
        dealt = deal(epoch=epoch, threshold=threshold, custodians=len(custodians))
        token_key = TokenKey.generate(scheme)
        endorsements: dict[str, bytes] = {}
        for custodian in custodians:
            share = dealt.shares[custodian.index - 1]
            body = _check(
                custodian.client.post(
                    "/v1/shares",
                    json={
                        "epoch": epoch,
                        "sealed_share": b64e(seal_share(share, custodian.box_key, dealer=dealer)),
                        "sealed_token_key": b64e(
                            seal_token_key(
                                token_key, epoch=epoch, recipient=custodian.box_key, dealer=dealer
                            )
                        ),
                    },
                ),
                f"custodian {custodian.id}, epoch {epoch}",
            )
            try:
                endorsements[custodian.id] = b64d(str(body["endorsement"]), size=64)
            except (KeyError, Malformed):
                raise CeremonyError(f"custodian {custodian.id} sent no endorsement") from None
        certificate = EpochCertificate(epoch, dealt.commitments, endorsements)
        _check(
            records.post(
                "/v1/epochs",
                json={
                    "certificate": b64e(certificate.to_bytes()),
                    "token_key": b64e(token_key.secret_bytes()),
                    "token_scheme": token_key.scheme.to_json(),
                },
            ),
            f"publishing epoch {epoch}",
        )
        published.append(epoch)
    return published
