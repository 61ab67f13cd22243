from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import NOW, flip
from tests.vectors import keys
from underseal import domains
from underseal.encoding import MAX_UINT, b64e
from underseal.errors import InvalidProof, InvalidSignature, Malformed
from underseal.merkle import (
    EMPTY_ROOT,
    Checkpoint,
    Frontier,
    SignedCheckpoint,
    consistency_proof,
    entry_leaf,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    sign_checkpoint,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)

# Known answers from transparency-dev/merkle (the Go reference, formerly in
# certificate-transparency-go): leaves from testonly/constants.go LeafInputs(),
# roots from RootHashes(), frontiers from CompactTrees() over NodeHashes(),
# proofs from proof/verify_test.go (whose leaf numbers are 1-based; these are 0-based).
LEAF_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
NODES = [[bytes.fromhex(h) for h in level] for level in (
    ("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",),
)]  # fmt: skip
#: CompactTrees(): the complete-subtree roots of each prefix, largest first, as (level, index).
FRONTIERS = [[], [(0, 0)], [(1, 0)], [(1, 0), (0, 2)], [(2, 0)], [(2, 0), (0, 4)],
             [(2, 0), (1, 2)], [(2, 0), (1, 2), (0, 6)], [(3, 0)]]  # fmt: skip
#: (index, size, proof as (level, index) into NODES).
INCLUSION = [
    (0, 1, []),
    (0, 8, [(0, 1), (1, 1), (2, 1)]),
    (5, 8, [(0, 4), (1, 3), (2, 0)]),
    (2, 3, [(1, 0)]),
    (1, 5, [(0, 0), (1, 1), (0, 4)]),
]
#: (old size, new size, proof as (level, index) into NODES).
CONSISTENCY = [
    (1, 1, []),
    (1, 8, [(0, 1), (1, 1), (2, 1)]),
    (6, 8, [(1, 2), (1, 3), (2, 0)]),
    (2, 5, [(1, 1), (0, 4)]),
    (6, 7, [(1, 2), (0, 6), (2, 0)]),
]
LEAVES = [leaf_hash(d) for d in LEAF_INPUTS]

LOG_KEY = keys.signing("audit log")


def hashes(refs: list[tuple[int, int]]) -> list[bytes]:
    return [NODES[level][index] for level, index in refs]


def tree(size: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]


sizes = st.integers(1, 64)
leaf_lists = st.lists(st.binary(min_size=32, max_size=32), max_size=64)


def test_known_roots_and_nodes() -> None:
    assert [leaf_hash(d) for d in LEAF_INPUTS] == NODES[0]
    assert node_hash(NODES[0][0], NODES[0][1]) == NODES[1][0]
    assert [root(LEAVES[:n]) for n in range(9)] == ROOTS
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == ROOTS[0]


def test_known_frontiers() -> None:
    frontier = Frontier()
    for n in range(9):
        nodes = json.loads(frontier.to_bytes())["nodes"]
        assert nodes == [b64e(h) for h in hashes(FRONTIERS[n])]
        assert frontier.root() == ROOTS[n]
        if n < 8:
            frontier.append(LEAVES[n])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_known_inclusion_proofs(index: int, size: int, proof: list[tuple[int, int]]) -> None:
    assert inclusion_proof(LEAVES[:size], index) == hashes(proof)
    verify_inclusion(LEAVES[index], index, size, hashes(proof), ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_known_consistency_proofs(old: int, new: int, proof: list[tuple[int, int]]) -> None:
    assert consistency_proof(LEAVES[:new], old) == hashes(proof)
    verify_consistency(old, new, ROOTS[old], ROOTS[new], hashes(proof))


def test_every_inclusion_proof_verifies() -> None:
    leaves = tree(64)
    for size in range(1, 65):
        top = root(leaves[:size])
        for index in range(size):
            verify_inclusion(leaves[index], index, size, inclusion_proof(leaves[:size], index), top)


def test_every_consistency_proof_verifies() -> None:
    leaves = tree(64)
    roots = [root(leaves[:n]) for n in range(65)]
    for new in range(65):
        for old in range(new + 1):
            verify_consistency(
                old, new, roots[old], roots[new], consistency_proof(leaves[:new], old)
            )


@given(leaf_lists.filter(bool), st.data())
def test_inclusion_of_any_leaves(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    verify_inclusion(
        leaves[index], index, len(leaves), inclusion_proof(leaves, index), root(leaves)
    )


@given(sizes, st.data())
def test_tampered_inclusion_is_refused(size: int, data: st.DataObject) -> None:
    leaves = tree(size)
    index = data.draw(st.integers(0, size - 1))
    leaf, proof, top = leaves[index], inclusion_proof(leaves, index), root(leaves)
    what = data.draw(st.sampled_from(["leaf", "root", "proof", "index", "size", "extra", "cut"]))
    if what == "proof" and not proof:
        what = "extra"
    if what == "cut" and not proof:
        what = "leaf"
    if what == "leaf":
        leaf = flip(leaf, data.draw(st.integers(0, 255)))
    elif what == "root":
        top = flip(top, data.draw(st.integers(0, 255)))
    elif what == "proof":
        i = data.draw(st.integers(0, len(proof) - 1))
        proof[i] = flip(proof[i], data.draw(st.integers(0, 255)))
    elif what == "index":
        index = data.draw(st.integers(0, 2 * size).filter(lambda i: i != index))
    elif what == "size":
        # Height changes: a proof does not bind the size by itself (see merkle's
        # docstring), only through the root, so e.g. 3 -> 4 may still verify.
        size = data.draw(st.sampled_from([size * 2, size // 2]))
    elif what == "extra":
        proof.insert(data.draw(st.integers(0, len(proof))), top)
    else:
        del proof[data.draw(st.integers(0, len(proof) - 1))]
    with pytest.raises(InvalidProof):
        verify_inclusion(leaf, index, size, proof, top)


@given(st.integers(0, 64), st.data())
def test_tampered_consistency_is_refused(new: int, data: st.DataObject) -> None:
    leaves = tree(new)
    old = data.draw(st.integers(0, new))
    proof = consistency_proof(leaves, old)
    old_root, new_root = root(leaves[:old]), root(leaves)
    # The empty tree is a prefix of every tree, whatever its size and root.
    choices = ["old_root", "old", "extra", *(["new_root", "new"] if old else [])]
    what = data.draw(st.sampled_from([*choices, "proof", "cut"] if proof else choices))
    if what == "old_root":
        old_root = flip(old_root, data.draw(st.integers(0, 255)))
    elif what == "new_root":
        new_root = flip(new_root, data.draw(st.integers(0, 255)))
    elif what == "old":
        old = data.draw(st.integers(0, new + 1).filter(lambda m: m != old))
    elif what == "new":
        # Height changes only, as for inclusion: the roots bind the sizes.
        new = data.draw(st.sampled_from([new * 2, new // 2]))
    elif what == "extra":
        proof.insert(data.draw(st.integers(0, len(proof))), new_root)
    elif what == "proof":
        i = data.draw(st.integers(0, len(proof) - 1))
        proof[i] = flip(proof[i], data.draw(st.integers(0, 255)))
    else:
        del proof[data.draw(st.integers(0, len(proof) - 1))]
    with pytest.raises(InvalidProof):
        verify_consistency(old, new, old_root, new_root, proof)


def test_bad_proof_arguments_are_refused() -> None:
    leaf, top = LEAVES[0], ROOTS[1]
    for index, size in ((0, 0), (1, 1), (-1, 1), (True, 2), (0, MAX_UINT + 1)):
        with pytest.raises(InvalidProof):
            verify_inclusion(leaf, index, size, [], top)
    with pytest.raises(InvalidProof, match="32 bytes"):
        verify_inclusion(leaf[:31], 0, 1, [], top)
    with pytest.raises(InvalidProof, match="32 bytes"):
        verify_inclusion(LEAVES[0], 0, 2, [LEAVES[1] + b"\x00"], ROOTS[2])
    proof = inclusion_proof(LEAVES, 5)
    with pytest.raises(InvalidProof, match="too long"):
        verify_inclusion(LEAVES[5], 5, 8, [*proof, ROOTS[8]], ROOTS[8])
    with pytest.raises(InvalidProof, match="too short"):
        verify_inclusion(LEAVES[5], 5, 8, proof[:-1], ROOTS[8])
    with pytest.raises(InvalidProof, match="at most"):
        verify_consistency(2, 1, ROOTS[2], ROOTS[1], [])
    with pytest.raises(InvalidProof, match="32 bytes"):
        verify_consistency(1, 2, ROOTS[1], ROOTS[2], [b"short"])
    with pytest.raises(Malformed):
        inclusion_proof(LEAVES, 8)
    with pytest.raises(Malformed):
        consistency_proof(LEAVES, 9)
    with pytest.raises(Malformed):
        root([b"short"])


def test_consistency_edges() -> None:
    # Empty proofs at the edges, and the roots must still be the right ones.
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    for old, new, old_root, new_root in (
        (0, 0, EMPTY_ROOT, ROOTS[1]),
        (0, 5, ROOTS[1], ROOTS[5]),
        (5, 5, ROOTS[4], ROOTS[5]),
    ):
        with pytest.raises(InvalidProof):
            verify_consistency(old, new, old_root, new_root, [])
    with pytest.raises(InvalidProof, match="empty"):
        verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])
    with pytest.raises(InvalidProof, match="empty"):
        verify_consistency(1, 2, ROOTS[1], ROOTS[2], [])


@given(leaf_lists)
def test_frontier_matches_root_for_every_prefix(leaves: list[bytes]) -> None:
    frontier = Frontier()
    assert frontier.root() == root([])
    for n, leaf in enumerate(leaves, 1):
        frontier.append(leaf)
        assert frontier.size == n
        assert frontier.root() == root(leaves[:n])
        restored = Frontier.from_bytes(frontier.to_bytes())
        assert restored.to_bytes() == frontier.to_bytes()
        assert restored.size == n
        assert restored.root() == frontier.root()


@given(leaf_lists, leaf_lists)
def test_a_restored_frontier_keeps_appending(first: list[bytes], then: list[bytes]) -> None:
    frontier = Frontier()
    for leaf in first:
        frontier.append(leaf)
    restored = Frontier.from_bytes(frontier.to_bytes())
    for leaf in then:
        restored.append(leaf)
    assert restored.root() == root(first + then)


def test_malformed_frontiers() -> None:
    frontier = Frontier()
    for leaf in LEAVES[:7]:
        frontier.append(leaf)
    good = frontier.to_bytes()
    nodes = [b64e(h) for h in hashes(FRONTIERS[7])]
    for bad in (
        good[:-1],
        good.replace(b'"size":7', b'"size":6'),
        good.replace(b'"size":7', b'"size":true'),
        good.replace(b"{", b"{ ", 1),
        json.dumps({"nodes": nodes[:2], "size": 7}, separators=(",", ":")).encode(),
        json.dumps({"nodes": [*nodes[:2], nodes[2][:-1]], "size": 7},
                   separators=(",", ":")).encode(),
        json.dumps({"nodes": nodes, "size": 7, "x": 1}, separators=(",", ":")).encode(),
        b'{"nodes":[],"size":-1}',
        b"[]",
    ):  # fmt: skip
        with pytest.raises(Malformed):
            Frontier.from_bytes(bad)
    with pytest.raises(Malformed, match="32 bytes"):
        frontier.append(b"short")


def test_entry_leaves_carry_the_audit_label() -> None:
    entry = {"action": "open", "record": "r-1", "at": NOW}
    body = b'{"action":"open","at":%d,"record":"r-1"}' % NOW
    label = b"underseal/audit-entry/v1\x00"
    assert label == domains.AUDIT_ENTRY
    assert entry_leaf(entry) == hashlib.sha256(b"\x00" + label + body).digest()
    # The same JSON as a bare leaf is a different leaf.
    assert entry_leaf(entry) != leaf_hash(body)
    with pytest.raises(Malformed):
        entry_leaf({"ratio": 0.5})
    with pytest.raises(Malformed):
        entry_leaf(["not", "an", "object"])  # type: ignore[arg-type]


def test_labels_are_distinct() -> None:
    labels = [getattr(domains, name) for name in domains.__all__]
    assert len(set(labels)) == len(labels)
    assert domains.AUDIT_CHECKPOINT in labels
    assert domains.AUDIT_ENTRY in labels


def checkpoint(**changes: object) -> Checkpoint:
    fields: dict[str, object] = {"log_id": "audit-1", "size": 8, "root": ROOTS[8],
                                 "timestamp": NOW}  # fmt: skip
    fields.update(changes)
    return Checkpoint(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def signed() -> bytes:
    return sign_checkpoint(checkpoint(), LOG_KEY).to_bytes()


@given(
    st.integers(0, MAX_UINT),
    st.binary(min_size=32, max_size=32),
    st.integers(0, MAX_UINT),
)
def test_checkpoint_round_trip(size: int, top: bytes, timestamp: int) -> None:
    cp = checkpoint(size=size, root=top, timestamp=timestamp)
    data = sign_checkpoint(cp, LOG_KEY).to_bytes()
    assert verify_checkpoint(data, LOG_KEY.verify_key) == cp
    assert SignedCheckpoint.from_bytes(data).to_bytes() == data


def test_checkpoint_encoding(signed: bytes) -> None:
    body = b'{"log_id":"audit-1","root":"%s","size":8,"timestamp":%d}' % (
        b64e(ROOTS[8]).encode(),
        NOW,
    )
    assert checkpoint().body() == body
    sig = LOG_KEY.sign(b"underseal/audit-checkpoint-signature/v1\x00" + body).signature
    assert signed == b'{"checkpoint":%s,"signature":"%s"}' % (body, b64e(sig).encode())


@given(st.data())
def test_any_single_bit_flip_is_refused(signed: bytes, data: st.DataObject) -> None:
    bit = data.draw(st.integers(0, len(signed) * 8 - 1))
    with pytest.raises((Malformed, InvalidSignature)):
        verify_checkpoint(flip(signed, bit), LOG_KEY.verify_key)


def test_wrong_key_or_label_is_refused(signed: bytes) -> None:
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify_checkpoint(signed, keys.signing("another log").verify_key)
    # A signature over the bare body (or under another label) is not a checkpoint's.
    for prefix in (b"", domains.WARRANT_SIGNATURE):
        sig = LOG_KEY.sign(prefix + checkpoint().body()).signature
        forged = SignedCheckpoint(checkpoint(), sig).to_bytes()
        with pytest.raises(InvalidSignature):
            verify_checkpoint(forged, LOG_KEY.verify_key)


def test_non_canonical_checkpoints_are_malformed(signed: bytes) -> None:
    fields = json.loads(signed)
    sig = fields["signature"]
    spellings = [
        signed.replace(b":", b": ", 1),
        signed + b"\n",
        b'{"signature":"%s","checkpoint":%s}' % (sig.encode(), checkpoint().body()),
        signed.replace(sig.encode(), sig.encode() + b"=="),
        signed.replace(b'"size":8', b'"size":8.0'),
        signed.replace(b'"size":8', b'"size":true'),
        signed.replace(b'"size":8', b'"size":-8'),
        signed.replace(b'"size":8', b'"size":%d' % (MAX_UINT + 1)),
        signed.replace(b'"log_id":"audit-1"', b'"log_id":"audit 1"'),
        signed.replace(b'"size":8,', b""),
        signed.replace(b'"size":8,', b'"size":8,"size":8,'),
        signed.replace(b'"timestamp"', b'"extra":1,"timestamp"'),
        signed.replace(b'"log_id"', b'"Log_id"'),
        signed.replace(b"}", b',"x":1}', 1),
        signed.replace(sig.encode(), sig[:-2].encode()),
    ]
    for bad in spellings:
        assert bad != signed
        with pytest.raises(Malformed):
            verify_checkpoint(bad, LOG_KEY.verify_key)


@pytest.mark.parametrize(
    "changes",
    [{"log_id": "has space"}, {"size": -1}, {"size": True}, {"timestamp": MAX_UINT + 1},
     {"root": b"\x00" * 31}, {"root": "not bytes"}],
)  # fmt: skip
def test_bad_checkpoints_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(Malformed):
        checkpoint(**changes)
