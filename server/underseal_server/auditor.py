"""The outside auditor's check of a log: nothing removed, nothing rewritten, every entry counted.

Given the log's pinned public key and the last checkpoint the auditor
verified, it fetches a fresh checkpoint, checks its signature, downloads
every entry, recomputes every leaf and the root, and proves the new tree
extends the old one (RFC 9162 consistency proof, and the old root recomputed
from the same entries). Any failure is an :class:`AuditFailure`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from nacl.signing import VerifyKey

from underseal.encoding import b64d, b64e
from underseal.errors import UndersealError
from underseal.merkle import (
    Checkpoint,
    entry_leaf,
    root,
    verify_checkpoint,
    verify_consistency,
)

__all__ = ["AuditFailure", "AuditReport", "audit"]

PAGE = 1000


class AuditFailure(Exception):
    """The log failed a check: it was rewritten, truncated, forked or is not the pinned log."""


@dataclass(frozen=True, slots=True)
class AuditReport:
    """A passed audit: the new checkpoint (save it for next time) and what the log holds."""

    log_id: str
    size: int
    previous_size: int
    checkpoint: bytes
    kinds: dict[str, int]


def _get(client: httpx.Client, path: str) -> Any:
    reply = client.get(path)
    if reply.status_code != 200:
        raise AuditFailure(f"{path} answered HTTP {reply.status_code}")
    return reply.json()


def audit(client: httpx.Client, key: VerifyKey, previous: bytes | None) -> AuditReport:
    """Audit the log behind ``client`` against ``key`` and the ``previous`` checkpoint.

    Raises:
        AuditFailure: on any mismatch (the message says which check failed).
    """
    # 1. A fresh checkpoint, signed by the pinned key.
    body = _get(client, "/v1/log/checkpoint")
    if body.get("log_key") != b64e(bytes(key)):
        raise AuditFailure("the log presents a different signing key than the pinned one")
    signed = b64d(body["checkpoint"], field="checkpoint")
    try:
        checkpoint = verify_checkpoint(signed, key)
        old: Checkpoint | None = None if previous is None else verify_checkpoint(previous, key)
    except UndersealError as error:
        raise AuditFailure(f"checkpoint does not verify: {error.message}") from None
    # 2. Every entry, in order, hashed again: the root must be the signed one.
    entries: list[dict[str, Any]] = []
    while len(entries) < checkpoint.size:
        page = _get(client, f"/v1/log/entries?start={len(entries)}&limit={PAGE}")
        if not page:
            raise AuditFailure("the log serves fewer entries than its checkpoint counts")
        entries.extend(page)
    entries = entries[: checkpoint.size]
    for seq, entry in enumerate(entries):
        if entry.get("seq") != seq:
            raise AuditFailure(f"entry {seq} is numbered {entry.get('seq')!r}")
    try:
        leaves = [entry_leaf(e) for e in entries]
    except UndersealError as error:
        raise AuditFailure(f"an entry is not canonical: {error.message}") from None
    if root(leaves) != checkpoint.root:
        raise AuditFailure("the entries do not hash to the signed root (rewritten or removed)")
    # 3. The new tree extends the one verified last time.
    if old is not None:
        if old.log_id != checkpoint.log_id:
            raise AuditFailure("the previous checkpoint is of another log")
        if old.size > checkpoint.size:
            raise AuditFailure(f"the log shrank from {old.size} to {checkpoint.size} entries")
        if root(leaves[: old.size]) != old.root:
            raise AuditFailure("the first entries differ from those verified last time")
        if 0 < old.size < checkpoint.size:
            proof = _get(client, f"/v1/log/proof/consistency?old={old.size}&new={checkpoint.size}")
            try:
                verify_consistency(
                    old.size,
                    checkpoint.size,
                    old.root,
                    checkpoint.root,
                    [b64d(p, size=32) for p in proof["proof"]],
                )
            except UndersealError as error:
                raise AuditFailure(f"consistency proof fails: {error.message}") from None
    return AuditReport(
        log_id=checkpoint.log_id,
        size=checkpoint.size,
        previous_size=0 if old is None else old.size,
        checkpoint=signed,
        kinds=dict(Counter(str(e.get("kind")) for e in entries)),
    )
