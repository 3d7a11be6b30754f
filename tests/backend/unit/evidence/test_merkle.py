"""The batch Merkle tree: domain-separated leaves and nodes, odd nodes passed up, inclusion proofs."""

from __future__ import annotations

import hashlib

import pytest

from tracemark.evidence.merkle import inclusion_proof, leaf_hash, merkle_root, node_hash, root_from_proof


def h(i: int) -> bytes:
    return hashlib.sha256(f"entry {i}".encode()).digest()


def test_small_trees_by_hand() -> None:
    a, b, c = h(1), h(2), h(3)
    assert leaf_hash(a) == hashlib.sha256(b"\x00" + a).digest()
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert merkle_root([a]) == leaf_hash(a)
    assert merkle_root([a, b]) == node_hash(leaf_hash(a), leaf_hash(b))
    # An odd node passes up unchanged: it is not paired with a copy of itself.
    assert merkle_root([a, b, c]) == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])


def test_domain_separation_keeps_leaves_and_nodes_apart() -> None:
    a, b = h(1), h(2)
    inner = node_hash(leaf_hash(a), leaf_hash(b))
    # A "leaf" whose entry hash equals an inner node does not give the same root as the two leaves.
    assert merkle_root([inner]) != merkle_root([a, b])


def test_order_and_every_leaf_matter() -> None:
    leaves = [h(i) for i in range(9)]
    root = merkle_root(leaves)
    assert merkle_root(leaves[::-1]) != root
    for i in range(len(leaves)):
        changed = list(leaves)
        changed[i] = h(100 + i)
        assert merkle_root(changed) != root


@pytest.mark.parametrize("size", range(1, 18))
def test_inclusion_proofs(size: int) -> None:
    leaves = [h(i) for i in range(size)]
    root = merkle_root(leaves)
    for index in range(size):
        proof = inclusion_proof(leaves, index)
        assert root_from_proof(leaves[index], proof) == root
        assert root_from_proof(h(999), proof) != root
    with pytest.raises(IndexError):
        inclusion_proof(leaves, size)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one"):
        merkle_root([])
    with pytest.raises(ValueError, match="32 bytes"):
        leaf_hash(b"short")
