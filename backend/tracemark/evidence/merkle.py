"""The Merkle tree over a batch of evidence records, whose root `EvidenceAnchor` commits on-chain.

Hashing (SHA-256, with domain separation as in RFC 6962, Certificate Transparency):

    leaf(entry)       = SHA-256(0x00 || entry_hash)            entry_hash: the 32-byte hash of a journal entry
    node(left, right) = SHA-256(0x01 || left || right)

The prefixes keep a leaf from ever being read as an inner node (and the reverse), so no second set of leaves gives
the same root. A level with an odd number of nodes passes its last node up unchanged (it is never paired with a copy
of itself, which would let two different leaf lists share a root). One leaf: the root is that leaf's hash.

An inclusion proof lists, from the leaf up, the sibling hashes and on which side each stands; anyone can recompute
the root from a journal entry and its proof, and compare it with the root anchored on-chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(entry_hash: bytes) -> bytes:
    """The leaf of a journal entry (its 32-byte hash)."""
    if len(entry_hash) != 32:
        raise ValueError(f"an entry hash has 32 bytes, not {len(entry_hash)}")
    return hashlib.sha256(LEAF_PREFIX + entry_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An inner node from its two children."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def merkle_root(entry_hashes: Sequence[bytes]) -> bytes:
    """The root over the entries' hashes, in order.

    Raises:
        ValueError: for an empty batch (a batch has at least one record).
    """
    if not entry_hashes:
        raise ValueError("a batch has at least one record")
    level = [leaf_hash(h) for h in entry_hashes]
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


@dataclass(frozen=True)
class ProofStep:
    """A sibling on the path from a leaf to the root; `left` when it stands to the left of the path."""

    sibling: bytes
    left: bool


def inclusion_proof(entry_hashes: Sequence[bytes], index: int) -> list[ProofStep]:
    """The path that proves entry `index` is in the batch.

    Raises:
        IndexError: when `index` is not an entry of the batch.
    """
    if not 0 <= index < len(entry_hashes):
        raise IndexError(f"entry {index} is not in a batch of {len(entry_hashes)}")
    level = [leaf_hash(h) for h in entry_hashes]
    steps: list[ProofStep] = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            steps.append(ProofStep(level[sibling], left=sibling < index))
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level, index = paired, index // 2
    return steps


def root_from_proof(entry_hash: bytes, steps: Sequence[ProofStep]) -> bytes:
    """The root an entry and its inclusion proof lead to."""
    current = leaf_hash(entry_hash)
    for step in steps:
        current = node_hash(step.sibling, current) if step.left else node_hash(current, step.sibling)
    return current
