"""Anchoring evidence batches with EvidenceAnchor on a real anvil, and verifying the anchors on-chain."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from web3 import Web3

from tests.backend.chainops import DevChain
from tests.backend.conftest import ROOT, free_port, tool_env
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.unit.evidence.support import fill
from tracemark.evidence.anchor import DEV_ANCHORER_KEY, AnchorChain, AnchorError, EvidenceAnchorer, anchorer_for
from tracemark.evidence.journal import JOURNAL_NAME, canonical, entry_hash
from tracemark.evidence.verify import verify_evidence
from tracemark.evidence.warc import EvidenceWriter

pytestmark = pytest.mark.integration
TRACEMARK = str(ROOT / ".venv" / "bin" / "tracemark")


def anchorer(chain: DevChain, key: str = DEV_ANCHORER_KEY) -> EvidenceAnchorer:
    return EvidenceAnchorer(chain.url, chain.deployment.address_of("EvidenceAnchor"), key)


def journal(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / JOURNAL_NAME).read_text().splitlines()]


def rewrite(folder: Path, changed: list[dict[str, object]]) -> None:
    previous, lines = "0" * 64, []
    for entry in changed:
        entry = {**entry, "prev": previous}
        entry["hash"] = entry_hash(entry)
        previous = str(entry["hash"])
        lines.append(canonical(entry))
    (folder / JOURNAL_NAME).write_bytes(b"\n".join(lines) + b"\n")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TRACEMARK, *args], capture_output=True, text=True, timeout=120, env=tool_env(),
                          check=False)


def test_the_dev_anchorer_is_the_deployed_anchor_role(chain: DevChain) -> None:
    assert anchorer(chain).account.address == chain.anchorer


def test_batches_are_anchored_as_they_are_sealed_and_verify_on_chain(chain: DevChain, tmp_path: Path) -> None:
    with EvidenceWriter(tmp_path, batch_size=4, anchorer=anchorer(chain)) as writer:
        refs = fill(writer, 5)
    entries = journal(tmp_path)
    batches = [e for e in entries if e["kind"] == "batch"]
    anchors = [e for e in entries if e["kind"] == "anchor"]
    assert len(batches) == 3 and [a["batch_seq"] for a in anchors] == [b["seq"] for b in batches]
    reader = AnchorChain(chain.url, chain.deployment.address_of("EvidenceAnchor"))
    for batch, anchor in zip(batches, anchors, strict=True):
        assert anchor["root"] == batch["root"] and anchor["chain_id"] == 31337
        assert reader.anchored_at(bytes.fromhex(str(batch["root"]))) == anchor["timestamp"] > 0
        block = Web3(Web3.HTTPProvider(chain.url)).eth.get_block(int(str(anchor["block"])))
        assert "0x" + bytes(block["hash"]).hex() == anchor["block_hash"]
    report = verify_evidence(tmp_path, rpc_url=chain.url)
    assert report.ok, report.text()
    assert report.anchors == report.anchors_checked == 3
    single = verify_evidence(tmp_path / refs[0].warc, rpc_url=chain.url)
    assert single.ok and single.anchors_checked == 3


def test_cli_anchor_then_verify(chain: DevChain, deployed_state: DeployedState, tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    with EvidenceWriter(folder, batch_size=100) as writer:
        ref = fill(writer, 3)[0]
    done = cli("evidence", "verify", str(folder / ref.warc), "--rpc", chain.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing is anchored on-chain yet" in done.stdout
    done = cli("evidence", "anchor", str(folder), "--rpc", chain.url, "--deployments",
               str(deployed_state.deployments_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "anchored batch" in done.stdout
    again = cli("evidence", "anchor", str(folder), "--rpc", chain.url, "--deployments",
                str(deployed_state.deployments_dir))
    assert again.returncode == 0 and "nothing to anchor" in again.stdout
    done = cli("evidence", "verify", str(folder), "--rpc", chain.url, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["ok"] and answer["anchors"] == answer["anchors_checked"] == 1
    # A changed byte: exit 1 and the first broken link named.
    path = folder / ref.warc
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    done = cli("evidence", "verify", str(folder), "--rpc", chain.url)
    assert done.returncode == 1
    assert "first broken link" in done.stdout and ref.warc in done.stdout
    done = cli("evidence", "verify", str(tmp_path / "absent"))
    assert done.returncode == 2


def test_a_forged_journal_is_caught_by_the_anchor(chain: DevChain, tmp_path: Path) -> None:
    with EvidenceWriter(tmp_path, batch_size=100, anchorer=anchorer(chain)) as writer:
        fill(writer, 3)
    entries = journal(tmp_path)
    # The forger changes a record's URI and recomputes every hash, the batch root and the manifest CID, and
    # points the anchor entry at the new root: only the chain still knows the old one.
    from tracemark.evidence.journal import manifest_cid
    from tracemark.evidence.merkle import merkle_root

    target = next(e for e in entries if e.get("type") == "response")
    target["target_uri"] = "http://elsewhere.example/"
    previous, forged = "0" * 64, []
    records: list[str] = []
    for entry in entries:
        entry = {**entry, "prev": previous}
        if entry["kind"] == "batch":
            root = merkle_root([bytes.fromhex(h) for h in records]).hex()
            entry.update(root=root, cid=manifest_cid(root, int(str(entry["first_seq"])), int(str(entry["last_seq"])),
                                                     records))
        if entry["kind"] == "anchor":
            entry["root"] = forged[-1]["root"]
        entry["hash"] = entry_hash(entry)
        if entry["kind"] == "record":
            records.append(str(entry["hash"]))
        previous = str(entry["hash"])
        forged.append(entry)
    (tmp_path / JOURNAL_NAME).write_bytes(b"\n".join(canonical(e) for e in forged) + b"\n")
    report = verify_evidence(tmp_path, rpc_url=chain.url)
    assert not report.ok
    anchor_problems = [p for p in report.problems if p.where.startswith("anchor of batch")]
    assert anchor_problems and "does not know the root" in anchor_problems[0].what
    assert "emitted no EvidenceAnchored for the root" in anchor_problems[0].what
    # Offline, the forgery of the journal alone is still seen in the WARC record (its URI differs).
    offline = verify_evidence(tmp_path)
    assert not offline.ok and any("warc-target-uri" in p.what for p in offline.problems)


def test_anchor_entry_changed_consistently(chain: DevChain, tmp_path: Path) -> None:
    with EvidenceWriter(tmp_path, batch_size=100, anchorer=anchorer(chain)) as writer:
        fill(writer, 2)
    entries = journal(tmp_path)
    entries[-1]["timestamp"] = int(str(entries[-1]["timestamp"])) - 3600  # claims an earlier anchoring
    rewrite(tmp_path, entries)
    report = verify_evidence(tmp_path, rpc_url=chain.url)
    assert not report.ok and "anchoredAt is" in report.problems[0].what


def test_unreachable_or_other_chain_is_noted_not_failed(chain: DevChain, tmp_path: Path) -> None:
    with EvidenceWriter(tmp_path, batch_size=100, anchorer=anchorer(chain)) as writer:
        fill(writer, 1)
    report = verify_evidence(tmp_path, rpc_url=f"http://127.0.0.1:{free_port()}", timeout_s=2)
    assert report.ok and report.anchors == 1 and report.anchors_checked == 0
    assert any("chain unreachable" in n for n in report.notes)
    assert any("not checked" in n for n in verify_evidence(tmp_path).notes)


def test_a_root_anchored_before_is_recorded_not_sent_again(chain: DevChain, tmp_path: Path) -> None:
    # A run that anchored and crashed before writing its journal entry: the batch is sealed, not anchored.
    with EvidenceWriter(tmp_path, batch_size=100) as writer:
        fill(writer, 2)
    batch = journal(tmp_path)[-1]
    chain.anchor(root=bytes.fromhex(str(batch["root"])), count=int(str(batch["count"])), cid=str(batch["cid"]))
    assert chain.receipts_ok(chain.flush()) == 1
    with EvidenceWriter(tmp_path) as writer:
        added = writer.anchor_pending(anchorer(chain))
    assert len(added) == 1 and added[0]["root"] == batch["root"]
    report = verify_evidence(tmp_path, rpc_url=chain.url)
    assert report.ok and report.anchors_checked == 1, report.text()


def test_a_key_without_the_role_is_refused_and_the_batch_stays_pending(chain: DevChain, tmp_path: Path) -> None:
    stranger = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"  # anvil account 9
    with EvidenceWriter(tmp_path, batch_size=100) as writer:
        fill(writer, 1)
        writer.seal_batch()
        with pytest.raises(AnchorError, match="refuses"):
            writer.anchor_pending(anchorer(chain, stranger))
        # The writer's own automatic anchoring logs the failure and goes on.
        writer.anchorer = anchorer(chain, stranger)
        fill(writer, 1, seed=3)
    kinds = [e["kind"] for e in journal(tmp_path)]
    assert "anchor" not in kinds and kinds.count("batch") == 2
    report = verify_evidence(tmp_path, rpc_url=chain.url)
    assert report.ok and any("nothing is anchored" in n for n in report.notes)


def test_anchorer_for_reads_the_deployment(chain: DevChain, deployed_state: DeployedState) -> None:
    found = anchorer_for(chain.url, deployments_dir=deployed_state.deployments_dir)
    assert found.contract.address == chain.deployment.address_of("EvidenceAnchor")
    assert found.account.address == chain.anchorer


def test_random_byte_changes_in_anchored_evidence_are_all_detected(chain: DevChain, tmp_path: Path) -> None:
    import random

    with EvidenceWriter(tmp_path, batch_size=3, anchorer=anchorer(chain)) as writer:
        fill(writer, 4)
    assert verify_evidence(tmp_path, rpc_url=chain.url).ok
    targets = [*sorted(tmp_path.glob("*.warc.gz")), tmp_path / JOURNAL_NAME]
    originals = {p: p.read_bytes() for p in targets}
    rng = random.Random(5)
    missed = []
    for _ in range(150):
        path = rng.choices(targets, weights=[len(originals[p]) for p in targets])[0]
        data = bytearray(originals[path])
        index = rng.randrange(len(data))
        data[index] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        try:
            if verify_evidence(tmp_path, rpc_url=chain.url).ok:
                missed.append((path.name, index))
        finally:
            path.write_bytes(originals[path])
    assert missed == []


def test_a_record_can_be_proven_against_the_chain(chain: DevChain, tmp_path: Path) -> None:
    import hashlib

    from tracemark.evidence.proof import NoProofError, prove

    with EvidenceWriter(tmp_path, batch_size=5, anchorer=anchorer(chain)) as writer:
        refs = fill(writer, 4)
        pending = fill(writer, 1, seed=8)[0]  # the last batch is sealed on close
    reader = AnchorChain(chain.url, chain.deployment.address_of("EvidenceAnchor"))
    for ref in refs:
        proof = prove(tmp_path, ref.record_id)
        assert proof.holds() and proof.anchor is not None
        # Checked from the parts alone: the stored bytes, the entry, the path, the chain.
        entry = proof.entry
        stored = (tmp_path / str(entry["warc"])).read_bytes()[int(entry["offset"]) : int(entry["offset"])
                                                              + int(entry["length"])]
        assert hashlib.sha256(stored).hexdigest() == entry["record_sha256"]
        assert reader.anchored_at(proof.root()) == proof.anchor["timestamp"]
    assert prove(tmp_path, pending.record_id).holds()
    with pytest.raises(NoProofError):
        prove(tmp_path, "<urn:uuid:unknown>")
    done = cli("evidence", "prove", str(tmp_path), refs[0].record_id)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["anchor"]["root"] == answer["batch"]["root"] and answer["path"]
    assert cli("evidence", "prove", str(tmp_path), "<urn:uuid:unknown>").returncode == 1


def test_no_proof_before_anchoring(tmp_path: Path) -> None:
    from tracemark.evidence.proof import NoProofError, prove

    with EvidenceWriter(tmp_path, batch_size=100) as writer:
        ref = fill(writer, 1)[0]
    with pytest.raises(NoProofError, match="not anchored"):
        prove(tmp_path, ref.record_id)


def test_anchors_checked_on_another_chain_with_the_same_id(chain: DevChain, deployed_state: DeployedState,
                                                             anvil_bin: str, tmp_path: Path) -> None:
    from tests.backend.chainops import load_state, start_anvil
    from tests.backend.conftest import wait_for_rpc

    with EvidenceWriter(tmp_path, batch_size=100, anchorer=anchorer(chain)) as writer:
        fill(writer, 1)
    # The same deployment on a fresh chain (same id, same addresses), where nothing was anchored.
    port = free_port()
    proc = start_anvil(anvil_bin, port)
    other = f"http://127.0.0.1:{port}"
    try:
        wait_for_rpc(other, proc)
        load_state(other, deployed_state.state)
        report = verify_evidence(tmp_path, rpc_url=other)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not report.ok
    what = report.problems[0].what
    assert "does not know the root" in what and "reorged away, or another chain" in what
