"""Proof that one archived record existed when its batch was anchored, checkable by anyone without Tracemark.

The proof carries the record's journal entry (its canonical JSON), the inclusion path from the entry's leaf to the
batch root, and the anchor (chain, contract, transaction, block, timestamp). To check it: hash the record's stored
bytes (they must equal `record_sha256` in the entry), hash the entry (`tracemark.evidence.journal.entry_hash`),
follow the path to the root (`tracemark.evidence.merkle.root_from_proof`), and ask the contract
`anchoredAt(root)`, which must be the anchor's timestamp.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracemark.evidence.journal import JOURNAL_NAME, canonical, entry_hash, read_lines
from tracemark.evidence.merkle import ProofStep, inclusion_proof, root_from_proof


class NoProofError(LookupError):
    """The record is unknown, not sealed in a batch yet, or its batch is not anchored."""


@dataclass(frozen=True)
class EvidenceProof:
    """An inclusion proof of one record in an anchored batch."""

    entry: dict[str, Any]
    path: list[ProofStep]
    batch: dict[str, Any]
    anchor: dict[str, Any] | None

    def root(self) -> bytes:
        """The root the entry and the path lead to."""
        return root_from_proof(bytes.fromhex(entry_hash(self.entry)), self.path)

    def holds(self) -> bool:
        """Whether the entry and the path lead to the batch root (and the anchor names that root)."""
        root = self.root().hex()
        return root == self.batch["root"] and (self.anchor is None or self.anchor["root"] == root)

    def as_dict(self) -> dict[str, Any]:
        """The proof as JSON-ready data."""
        return {
            "entry": self.entry, "entry_canonical": canonical(self.entry).decode(),
            "entry_hash": entry_hash(self.entry),
            "path": [{"sibling": step.sibling.hex(), "side": "left" if step.left else "right"} for step in self.path],
            "batch": {k: self.batch[k] for k in ("seq", "root", "cid", "count", "first_seq", "last_seq")},
            "anchor": self.anchor,
            "hashing": "entry_hash = sha256('tracemark/evidence/entry/v1\\n' || canonical entry without hash); "
                       "leaf = sha256(0x00 || entry_hash); node = sha256(0x01 || left || right)",
        }


def prove(directory: Path, record_id: str) -> EvidenceProof:
    """The proof of the record `record_id` (a `WARC-Record-ID`) of an evidence folder.

    Raises:
        NoProofError: when the record is unknown, its batch is not sealed yet, or (`anchor` is then None) when
            it is sealed but not anchored: the proof is returned only for anchored batches.
    """
    entries = [json.loads(line) for _, line in read_lines(directory / JOURNAL_NAME)]
    target = next((e for e in entries if e.get("kind") == "record" and e.get("record_id") == record_id), None)
    if target is None:
        raise NoProofError(f"no record {record_id} in {directory / JOURNAL_NAME}")
    batch = next((e for e in entries if e.get("kind") == "batch" and e["first_seq"] <= target["seq"] <= e["last_seq"]),
                 None)
    if batch is None:
        raise NoProofError(f"record {record_id} is not sealed in a batch yet")
    members = [e for e in entries if e.get("kind") == "record" and batch["first_seq"] <= e["seq"] <= batch["last_seq"]]
    leaves = [bytes.fromhex(e["hash"]) for e in members]
    path = inclusion_proof(leaves, [e["seq"] for e in members].index(target["seq"]))
    anchor = next((e for e in entries if e.get("kind") == "anchor" and e.get("batch_seq") == batch["seq"]), None)
    if anchor is None:
        raise NoProofError(f"the batch of record {record_id} (seq {batch['seq']}) is not anchored yet")
    return EvidenceProof(entry=target, path=path, batch=batch, anchor=anchor)
