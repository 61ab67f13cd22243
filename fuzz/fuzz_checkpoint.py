"""Audit-log checkpoints and frontiers (``underseal.merkle``), as an auditor receives them.

Odd first byte: a signed checkpoint as served (``verify_checkpoint``). Even:
the stored frontier's bytes (``Frontier.from_bytes``), then its root.
"""

from __future__ import annotations

from fuzz.harness import Target, run
from fuzz.keys import NOW, signing
from underseal.errors import UndersealError
from underseal.merkle import Checkpoint, Frontier, leaf_hash, sign_checkpoint, verify_checkpoint

LOG = signing("log")


def seeds() -> list[bytes]:
    out = []
    frontier = Frontier()
    for size in range(6):
        checkpoint = Checkpoint(
            log_id="records", size=frontier.size, root=frontier.root(), timestamp=NOW
        )
        out.append(b"\x01" + sign_checkpoint(checkpoint, LOG).to_bytes())
        out.append(b"\x00" + frontier.to_bytes())
        frontier.append(leaf_hash(bytes([size])))
    return out


def check(data: bytes) -> None:
    if not data:
        return
    if data[0] & 1:
        verify_checkpoint(data[1:], LOG.verify_key)
    else:
        Frontier.from_bytes(data[1:]).root()


TARGET = Target("checkpoint", check, seeds, (UndersealError,))

if __name__ == "__main__":
    run(TARGET)
