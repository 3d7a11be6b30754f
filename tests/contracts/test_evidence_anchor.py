"""EvidenceAnchor: the anchoring role commits batch Merkle roots; anyone reads when a root was anchored."""

from __future__ import annotations

import hashlib

import pytest

from tests.contracts.support import (
    ZERO32,
    as_bytes,
    block_timestamp,
    interface_id,
    reverts,
    role_hash,
    unique_bytes32,
)

BATCH_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def merkle_root(leaves: list[bytes]) -> bytes:
    """A plain SHA-256 Merkle root (duplicate the last node on odd levels): a realistic 32-byte root."""
    level = [hashlib.sha256(leaf).digest() for leaf in leaves]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def test_anchor_role_constant(evidence_anchor):
    assert as_bytes(evidence_anchor.ANCHOR_ROLE()) == role_hash("ANCHOR_ROLE")


def test_anchorer_anchors_a_batch(chain, evidence_anchor, anchorer, event_args):
    root = merkle_root([b"evidence record %d" % i for i in range(5)])
    assert evidence_anchor.anchoredAt(root) == 0

    receipt = evidence_anchor.anchor(root, 5, BATCH_CID, sender=anchorer)

    now = block_timestamp(chain, receipt)
    assert evidence_anchor.anchoredAt(root) == now
    assert event_args(receipt, evidence_anchor.EvidenceAnchored) == [{
        "root": root, "count": 5, "batchCid": BATCH_CID, "anchorer": anchorer.address, "timestamp": now,
    }]


def test_roots_are_independent(evidence_anchor, anchorer):
    first, second = unique_bytes32("root"), unique_bytes32("root")
    evidence_anchor.anchor(first, 1, BATCH_CID, sender=anchorer)
    assert evidence_anchor.anchoredAt(first) != 0
    assert evidence_anchor.anchoredAt(second) == 0


def test_largest_count_is_accepted(evidence_anchor, anchorer, event_args):
    root = unique_bytes32("root")
    receipt = evidence_anchor.anchor(root, 2**32 - 1, BATCH_CID, sender=anchorer)
    assert event_args(receipt, evidence_anchor.EvidenceAnchored)[0]["count"] == 2**32 - 1


def test_a_root_is_anchored_once(chain, evidence_anchor, anchorer):
    root = unique_bytes32("root")
    first = evidence_anchor.anchor(root, 3, BATCH_CID, sender=anchorer)
    anchored_at = block_timestamp(chain, first)
    chain.pending_timestamp = anchored_at + 3600
    # A later anchoring would move the proven time forward: refused, and the first time stands.
    with reverts(evidence_anchor.EvidenceAnchorAlreadyAnchored, root=root, anchoredAt=anchored_at):
        evidence_anchor.anchor(root, 3, BATCH_CID, sender=anchorer)
    assert evidence_anchor.anchoredAt(root) == anchored_at


@pytest.mark.parametrize(
    ("root", "count", "cid"),
    [(ZERO32, 1, BATCH_CID), (b"\x01" * 32, 0, BATCH_CID), (b"\x01" * 32, 1, "")],
    ids=["zero root", "no records", "no cid"],
)
def test_invalid_batch_is_refused(evidence_anchor, anchorer, root, count, cid):
    with reverts(evidence_anchor.EvidenceAnchorInvalidBatch):
        evidence_anchor.anchor(root, count, cid, sender=anchorer)
    assert evidence_anchor.anchoredAt(root) == 0


@pytest.mark.parametrize("who", ["admin", "verifier", "stranger"])
def test_only_the_anchor_role_anchors(request, evidence_anchor, who):
    account = request.getfixturevalue(who)
    root = unique_bytes32("root")
    with reverts(evidence_anchor.AccessControlUnauthorizedAccount, account=account,
                 neededRole=role_hash("ANCHOR_ROLE")):
        evidence_anchor.anchor(root, 1, BATCH_CID, sender=account)
    assert evidence_anchor.anchoredAt(root) == 0


def test_supports_erc165_and_access_control(evidence_anchor):
    assert evidence_anchor.supportsInterface(interface_id("supportsInterface(bytes4)")) is True
    assert evidence_anchor.supportsInterface(bytes.fromhex("7965db0b")) is True
    assert evidence_anchor.supportsInterface(bytes.fromhex("ffffffff")) is False
