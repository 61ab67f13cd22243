"""Sealing what a public log entry must record but the public must not read.

California Civil Code §1798.90.52 asks that each access be logged with its
query terms; a public log that printed plates, case numbers or the ids of
the records a case pulled would tell a suspect where they were seen. Those
fields are sealed to the oversight body's X25519 key (SealedBox): the entry
still commits to them (its hash covers the ciphertext), and the oversight
body can open and audit them. Without a configured key they are left out.
"""

from __future__ import annotations

from collections.abc import Mapping

from nacl.public import PublicKey, SealedBox

from underseal.encoding import b64d, b64e, canonical_json

__all__ = ["sealed_terms"]


def sealed_terms(oversight_key: str | None, terms: Mapping[str, object]) -> dict[str, str]:
    """``{"terms_sealed": ...}`` for a log entry, or ``{}`` with no oversight key."""
    if oversight_key is None:
        return {}
    box = SealedBox(PublicKey(b64d(oversight_key, size=32, field="oversight key")))
    return {"terms_sealed": b64e(bytes(box.encrypt(canonical_json(dict(terms)))))}
