"""Append-only Merkle audit log: RFC 6962 tree hashing, proofs and signed checkpoints.

The tree is the Merkle Tree Hash of RFC 6962 §2.1 (RFC 9162 §2.1.1) over
SHA-256: a leaf is ``SHA-256(0x00 ‖ data)``, an inner node
``SHA-256(0x01 ‖ left ‖ right)``, the empty tree ``SHA-256("")``, and a tree
of ``n`` leaves splits at the largest power of two below ``n``. Inclusion
and consistency proofs are those of RFC 6962 §2.1.1–2.1.2 and are checked
with the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, so any RFC 9162
verifier can check this log and this verifier can check any RFC 6962 log.

An audit entry's leaf data is the ``AUDIT_ENTRY`` label followed by its
canonical JSON. The 0x00 prefix only keeps leaves apart from inner nodes;
the label also keeps audit entries apart from any other bytes anyone might
put in a leaf, so a leaf hash made for another purpose is never read as an
audit entry.

A checkpoint is a log id, a size, a root and a time, signed by the log's
Ed25519 key under the ``AUDIT_CHECKPOINT`` label. Proofs do not commit to
a tree size on their own (a proof for one size can check against the same
root at another), so verifiers take sizes and roots from one checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from underseal import domains
from underseal.encoding import (
    MAX_UINT,
    b64d,
    b64e,
    canonical_json,
    check_identifier,
    check_uint,
    parse_canonical_json,
)
from underseal.errors import InvalidProof, InvalidSignature, Malformed

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "Checkpoint",
    "Frontier",
    "SignedCheckpoint",
    "consistency_proof",
    "entry_leaf",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
#: Root of the tree with no leaves (RFC 6962 §2.1: the hash of the empty string).
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
SIGNATURE_SIZE: Final = 64


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 ‖ data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 inner node hash: ``SHA-256(0x01 ‖ left ‖ right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def entry_leaf(entry: Mapping[str, object]) -> bytes:
    """Leaf hash of an audit entry: ``leaf_hash(AUDIT_ENTRY ‖ canonical_json(entry))``.

    Raises:
        Malformed: the entry is not a mapping or has no canonical encoding.
    """
    if not isinstance(entry, Mapping):
        raise Malformed("audit entry must be a JSON object")
    return leaf_hash(domains.AUDIT_ENTRY + canonical_json(entry))


def _split(n: int) -> int:
    # The largest power of two strictly below n (n >= 2): RFC 6962's k.
    return 1 << ((n - 1).bit_length() - 1)


def _check_leaves(leaves: Sequence[bytes]) -> None:
    for leaf in leaves:
        if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
            raise Malformed(f"leaf hashes must be {HASH_SIZE} bytes")


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    # MTH(D[lo:hi]) for hi > lo, by index so that no slice is copied.
    if hi - lo == 1:
        return leaves[lo]
    k = lo + _split(hi - lo)
    return node_hash(_mth(leaves, lo, k), _mth(leaves, k, hi))


def root(leaves: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash (RFC 6962 §2.1) of ``leaves``, which are leaf *hashes*; O(n).

    Raises:
        Malformed: a leaf hash that is not 32 bytes.
    """
    _check_leaves(leaves)
    return _mth(leaves, 0, len(leaves)) if leaves else EMPTY_ROOT


def _path(leaves: Sequence[bytes], m: int, lo: int, hi: int) -> list[bytes]:
    # PATH(m, D[lo:hi]) of RFC 6962 §2.1.1, leaf side first.
    if hi - lo == 1:
        return []
    k = lo + _split(hi - lo)
    if m < k:
        return [*_path(leaves, m, lo, k), _mth(leaves, k, hi)]
    return [*_path(leaves, m, k, hi), _mth(leaves, lo, k)]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path (RFC 6962 §2.1.1) of leaf ``index`` in the tree of ``leaves``; O(n).

    Raises:
        Malformed: ``index`` not below the tree size, or a bad leaf hash.
    """
    _check_leaves(leaves)
    if type(index) is not int or not 0 <= index < len(leaves):
        raise Malformed("leaf index must be below the tree size")
    return _path(leaves, index, 0, len(leaves))


def _subproof(leaves: Sequence[bytes], m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    # SUBPROOF(m, D[lo:hi], b) of RFC 6962 §2.1.2, with m counted from lo.
    if m == hi - lo:
        return [] if whole else [_mth(leaves, lo, hi)]
    k = _split(hi - lo)
    if m <= k:
        return [*_subproof(leaves, m, lo, lo + k, whole), _mth(leaves, lo + k, hi)]
    return [*_subproof(leaves, m - k, lo + k, hi, False), _mth(leaves, lo, lo + k)]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """Proof (RFC 6962 §2.1.2) that the first ``old_size`` leaves are a prefix; O(n).

    The proof is empty when ``old_size`` is 0 or the whole tree.

    Raises:
        Malformed: ``old_size`` larger than the tree, or a bad leaf hash.
    """
    _check_leaves(leaves)
    if type(old_size) is not int or not 0 <= old_size <= len(leaves):
        raise Malformed("old size must be at most the tree size")
    if old_size in (0, len(leaves)):
        return []
    return _subproof(leaves, old_size, 0, len(leaves), True)


def _check_size(value: object, what: str) -> None:
    if type(value) is not int or not 0 <= value <= MAX_UINT:
        raise InvalidProof(f"{what} must be a non-negative integer")


def _check_hashes(*hashes: object) -> None:
    for h in hashes:
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise InvalidProof(f"proof, leaf and root hashes must be {HASH_SIZE} bytes")


def _lsb(n: int) -> bool:
    return bool(n & 1)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the size-``size`` tree ``root``.

    Requires ``0 <= index < size``; the algorithm is RFC 9162 §2.1.3.2.

    Raises:
        InvalidProof: a bad argument (index not below size, a hash that is
            not 32 bytes, a proof of the wrong length) or a root mismatch.
    """
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
    if index >= size:
        raise InvalidProof("leaf index must be below the tree size")
    _check_hashes(leaf, root, *proof)
    # 1-3. fn is the node's index, sn the last index, at the current level.
    fn, sn, r = index, size - 1, leaf
    # 4. Climb one level per proof hash.
    for p in proof:
        if sn == 0:
            raise InvalidProof("inclusion proof is too long for the tree size")
        if _lsb(fn) or fn == sn:
            r = node_hash(p, r)
            # A last node with no sibling moves up unchanged until it has one.
            while not _lsb(fn) and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    # 5. The proof must reach the top and land on the root.
    if sn != 0:
        raise InvalidProof("inclusion proof is too short for the tree size")
    if not hmac.compare_digest(r, root):
        raise InvalidProof("inclusion proof does not lead to the expected root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the size-``old_size`` tree ``old_root`` is a prefix of ``new_root``.

    Requires ``0 <= old_size <= new_size``; the algorithm is RFC 9162 §2.1.4.2.
    The RFC defines proofs for ``0 < old_size < new_size`` only; at the edges
    the proof must be empty, with ``old_root == new_root`` when the sizes are
    equal and ``old_root`` the empty root when ``old_size`` is 0 (the one root
    a tree of no leaves can have).

    Raises:
        InvalidProof: a bad argument (sizes out of order, a hash that is not
            32 bytes, a proof of the wrong length) or a root mismatch.
    """
    _check_size(old_size, "old size")
    _check_size(new_size, "new size")
    if old_size > new_size:
        raise InvalidProof("old size must be at most the new size")
    _check_hashes(old_root, new_root, *proof)
    if old_size in (0, new_size):
        if proof:
            raise InvalidProof("consistency proof must be empty for these sizes")
        same = old_size != new_size or hmac.compare_digest(old_root, new_root)
        if not (same and (old_size != 0 or hmac.compare_digest(old_root, EMPTY_ROOT))):
            raise InvalidProof("old root does not match the new tree")
        return
    # 1. A proof between distinct non-empty trees is never empty.
    if not proof:
        raise InvalidProof("consistency proof is empty")
    # 2. When the old tree is a complete subtree the proof leaves its root out.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3-4. Start at the old tree's last node, above the levels where it is a right child.
    fn, sn = old_size - 1, new_size - 1
    while _lsb(fn):
        fn, sn = fn >> 1, sn >> 1
    # 5-6. Rebuild both roots at once, one level per proof hash.
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("consistency proof is too long for the tree sizes")
        if _lsb(fn) or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not _lsb(fn) and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    # 7. Both roots must match and the proof must reach the top.
    if sn != 0:
        raise InvalidProof("consistency proof is too short for the tree sizes")
    old_ok = hmac.compare_digest(fr, old_root)
    if not (hmac.compare_digest(sr, new_root) and old_ok):
        raise InvalidProof("consistency proof does not lead to the expected roots")


class Frontier:
    """The right edge of a log's tree: the roots of its complete subtrees, largest first.

    A server appends leaf hashes one at a time and keeps only this (at most
    53 hashes), never the whole tree, and still gets the root of every size.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._nodes: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash at the end of the log; O(log n).

        Raises:
            Malformed: not a 32-byte hash, or the log is full (``MAX_UINT`` leaves).
        """
        if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
            raise Malformed(f"leaf hashes must be {HASH_SIZE} bytes")
        if self._size >= MAX_UINT:
            raise Malformed("the log is full")
        # Each trailing one bit of the old size is a complete subtree of the
        # same height as the new node: merge them, as a binary counter carries.
        node, carry = leaf, self._size
        while carry & 1:
            node = node_hash(self._nodes.pop(), node)
            carry >>= 1
        self._nodes.append(node)
        self._size += 1

    def root(self) -> bytes:
        """Merkle Tree Hash of every leaf appended so far; O(log n)."""
        if not self._nodes:
            return EMPTY_ROOT
        r = self._nodes[-1]
        for node in reversed(self._nodes[:-1]):
            r = node_hash(node, r)
        return r

    def __repr__(self) -> str:
        return f"Frontier(size={self._size})"

    def to_bytes(self) -> bytes:
        """Canonical encoding: ``{"nodes": [base64url, ...], "size": n}``."""
        return canonical_json({"size": self._size, "nodes": [b64e(n) for n in self._nodes]})

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        """Parse the canonical encoding.

        Raises:
            Malformed: not canonical, or not one 32-byte hash per one bit of the size.
        """
        fields = parse_canonical_json(data, what="frontier")
        if set(fields) != {"size", "nodes"}:
            raise Malformed("frontier must have exactly size and nodes")
        size = check_uint(fields["size"], field="frontier size")
        nodes = fields["nodes"]
        if not isinstance(nodes, list) or len(nodes) != size.bit_count():
            raise Malformed("frontier needs one node per one bit of its size")
        frontier = cls()
        frontier._size = size
        frontier._nodes = [b64d(n, size=HASH_SIZE, field="frontier node") for n in nodes]
        return frontier


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's state at one time: its id, size and root, as the log signs it."""

    log_id: str
    size: int
    root: bytes
    timestamp: int

    def __post_init__(self) -> None:
        check_identifier(self.log_id, field="log_id")
        check_uint(self.size, field="size")
        check_uint(self.timestamp, field="timestamp")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise Malformed(f"root must be {HASH_SIZE} bytes")

    def _fields(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "size": self.size,
            "root": b64e(self.root),
            "timestamp": self.timestamp,
        }

    def body(self) -> bytes:
        """The canonical bytes the log signs (after the label)."""
        return canonical_json(self._fields())


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint with the log's signature over ``AUDIT_CHECKPOINT ‖ body``."""

    checkpoint: Checkpoint
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            raise Malformed(f"signature must be {SIGNATURE_SIZE} bytes")

    def to_bytes(self) -> bytes:
        """Canonical wire encoding."""
        return canonical_json(
            {"checkpoint": self.checkpoint._fields(), "signature": b64e(self.signature)}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedCheckpoint:
        """Parse the wire encoding (call :func:`verify_checkpoint` to trust it).

        Raises:
            Malformed: not a canonical, well-formed signed checkpoint.
        """
        fields = parse_canonical_json(data, what="checkpoint")
        if set(fields) != {"checkpoint", "signature"}:
            raise Malformed("signed checkpoint must have exactly checkpoint and signature")
        body = fields["checkpoint"]
        if not isinstance(body, dict) or set(body) != {"log_id", "size", "root", "timestamp"}:
            raise Malformed("checkpoint must have exactly log_id, size, root and timestamp")
        signed = cls(
            Checkpoint(
                log_id=body["log_id"],
                size=body["size"],
                root=b64d(body["root"], size=HASH_SIZE, field="root"),
                timestamp=body["timestamp"],
            ),
            b64d(fields["signature"], size=SIGNATURE_SIZE, field="signature"),
        )
        # One checkpoint, one encoding: no second spelling verifies under its signature.
        if signed.to_bytes() != data:
            raise Malformed("checkpoint is not in canonical form")
        return signed


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey) -> SignedCheckpoint:
    """Log side: sign the checkpoint's label and canonical body."""
    signature = key.sign(domains.AUDIT_CHECKPOINT + checkpoint.body()).signature
    return SignedCheckpoint(checkpoint, signature)


def verify_checkpoint(data: bytes, key: VerifyKey) -> Checkpoint:
    """Parse and verify a signed checkpoint under the log's key.

    Raises:
        Malformed: not a canonical, well-formed signed checkpoint.
        InvalidSignature: the signature does not verify under ``key``.
    """
    # 1. Parse strictly; 2. verify the signature over label ‖ body.
    signed = SignedCheckpoint.from_bytes(data)
    try:
        key.verify(domains.AUDIT_CHECKPOINT + signed.checkpoint.body(), signed.signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise InvalidSignature("checkpoint signature does not verify under the log's key") from None
    return signed.checkpoint
