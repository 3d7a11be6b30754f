"""`tracemark verify IMAGE`: checks an image against the chain and IPFS alone, with no Tracemark server.

    tracemark verify photo.jpg [--rpc URL] [--ipfs URL]... [--gateway URL]... [--json]
                               [--deployments DIR | --contract ADDRESS [--from-block N]]
                               [--match [--api URL] [--token TOKEN]]

The certificate contract comes from `deployments/<chain id>.json` (the chain id is asked from the node), or from
`--contract`. The metadata comes from a Kubo-compatible RPC API (`--ipfs`, the js-ipfs daemon `make run` starts)
and/or HTTP gateways (`--gateway`, e.g. the API's own `/ipfs/{cid}`); whatever they return is checked against the
digest on chain, so none of them is trusted. `--match` is the one part that relies on the service: for a file
that is not registered byte for byte, it asks the service's matching for the nearest registered image.

Exit status:
  0  verified: registered, and chain, metadata and the image's fingerprints agree
  1  not registered: no certificate has this exact file
  2  usage error (bad options, unreadable file)
  3  failed: registered, but a check failed (tampered metadata, mismatching fingerprints, ...)
  4  disputed: verified, but the certificate is flagged as disputed
  5  unavailable: the chain or IPFS could not be asked, so nothing can be said
"""

from __future__ import annotations

import hashlib
import sys
from datetime import datetime
from pathlib import Path

import click

from tracemark.chain.certificate_reader import CertificateReader
from tracemark.chain.deployments import DeploymentError, load_deployment
from tracemark.chain.node import ChainUnavailableError
from tracemark.config import get_settings
from tracemark.ipfs.gateway import GatewaySource
from tracemark.services.verification import (
    BlockSource,
    CheckStatus,
    SourcesUsed,
    Verdict,
    VerificationCheck,
    VerificationResult,
    ask_service_for_match,
    verify_image,
)

EXIT_CODES = {
    Verdict.VERIFIED: 0,
    Verdict.NOT_REGISTERED: 1,
    Verdict.FAILED: 3,
    Verdict.DISPUTED: 4,
    Verdict.UNAVAILABLE: 5,
}
DEFAULT_IPFS_API = "http://127.0.0.1:5001"

_MARKS = {CheckStatus.PASS: "ok  ", CheckStatus.FAIL: "FAIL", CheckStatus.NOT_CHECKED: "--  "}


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def render_text(result: VerificationResult, name: str) -> str:
    """The human summary of a verification."""
    lines = [result.summary, "", f"file          {name}", f"sha256        {result.file_sha256}"]
    cert = result.certificate
    if cert is not None:
        since = f" (since block {cert.holder_since_block})" if cert.holder_since_block is not None else ""
        block = f", block {cert.registered_block}" if cert.registered_block is not None else ""
        lines += [
            f"certificate   {cert.content_hash} (id {cert.id})",
            f"holder        {cert.holder}{since}",
            f"creator       {cert.creator}",
            f"registered    {_when(cert.registered_at)}{block}",
            f"disputed      {'YES' if cert.disputed else 'no'}",
            f"metadata      {cert.token_uri}",
        ]
        if cert.registered_tx:
            lines.append(f"transaction   {cert.registered_tx}")
    meta = result.metadata
    if meta is not None:
        lines += [f"title         {meta.title}", f"by            {meta.creator_name}"]
        if meta.captured_at:
            lines.append(f"captured      {meta.captured_at}")
        lines.append(f"preview       ipfs://{meta.preview_cid}")
    lines += ["", "checks"]
    lines += [f"  [{_MARKS[c.status]}] {c.name}: {c.detail}" for c in result.checks]
    src = result.sources
    lines += ["", f"chain         {src.chain_id} at block {src.read_block} via {src.rpc_url}",
              f"contract      {src.contract}", f"IPFS sources  {', '.join(src.ipfs) or '(none)'}",
              "asked         only the chain node and the IPFS sources above"
              + (", and the service for the match" if result.match else "")]
    match = result.match
    if match is not None:
        lines += ["", "match (RELIES ON THE SERVICE)", f"  {match.note}"]
        if match.error:
            lines.append(f"  error: {match.error}")
        elif match.reference is None:
            lines.append("  the service knows no registered image this file is a copy of")
        else:
            lines.append(f"  nearest registered image: {match.reference} (score {match.score:.2f})")
            if match.edits:
                lines.append("  edits: " + ", ".join(f"{k}={v}" for k, v in match.edits.items()))
            if match.certificate is not None:
                lines.append(f"  on chain: certificate {match.certificate.id}, held by {match.certificate.holder}"
                             f"{' (DISPUTED)' if match.certificate.disputed else ''}")
    return "\n".join(lines)


@click.command("verify")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rpc", "rpc_url", default=None, help="JSON-RPC endpoint of the chain (default: TRACEMARK_RPC_URL).")
@click.option("--ipfs", "ipfs_urls", multiple=True,
              help="Kubo-compatible IPFS RPC API, e.g. http://127.0.0.1:5001 (repeatable; default: "
                   "TRACEMARK_IPFS_API_URL, else http://127.0.0.1:5001 unless a --gateway is given).")
@click.option("--gateway", "gateway_urls", multiple=True,
              help="HTTP gateway serving /ipfs/<cid>, e.g. a Tracemark API (repeatable).")
@click.option("--deployments", "deployments_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with <chain id>.json deployment records (default: TRACEMARK_DEPLOYMENTS_DIR).")
@click.option("--contract", default=None, help="Address of the ImageCertificate contract (instead of a deployment).")
@click.option("--from-block", default=0, type=click.IntRange(min=0), show_default=True,
              help="With --contract: the block from which its events are searched.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--match", "with_match", is_flag=True,
              help="If the file is not registered, ask the service's matching for the nearest registered image "
                   "(this part relies on the service).")
@click.option("--api", "api_url", default=None, help="The Tracemark service for --match (default: the local API).")
@click.option("--token", envvar="TRACEMARK_API_TOKEN", default=None,
              help="Session token for --match, when the service's matching needs sign-in (env TRACEMARK_API_TOKEN).")
@click.option("--timeout", default=30.0, type=click.FloatRange(min=0.1), show_default=True,
              help="Seconds to wait for each answer of the chain and IPFS.")
def verify(image: Path, rpc_url: str | None, ipfs_urls: tuple[str, ...], gateway_urls: tuple[str, ...],
           deployments_dir: Path | None, contract: str | None, from_block: int, as_json: bool, with_match: bool,
           api_url: str | None, token: str | None, timeout: float) -> None:
    """Verify IMAGE from the chain and IPFS alone: who holds it, since when, and whether its records are intact.

    Exit status: 0 verified, 1 not registered, 2 usage error, 3 a check failed, 4 disputed, 5 chain or IPFS
    unavailable.
    """
    settings = get_settings()
    try:
        data = image.read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read {image}: {exc}") from exc
    rpc = rpc_url or settings.rpc_url
    reader = _reader(rpc, contract, from_block, deployments_dir or settings.deployments_dir, timeout)
    sources: list[BlockSource] = []
    kubo_urls = list(ipfs_urls) or ([settings.ipfs_api_url or DEFAULT_IPFS_API] if not gateway_urls else [])
    if kubo_urls:
        from tracemark.ipfs.kubo import KuboStore

        for url in kubo_urls:
            try:
                sources.append(KuboStore(url, timeout_s=timeout))
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--ipfs") from exc
    sources += [GatewaySource(url, timeout_s=timeout) for url in gateway_urls]
    result = _unavailable(data, rpc) if reader is None else verify_image(data, reader, sources)
    if with_match and result.verdict is Verdict.NOT_REGISTERED:
        service = api_url or settings.public_url or f"http://{settings.api_host}:{settings.api_port}"
        result.match = ask_service_for_match(service, data, image.name, reader, token=token)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        click.echo(render_text(result, str(image)))
    sys.exit(EXIT_CODES[result.verdict])


def _reader(rpc: str, contract: str | None, from_block: int, deployments_dir: Path,
            timeout: float) -> CertificateReader | None:
    """The certificate reader, or None when the chain cannot be asked which deployment it has."""
    if contract is not None:
        try:
            return CertificateReader(rpc, contract, from_block, timeout_s=timeout)
        except ValueError as exc:
            raise click.BadParameter(f"not an address: {contract}", param_hint="--contract") from exc
    try:
        chain_id = CertificateReader.chain_id_of(rpc, timeout)
    except ChainUnavailableError:
        return None
    try:
        deployment = load_deployment(deployments_dir, chain_id)
    except DeploymentError as exc:
        raise click.UsageError(f"{exc}; name the contract with --contract ADDRESS") from exc
    return CertificateReader.for_deployment(rpc, deployment, timeout_s=timeout)


def _unavailable(data: bytes, rpc: str) -> VerificationResult:
    reason = f"the chain at {rpc} does not answer"
    return VerificationResult(
        verdict=Verdict.UNAVAILABLE, summary=f"UNAVAILABLE: {reason}; nothing can be said",
        file_sha256=hashlib.sha256(data).hexdigest(),
        checks=[VerificationCheck(name="certificate", status=CheckStatus.NOT_CHECKED, detail=reason)],
        sources=SourcesUsed(rpc_url=rpc),
    )
