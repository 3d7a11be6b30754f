"""Verification by anyone: is this image file registered, who holds it, and do chain and IPFS agree with it?

Nothing here asks a Tracemark server or a database. The steps, each recorded as a check:

1. SHA-256 of the file's bytes: the content hash, whose uint256 is the certificate id.
2. `certificateOf(hash)` on the `ImageCertificate` contract: 0 means this exact file is not registered. Otherwise
   the holder, the holding counter and the dispute flag (`standing`), the creator and time (`registrationOf`), the
   registration block and emitted fingerprint (`CertificateRegistered`), `metadataDigest` and `tokenURI`.
3. `tokenURI` must be `ipfs://` + the CIDv1 of the digest stored on chain.
4. The metadata document is fetched from IPFS (a Kubo-RPC daemon, the embedded store or HTTP gateways, none of
   them trusted) and its SHA-256 must equal the digest on chain: a different document is tampering.
5. The document must name this file (its `sha256`) and the creator the chain recorded.
6. The fingerprints are recomputed from the image and must equal those in the metadata; a fingerprint recorded
   with an algorithm version this verifier does not compute is reported as not checked, never as a mismatch.
   The fingerprint emitted on chain at registration must be the metadata's global hash.

The verdict: `verified`, `disputed` (every check passed but the certificate is flagged as disputed),
`not_registered`, `failed` (a check failed: the reason says which), or `unavailable` (chain or IPFS could not
be asked, so nothing can be said).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

import httpx
from pydantic import BaseModel, Field, ValidationError

from tracemark.chain.certificate_reader import ChainCertificate
from tracemark.chain.node import ChainUnavailableError
from tracemark.domain.metadata import CertificateMetadata, MetadataError, parse_metadata
from tracemark.ipfs import CidError, ContentUnavailableError, IntegrityError, cid_from_digest
from tracemark.ipfs.cid import same_cid
from tracemark.matching.models import Match
from tracemark.services.publication import DCT_HASH_PREFIX, PublicationError, image_fingerprints


class Verdict(StrEnum):
    """The answer of a verification."""

    VERIFIED = "verified"
    DISPUTED = "disputed"
    NOT_REGISTERED = "not_registered"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"


class CheckStatus(StrEnum):
    """The outcome of one check."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    NOT_CHECKED = "not_checked"


class VerificationCheck(BaseModel):
    """One step of the verification and what it found."""

    name: str
    status: CheckStatus
    detail: str


class CertificateFacts(BaseModel):
    """What the chain says about the certificate."""

    id: str = Field(description="Certificate id, decimal (the uint256 of the content hash).")
    content_hash: str = Field(description="SHA-256 of the original, 0x hex.")
    holder: str
    holder_since_block: int | None = Field(description="Block of the last transfer (or the mint).")
    creator: str
    holding: int = Field(description="Counts the changes of hands.")
    disputed: bool
    registered_at: datetime
    registered_block: int | None
    registered_tx: str | None
    metadata_digest: str = Field(description="SHA-256 of the metadata document stored on chain, 0x hex.")
    token_uri: str


class MetadataFacts(BaseModel):
    """What the verified metadata document says."""

    cid: str
    title: str
    creator_name: str
    creator_address: str
    captured_at: str | None
    preview_cid: str
    iscc: str | None
    fingerprints: dict[str, str]
    audit_outcome: str
    licence_terms: dict[str, object]


class SourcesUsed(BaseModel):
    """Where the answers came from (no Tracemark server is among them unless its gateway was named)."""

    chain_id: int | None = None
    rpc_url: str
    contract: str | None = None
    read_block: int | None = None
    ipfs: list[str] = Field(default_factory=list)


class ServiceMatch(BaseModel):
    """What the Tracemark service's matching says about a file that is not registered byte for byte.

    This part relies on the service (its index and its matching engine); only `certificate`, when present, was read
    from the chain.
    """

    relies_on_service: bool = True
    service: str = Field(description="The service that was asked.")
    note: str
    reference: str | None = Field(default=None, description="The service's id of the nearest registered image.")
    score: float | None = None
    edits: dict[str, object] | None = Field(default=None, description="What the service says was changed.")
    certificate: CertificateFacts | None = Field(
        default=None, description="The certificate of the nearest image, read from the chain (when its id names one)."
    )
    error: str | None = None


class VerificationResult(BaseModel):
    """The whole answer: verdict, a one-line summary, the facts and every check."""

    verdict: Verdict
    summary: str
    file_sha256: str = Field(description="SHA-256 of the verified file, hex.")
    certificate: CertificateFacts | None = None
    metadata: MetadataFacts | None = None
    checks: list[VerificationCheck] = Field(default_factory=list)
    sources: SourcesUsed
    match: ServiceMatch | None = Field(default=None, description="Only when asked, for a file not registered.")


class CertificateSource(Protocol):
    """Reads certificates from the chain (`tracemark.chain.certificate_reader.CertificateReader`)."""

    rpc_url: str

    @property
    def address(self) -> str:
        """The certificate contract's address."""
        ...

    def chain_id(self) -> int:
        """The chain id."""
        ...

    def read(self, content_hash: bytes) -> ChainCertificate | None:
        """The certificate of a content hash, or None."""
        ...


class BlockSource(Protocol):
    """Anything that returns the block a CID names (KuboStore, EmbeddedStore, GatewaySource)."""

    def get(self, cid: str) -> bytes:
        """The block, checked against the CID."""
        ...


def describe_source(source: BlockSource) -> str:
    """A readable name of a block source (its URL or folder)."""
    for attribute, kind in (("api_url", "ipfs-rpc"), ("base_url", "gateway"), ("root", "embedded")):
        value = getattr(source, attribute, None)
        if value is not None:
            return f"{kind} {value}"
    return type(source).__name__


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class _Verification:
    """The state of one run: its checks, in order."""

    def __init__(self, data: bytes, chain: CertificateSource, sources: Sequence[tuple[str, BlockSource]]) -> None:
        self.data = data
        self.sha256 = hashlib.sha256(data).digest()
        self.chain = chain
        self.sources = sources
        self.checks: list[VerificationCheck] = []
        self.used = SourcesUsed(rpc_url=chain.rpc_url, ipfs=[name for name, _ in sources])

    def check(self, name: str, status: CheckStatus, detail: str) -> bool:
        self.checks.append(VerificationCheck(name=name, status=status, detail=detail))
        return status is not CheckStatus.FAIL

    def result(self, verdict: Verdict, summary: str, certificate: CertificateFacts | None = None,
               metadata: MetadataFacts | None = None) -> VerificationResult:
        return VerificationResult(
            verdict=verdict, summary=summary, file_sha256=self.sha256.hex(), certificate=certificate,
            metadata=metadata, checks=self.checks, sources=self.used,
        )

    def run(self) -> VerificationResult:
        self.check("sha256", CheckStatus.PASS, f"the file's SHA-256 is {self.sha256.hex()}")
        try:
            self.used.chain_id = self.chain.chain_id()
            self.used.contract = self.chain.address
            found = self.chain.read(self.sha256)
        except ChainUnavailableError as exc:
            self.check("certificate", CheckStatus.NOT_CHECKED, str(exc))
            return self.result(Verdict.UNAVAILABLE, f"the chain could not be read: {exc}")
        if found is None:
            self.check("certificate", CheckStatus.FAIL, "certificateOf(sha256) is 0: no certificate for this file")
            return self.result(
                Verdict.NOT_REGISTERED,
                f"NOT REGISTERED: no certificate on chain {self.used.chain_id} (ImageCertificate {self.used.contract})"
                " has this exact file. A copy or an edit of a registered image has another SHA-256; "
                "`--match` asks the Tracemark service for the nearest registered image.",
            )
        self.used.read_block = found.read_block
        facts = _certificate_facts(found)
        self.check("certificate", CheckStatus.PASS,
                   f"certificateOf(sha256) is {facts.content_hash}, held by {found.holder}")
        return self._metadata_checks(found, facts)

    def _metadata_checks(self, found: ChainCertificate, facts: CertificateFacts) -> VerificationResult:
        cid = cid_from_digest(found.metadata_digest)
        uri_cid = found.token_uri.removeprefix("ipfs://")
        if not found.token_uri.startswith("ipfs://") or not same_cid(uri_cid, cid):
            self.check("token_uri", CheckStatus.FAIL,
                       f"tokenURI is {found.token_uri!r}, not ipfs://{cid} (the CID of the digest on chain)")
            return self.result(Verdict.FAILED, "FAILED: tokenURI does not name the metadata digest stored on chain",
                               facts)
        self.check("token_uri", CheckStatus.PASS, f"tokenURI is ipfs://{cid}, the CID of the digest on chain")
        document, failure = self._fetch(cid, found.metadata_digest)
        if document is None:
            if failure is not None:
                return self.result(Verdict.FAILED, f"FAILED: {failure}", facts)
            return self.result(Verdict.UNAVAILABLE, f"the metadata {cid} could not be fetched from IPFS", facts)
        try:
            metadata = parse_metadata(document)
        except MetadataError as exc:
            self.check("metadata_document", CheckStatus.FAIL, f"the document on chain is not Tracemark metadata: {exc}")
            return self.result(Verdict.FAILED, "FAILED: the metadata is not a Tracemark document", facts)
        meta_facts = _metadata_facts(cid, metadata)
        ok = self.check(*_names_file(metadata, self.sha256))
        ok = self.check(*_names_creator(metadata, found)) and ok
        ok = self._fingerprint_checks(metadata, found) and ok
        if not ok:
            reasons = "; ".join(c.detail for c in self.checks if c.status is CheckStatus.FAIL)
            return self.result(Verdict.FAILED, f"FAILED: {reasons}", facts, meta_facts)
        if found.disputed:
            return self.result(
                Verdict.DISPUTED,
                f"DISPUTED: certificate {facts.content_hash} is held by {found.holder} and its records check out, "
                "but it is flagged as disputed (it sells no licences and settles no claims until cleared)",
                facts, meta_facts,
            )
        return self.result(
            Verdict.VERIFIED,
            f"VERIFIED: {metadata.title!r} by {metadata.creator_name} is certificate {facts.content_hash}, held by "
            f"{found.holder}; chain, IPFS metadata and the image's fingerprints agree",
            facts, meta_facts,
        )

    def _fetch(self, cid: str, digest: bytes) -> tuple[bytes | None, str | None]:
        """The metadata from the first source that has it intact; (None, reason) when a source served a different
        document and none the right one, (None, None) when no source had it."""
        problems: list[str] = []
        tampered: list[str] = []
        for name, source in self.sources:
            try:
                data = source.get(cid)
            except IntegrityError as exc:
                tampered.append(f"{name}: {exc}")
                continue
            except (ContentUnavailableError, CidError) as exc:
                problems.append(f"{name}: {exc}")
                continue
            if hashlib.sha256(data).digest() != digest:  # checked here too: a source is never trusted
                tampered.append(f"{name} returned a document whose SHA-256 is {hashlib.sha256(data).hexdigest()}")
                continue
            note = f" ({len(tampered)} source(s) served other bytes: {'; '.join(tampered)})" if tampered else ""
            self.check("metadata_digest", CheckStatus.PASS,
                       f"the metadata from {name} hashes to the digest on chain {_hex(digest)}{note}")
            return data, None
        if tampered:
            reason = (f"the metadata served for {cid} does not match the digest on chain {_hex(digest)}: it was "
                      f"altered or replaced ({'; '.join(tampered)})")
            self.check("metadata_digest", CheckStatus.FAIL, reason)
            return None, reason
        where = "; ".join(problems) or "no IPFS source was given"
        self.check("metadata_digest", CheckStatus.NOT_CHECKED, f"the metadata {cid} could not be fetched: {where}")
        return None, None

    def _fingerprint_checks(self, metadata: CertificateMetadata, found: ChainCertificate) -> bool:
        try:
            computed = image_fingerprints(self.data)
        except PublicationError as exc:
            return self.check("fingerprints", CheckStatus.FAIL, f"the fingerprints cannot be recomputed: {exc}")
        ok = True
        if not metadata.fingerprints:
            self.check("fingerprints", CheckStatus.NOT_CHECKED, "the metadata records no perceptual fingerprint")
        for name, recorded in sorted(metadata.fingerprints.items()):
            value = computed.fingerprints.get(name)
            if value is None:
                known = ", ".join(sorted(computed.fingerprints))
                self.check(f"fingerprint:{name}", CheckStatus.NOT_CHECKED,
                           f"recorded with algorithm {name}, which this verifier does not compute (it does {known})")
            elif value == recorded.lower():
                self.check(f"fingerprint:{name}", CheckStatus.PASS, f"{name} recomputed from the image matches")
            else:
                ok = self.check(f"fingerprint:{name}", CheckStatus.FAIL,
                                f"{name} of the image is {value}, the metadata records {recorded}") and ok
        if metadata.iscc is None:
            self.check("iscc", CheckStatus.NOT_CHECKED, "the metadata records no ISCC")
        elif metadata.iscc == computed.iscc:
            self.check("iscc", CheckStatus.PASS, f"the ISCC image code {computed.iscc} recomputed matches")
        else:
            ok = self.check("iscc", CheckStatus.FAIL,
                            f"the image's ISCC is {computed.iscc}, the metadata records {metadata.iscc}") and ok
        global_hashes = {v.lower() for k, v in metadata.fingerprints.items() if k.startswith(DCT_HASH_PREFIX)}
        if found.registered_fingerprint is None:
            self.check("chain_fingerprint", CheckStatus.NOT_CHECKED, "the registration event could not be read")
        elif found.registered_fingerprint.hex() in global_hashes:
            self.check("chain_fingerprint", CheckStatus.PASS,
                       "the fingerprint emitted at registration is the metadata's global hash")
        else:
            ok = self.check("chain_fingerprint", CheckStatus.FAIL,
                            f"the fingerprint emitted at registration ({_hex(found.registered_fingerprint)}) is not "
                            "the metadata's global hash") and ok
        return ok


def _names_file(metadata: CertificateMetadata, sha256: bytes) -> tuple[str, CheckStatus, str]:
    if metadata.sha256.lower().removeprefix("0x") == sha256.hex():
        return "metadata_sha256", CheckStatus.PASS, "the metadata names this file's SHA-256"
    return ("metadata_sha256", CheckStatus.FAIL,
            f"the metadata describes another file (sha256 {metadata.sha256}), not this one ({sha256.hex()})")


def _names_creator(metadata: CertificateMetadata, found: ChainCertificate) -> tuple[str, CheckStatus, str]:
    if metadata.creator_address.lower() == found.creator.lower():
        return "creator", CheckStatus.PASS, f"the metadata's creator is the registering creator {found.creator}"
    return ("creator", CheckStatus.FAIL,
            f"the metadata names creator {metadata.creator_address}, the chain recorded {found.creator}")


def _certificate_facts(found: ChainCertificate) -> CertificateFacts:
    return CertificateFacts(
        id=str(found.token_id),
        content_hash=_hex(found.token_id.to_bytes(32, "big")),
        holder=found.holder,
        holder_since_block=found.holder_since_block,
        creator=found.creator,
        holding=found.holding,
        disputed=found.disputed,
        registered_at=datetime.fromtimestamp(found.registered_at, UTC),
        registered_block=found.registered_block,
        registered_tx=found.registered_tx,
        metadata_digest=_hex(found.metadata_digest),
        token_uri=found.token_uri,
    )


def _metadata_facts(cid: str, metadata: CertificateMetadata) -> MetadataFacts:
    return MetadataFacts(
        cid=cid, title=metadata.title, creator_name=metadata.creator_name, creator_address=metadata.creator_address,
        captured_at=metadata.captured_at, preview_cid=metadata.preview_cid, iscc=metadata.iscc,
        fingerprints=metadata.fingerprints, audit_outcome=metadata.audit_outcome,
        licence_terms=dict(metadata.licence_terms),
    )


def verify_image(data: bytes, chain: CertificateSource, sources: Sequence[BlockSource]) -> VerificationResult:
    """Verifies an image file against the chain and IPFS.

    Args:
        data: The image file, byte for byte.
        chain: Reads the certificate contract.
        sources: Where the metadata may be fetched, tried in order (each answer is checked against its CID).

    Returns:
        The result; its verdict says what was found, its checks say why.
    """
    named = [(describe_source(source), source) for source in sources]
    return _Verification(data, chain, named).run()


def content_hash_of_reference(reference: str) -> bytes | None:
    """The content hash a matching reference id names, if it names one: 64 hex digits (0x optional) or a decimal
    certificate id."""
    text = reference.strip().lower()
    if re.fullmatch(r"(0x)?[0-9a-f]{64}", text):
        return bytes.fromhex(text.removeprefix("0x"))
    if re.fullmatch(r"[0-9]{1,78}", text) and 0 < int(text) < 2**256:
        return int(text).to_bytes(32, "big")
    return None


def ask_service_for_match(api_url: str, data: bytes, filename: str, chain: CertificateSource | None,
                          timeout_s: float = 120.0, token: str | None = None) -> ServiceMatch:
    """Asks a Tracemark service (`POST /v1/match/search`) for the registered image nearest to a file.

    The answer relies on the service; when the nearest image's id names a content hash and a chain reader is
    given, its certificate is read from the chain.
    """
    base = api_url.rstrip("/")
    note = (f"This part relies on the Tracemark service at {base}: its index and matching engine chose the nearest "
            "registered image. Only the certificate shown for it was read from the chain.")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.post(f"{base}/v1/match/search", files={"image": (filename, data)}, headers=headers,
                              timeout=timeout_s)
    except httpx.HTTPError as exc:
        return ServiceMatch(service=base, note=note, error=f"the service cannot be reached: {exc}")
    if response.status_code != 200:
        try:
            detail = str(response.json().get("detail") or response.json().get("error") or response.text)
        except ValueError:
            detail = response.text[:300]
        if response.status_code == 401:
            detail += " (the service's matching needs a signed-in session: pass its token)"
        return ServiceMatch(service=base, note=note,
                            error=f"the service answered {response.status_code}: {detail[:300]}")
    try:
        matches = [Match.model_validate(m) for m in response.json().get("matches", [])]
    except (ValueError, ValidationError, AttributeError) as exc:
        return ServiceMatch(service=base, note=note, error=f"the service's answer is not a match list: {exc}")
    if not matches:
        return ServiceMatch(service=base, note=note, error=None, reference=None)
    best = max(matches, key=lambda m: m.score)
    answer = ServiceMatch(service=base, note=note, reference=best.id, score=best.score,
                          edits=best.edits.model_dump(mode="json"))
    content_hash = content_hash_of_reference(best.id)
    if chain is not None and content_hash is not None:
        try:
            found = chain.read(content_hash)
        except ChainUnavailableError as exc:
            answer.error = f"the matched certificate could not be read from the chain: {exc}"
        else:
            if found is not None:
                answer.certificate = _certificate_facts(found)
    return answer
