"""`tracemark evidence`: verify evidence archives, and anchor their batches on-chain.

    tracemark evidence verify PATH [--rpc URL] [--offline] [--json]
    tracemark evidence anchor DIR [--rpc URL] [--contract ADDRESS]
    tracemark evidence prove DIR RECORD_ID

`verify` takes a WARC file (checked with the journal next to it) or an evidence folder. It re-reads every WARC record
and checks its digests, walks the journal's hash chain, recomputes each batch's Merkle root and, when the chain
answers, checks each anchor on it. It names the first broken link: file, record, offset and what differs.

Exit status of `verify`: 0 intact (also when nothing is anchored yet, which it says), 1 broken, 2 usage error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tracemark.config import get_settings


@click.group("evidence")
def evidence() -> None:
    """Evidence archives (WARC files chained in a journal and anchored on-chain)."""


@evidence.command("verify")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--rpc", "rpc_url", default=None, help="Chain to check the anchors on (default: TRACEMARK_RPC_URL).")
@click.option("--offline", is_flag=True, help="Do not ask a chain; anchors are reported as not checked.")
@click.option("--timeout", default=10.0, type=click.FloatRange(min=0.1), show_default=True,
              help="Seconds to wait for each answer of the chain.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(path: Path, rpc_url: str | None, offline: bool, timeout: float, as_json: bool) -> None:
    """Verify the evidence at PATH (a WARC file or an evidence folder); exit 1 at the first broken link."""
    from tracemark.evidence.verify import verify_evidence

    rpc = None if offline else (rpc_url or get_settings().rpc_url)
    report = verify_evidence(path, rpc_url=rpc, timeout_s=timeout)
    if as_json:
        click.echo(json.dumps({
            "ok": report.ok, "path": str(report.path), "files": report.files, "records": report.records,
            "entries": report.entries, "batches": report.batches, "anchors": report.anchors,
            "anchors_checked": report.anchors_checked, "notes": report.notes,
            "problems": [vars(p) for p in report.problems],
        }, indent=2))
    else:
        click.echo(report.text())
    sys.exit(0 if report.ok else 1)


@evidence.command("anchor")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--rpc", "rpc_url", default=None, help="JSON-RPC endpoint of the chain (default: TRACEMARK_RPC_URL).")
@click.option("--contract", default=None, help="Address of EvidenceAnchor (default: from the deployment record).")
@click.option("--deployments", "deployments_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with <chain id>.json deployment records (default: TRACEMARK_DEPLOYMENTS_DIR).")
def anchor(directory: Path, rpc_url: str | None, contract: str | None, deployments_dir: Path | None) -> None:
    """Seal the open batch of DIRECTORY and anchor every batch not anchored yet (key: TRACEMARK_ANCHORER_KEY)."""
    from tracemark.chain.deployments import DeploymentError
    from tracemark.chain.node import ChainUnavailableError
    from tracemark.evidence.anchor import AnchorError, anchorer_for
    from tracemark.evidence.journal import EvidenceLockedError
    from tracemark.evidence.warc import anchor_folder

    settings = get_settings()
    try:
        anchorer = anchorer_for(rpc_url or settings.rpc_url,
                                deployments_dir=deployments_dir or settings.deployments_dir,
                                key=settings.anchorer_key.get_secret_value(), contract=contract)
        added = anchor_folder(directory, anchorer)
    except (ChainUnavailableError, DeploymentError, AnchorError, EvidenceLockedError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for entry in added:
        click.echo(f"anchored batch {entry['batch_seq']} (root {entry['root']}) in block {entry['block']}, "
                   f"tx {entry['tx']}")
    if not added:
        click.echo("nothing to anchor")


@evidence.command("prove")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("record_id")
def prove(directory: Path, record_id: str) -> None:
    """Print (JSON) the proof that RECORD_ID (a WARC-Record-ID) of DIRECTORY is in an anchored batch: its journal
    entry, the Merkle path to the batch root, and the anchor. Anyone can check it against the chain."""
    from tracemark.evidence.proof import NoProofError
    from tracemark.evidence.proof import prove as build

    try:
        proof = build(directory, record_id)
    except (NoProofError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(proof.as_dict(), indent=2))
