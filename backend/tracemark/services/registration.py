"""Registering an image: the audit, the review, the IPFS publication, the attestation and the mint.

    POST /v1/registrations ----> apply(): the original (uploaded by the applicant) is audited
        1. exact duplicate: the indexer's certificates (and the chain itself), and pending applications
        2. near duplicates: the matching index of registered images (kept here: an image joins it when its
           application passes or goes to review, and leaves it when rejected)
        3. earlier sightings on the web (`SightingsRepository`: the crawler's sightings table, `StoredSightings`)
        4. EXIF / XMP / IPTC creator fields against the declared name
        5. the declaration of authorship, signed (EIP-191) by the wallet that will hold the certificate
    fail   -> audit_failed (the report says why)
    review -> in_review: a caseworker approves or rejects it with a reason (`decide`)
    pass / approved -> publish_certificate() pins preview and metadata -> the verifier signs the EIP-712
        attestation -> `published`: the answer carries typed data, signature and calldata for the wallet; or,
        when asked, the relayer account sends the transaction -> `minting`
    -> `minted` once the chain shows the certificate (the indexer's table, the transaction's receipt, or
       `certificateOf`), checked whenever the application is read.

The domain rules (the checks, the statuses and their moves, the declaration's text) live in `tracemark.domain`;
this module joins them to the store, the originals folder, the matching index, IPFS and the chain.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound

from tracemark.chain.contracts import abi_of
from tracemark.chain.deployments import Deployment
from tracemark.chain.eip712 import CERTIFICATE_DOMAIN, Domain, Registration, sign, typed_data
from tracemark.chain.node import ChainUnavailableError
from tracemark.domain.application import (
    HOLDS_IMAGE,
    Status,
    TransitionError,
    check_move,
    check_pending_duplicate,
    declaration_text,
    status_after_audit,
)
from tracemark.domain.registration import (
    AuditReport,
    CheckResult,
    EarlierSighting,
    Outcome,
    RegisteredMatch,
    canonical_json,
    check_creator_metadata,
    check_declaration,
    check_earlier_sightings,
    check_exact_duplicate,
    check_near_duplicates,
)
from tracemark.ipfs import ContentStore, ContentUnavailableError
from tracemark.ipfs import IntegrityError as ContentIntegrityError
from tracemark.matching import MatchIndex, MatchingError, UnknownReferenceError
from tracemark.services.publication import PublicationError, publish_certificate
from tracemark.storage import OriginalStore, creator_fields
from tracemark.store import Database
from tracemark.store import registration_repository as repo
from tracemark.store.chain_repository import ChainState
from tracemark.store.registration_models import RegistrationRecord
from tracemark.store.sighting_models import SightingRecord, SiteRecord

log = logging.getLogger(__name__)

LOCAL_CHAIN_ID = 31337
DEV_VERIFIER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
DEV_RELAYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
MAX_ROYALTY_BPS = 2500
MAX_TITLE = 200
_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
SERVICE_ACTOR = "service"

class RegistrationError(Exception):
    """A request the service refuses: `status` is the HTTP status to answer with, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- ports ------------------------------------------------------------------------------------------------------


class SightingsRepository(Protocol):
    """Where the crawler's sightings are read (the crawler's tables come later; `NoSightings` until then)."""

    def earlier_sightings(self, sha256: str, image: bytes) -> Sequence[EarlierSighting]:
        """Sightings on the web of this image (byte-identical or a verified copy)."""
        ...


class NoSightings:
    """No crawl data yet: no image has been seen anywhere."""

    def earlier_sightings(self, sha256: str, image: bytes) -> Sequence[EarlierSighting]:
        """Nothing."""
        return ()


class StoredSightings:
    """The crawler's sightings in the store: pages where these exact bytes were fetched (`image_sha256`), or where
    the crawl matched an image to this one as a reference of the matching index."""

    def __init__(self, database: Database, limit: int = 50) -> None:
        self.database = database
        self.limit = limit

    def earlier_sightings(self, sha256: str, image: bytes) -> Sequence[EarlierSighting]:
        """The sightings of this image, earliest first."""
        query = (
            select(SightingRecord.page_url, SiteRecord.host, SightingRecord.first_seen)
            .join(SiteRecord, SiteRecord.id == SightingRecord.site_id)
            .where(or_(SightingRecord.image_sha256 == sha256, SightingRecord.reference_id == sha256))
            .order_by(SightingRecord.first_seen).limit(self.limit)
        )
        with self.database.read() as session:
            return [EarlierSighting(page_url=str(page), site=str(host), first_seen=first)
                    for page, host, first in session.execute(query).all()]


@dataclass(frozen=True)
class Receipt:
    """A mined transaction: whether it succeeded, and its block."""

    ok: bool
    block: int


class RegistrarRefusedError(Exception):
    """The chain refused a registration (the message names the contract's error)."""


class Registrar(Protocol):
    """The `ImageCertificate` contract, as the service needs it."""

    chain_id: int
    contract_address: str

    def is_registered(self, content_hash: bytes) -> bool:
        """Whether a certificate exists for the content hash."""
        ...

    def calldata(self, registration: Registration, signature: bytes) -> str:
        """The `register(registration, signature)` call data, 0x hex."""
        ...

    def send(self, registration: Registration, signature: bytes, key: str) -> str:
        """Sends `register` from the account of `key`; returns the transaction hash."""
        ...

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt of a transaction, None while it is not mined."""
        ...


class Web3Registrar:
    """`Registrar` over JSON-RPC. Transactions are signed locally; one sender at a time (nonces in order)."""

    def __init__(self, rpc_url: str, deployment: Deployment, timeout_s: float = 10.0) -> None:
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        self.chain_id = deployment.chain_id
        self.contract_address = deployment.address_of("ImageCertificate")
        self.contract = self.w3.eth.contract(address=Web3.to_checksum_address(self.contract_address),
                                             abi=abi_of("ImageCertificate"))
        self._errors = {
            Web3.keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")[:4].hex(): e["name"]
            for e in abi_of("ImageCertificate") if e.get("type") == "error"
        }
        self._lock = threading.Lock()

    def _refusal(self, exc: Exception) -> RegistrarRefusedError:
        data = str(getattr(exc, "data", "") or exc)
        for selector, name in self._errors.items():
            if selector.removeprefix("0x") in data:
                return RegistrarRefusedError(f"the certificate contract refused the registration: {name}")
        return RegistrarRefusedError(f"the certificate contract refused the registration: {exc}")

    def is_registered(self, content_hash: bytes) -> bool:
        """Whether `certificateOf(contentHash)` names a certificate."""
        try:
            return int(self.contract.functions.certificateOf(content_hash).call()) != 0
        except Exception as exc:
            raise ChainUnavailableError(f"cannot read the certificate contract: {exc}") from exc

    def calldata(self, registration: Registration, signature: bytes) -> str:
        """ABI-encoded `register` call."""
        return str(self.contract.encode_abi("register", args=[astuple(registration), signature]))

    def send(self, registration: Registration, signature: bytes, key: str) -> str:
        """Signs and sends `register` from the key's account.

        Raises:
            RegistrarRefusedError: the contract would revert (checked by gas estimation before sending).
            ChainUnavailableError: the node does not answer.
        """
        account = Account.from_key(key)
        call = self.contract.functions.register(astuple(registration), signature)
        with self._lock:
            try:
                nonce = self.w3.eth.get_transaction_count(account.address, "pending")
                tx = call.build_transaction({"from": account.address, "nonce": nonce, "chainId": self.chain_id})
            except (ContractCustomError, ContractLogicError) as exc:
                raise self._refusal(exc) from exc
            except Exception as exc:
                raise ChainUnavailableError(f"cannot prepare the transaction: {exc}") from exc
            signed = account.sign_transaction(tx)
            try:
                return str(self.w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex())
            except Exception as exc:
                raise ChainUnavailableError(f"the node did not accept the transaction: {exc}") from exc

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The transaction's receipt, or None while it is pending."""
        try:
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        except Exception as exc:
            raise ChainUnavailableError(f"cannot read the receipt of {tx_hash}: {exc}") from exc
        return Receipt(ok=int(receipt["status"]) == 1, block=int(receipt["blockNumber"]))


# --- what the service answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    """What an applicant asks for."""

    sha256: str
    title: str
    creator_name: str
    declaration_signature: str
    royalty_bps: int = 0
    captured_at: str | None = None
    licence_terms: dict[str, Any] = field(default_factory=dict)
    relay: bool = False


@dataclass(frozen=True)
class Transition:
    """One recorded change of status."""

    from_status: str | None
    to_status: str
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class RegistrationView:
    """An application as stored, detached from the database."""

    id: str
    owner: str
    sha256: str
    chain_id: int
    status: Status
    title: str
    creator_name: str
    declared: dict[str, Any]
    report: dict[str, Any]
    audit_digest: str
    reviewer: str | None
    review_reason: str | None
    reviewed_at: datetime | None
    metadata_cid: str | None
    metadata_digest: str | None
    preview_cid: str | None
    fingerprint: str | None
    attestation: dict[str, Any] | None
    tx_hash: str | None
    relayed: bool
    mint_error: str | None
    certificate_id: str | None
    minted_block: int | None
    created_at: datetime
    updated_at: datetime
    history: list[Transition]


@dataclass(frozen=True)
class Result:
    """An application after a step, and where the step's time went (seconds by stage)."""

    registration: RegistrationView
    timings: dict[str, float]
    problem: str | None = None


def _view(record: RegistrationRecord, history: Sequence[Any]) -> RegistrationView:
    return RegistrationView(
        id=record.id, owner=record.owner, sha256=record.sha256, chain_id=record.chain_id, status=Status(record.status),
        title=record.title, creator_name=record.creator_name, declared=json.loads(record.declared),
        report=json.loads(record.audit_report), audit_digest=record.audit_digest, reviewer=record.reviewer,
        review_reason=record.review_reason, reviewed_at=record.reviewed_at, metadata_cid=record.metadata_cid,
        metadata_digest=record.metadata_digest, preview_cid=record.preview_cid, fingerprint=record.fingerprint,
        attestation=json.loads(record.attestation) if record.attestation else None, tx_hash=record.tx_hash,
        relayed=record.relayed, mint_error=record.mint_error, certificate_id=record.certificate_id,
        minted_block=record.minted_block, created_at=record.created_at, updated_at=record.updated_at,
        history=[Transition(t.from_status, t.to_status, t.actor, t.reason, t.at) for t in history],
    )


def report_from_json(document: dict[str, Any]) -> AuditReport:
    """An audit report read back from its stored JSON (its digest is unchanged)."""
    return AuditReport(tuple(
        CheckResult(c["check"], Outcome(c["outcome"]), c["reason"], dict(c.get("details") or {}))
        for c in document["checks"]
    ))


def recover_signer(text: str, signature: str) -> str | None:
    """The address that signed `text` (EIP-191), or None for a malformed signature."""
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception:  # eth-account raises several error types for malformed signatures
        return None


# --- the service ------------------------------------------------------------------------------------------------


class RegistrationService:
    """The registration use cases.

    Args:
        database: The store.
        originals: The private folder of originals.
        content_store: Where metadata and previews are pinned.
        index: The matching index of registered images (reference id = the image's SHA-256).
        registrar: The certificate contract.
        verifier_key: Signs attestations; None: attestations cannot be issued (503).
        relayer_key: Sends registrations when asked; None: relaying is off (503).
        sightings: Earlier sightings on the web.
        attestation_ttl_s: How long an attestation stays valid.
        clock: The current time (tests).
    """

    def __init__(self, database: Database, originals: OriginalStore, content_store: ContentStore, index: MatchIndex,
                 registrar: Registrar, *, verifier_key: str | None, relayer_key: str | None = None,
                 sightings: SightingsRepository | None = None, attestation_ttl_s: int = 3600,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.database = database
        self.originals = originals
        self.content_store = content_store
        self.index = index
        self.registrar = registrar
        self.verifier_key = verifier_key
        self.relayer_key = relayer_key
        self.sightings: SightingsRepository = sightings or NoSightings()
        self.attestation_ttl_s = attestation_ttl_s
        self.clock = clock
        self.domain = Domain(*CERTIFICATE_DOMAIN, chain_id=registrar.chain_id,
                             verifying_contract=Web3.to_checksum_address(registrar.contract_address))

    @property
    def chain_id(self) -> int:
        """The chain certificates are minted on."""
        return self.registrar.chain_id

    def refingerprint_stale(self) -> int:
        """Fingerprints again, from the originals, every registered image whose fingerprint an older version of the
        matching engine made (the engine searches only current fingerprints); returns how many were redone."""
        redone = 0
        for ref_id in list(self.index.stale):
            holder = self._holder_of(ref_id) if _SHA256.match(ref_id) else None
            if holder is None:
                continue
            try:
                self.index.add(ref_id, self.originals.get(ref_id), origin=f"registration {holder[0]}")
                redone += 1
            except Exception as exc:  # one unreadable original must not keep the service from starting
                log.warning("registered image %s could not be fingerprinted again: %s", ref_id, exc)
        return redone

    # ---- reading ----------------------------------------------------------------------------------------------

    def declaration(self, applicant: str, sha256: str, title: str, creator_name: str) -> str:
        """The declaration of authorship the applicant must sign for this image, title and name."""
        return declaration_text(sha256=sha256, title=title.strip(), creator_name=creator_name.strip(),
                                holder=Web3.to_checksum_address(applicant), chain_id=self.chain_id)

    def declaration_of_original(self, applicant: str, sha256: str, title: str, creator_name: str) -> str:
        """The declaration for one of the applicant's originals.

        Raises:
            RegistrationError: 404 when the applicant did not upload that original.
        """
        with self.database.read() as session:
            if repo.original_of(session, sha256, applicant) is None:
                raise RegistrationError(404, "no such original: upload it first (POST /v1/originals)")
        return self.declaration(applicant, sha256, title, creator_name)

    def view(self, registration_id: str) -> RegistrationView:
        """An application by id, for whoever may see it (the caller checks).

        Raises:
            RegistrationError: 404 when there is none.
        """
        with self.database.read() as session:
            record = repo.registration(session, registration_id)
            if record is None:
                raise RegistrationError(404, "no such registration")
            return _view(record, repo.transitions_of(session, registration_id))

    def owned(self, applicant: str, registration_id: str) -> RegistrationView:
        """An application of the applicant, its mint checked against the chain; 404 for anyone else's."""
        current = self.view(registration_id)
        if current.owner != applicant.lower():
            raise RegistrationError(404, "no such registration")
        if current.status in (Status.PUBLISHED, Status.MINTING):
            self.refresh(registration_id)
            current = self.view(registration_id)
        return current

    def list_of(self, applicant: str, limit: int = 50) -> list[RegistrationView]:
        """The applicant's applications, newest first."""
        with self.database.read() as session:
            return [_view(r, repo.transitions_of(session, r.id)) for r in repo.registrations_of(session, applicant,
                                                                                                 limit)]

    def queue(self, status: Status = Status.IN_REVIEW, limit: int = 50) -> list[RegistrationView]:
        """Applications with a status, oldest first (the caseworkers' queue)."""
        with self.database.read() as session:
            return [_view(r, repo.transitions_of(session, r.id)) for r in repo.registrations_in(session, status,
                                                                                                limit)]

    # ---- applying ---------------------------------------------------------------------------------------------

    def apply(self, applicant: str, application: Application) -> Result:
        """Audits an application and takes it as far as it can go: audit_failed, in_review, or published (and
        minting, when relaying was asked for).

        Raises:
            RegistrationError: 404 when the original is not the applicant's; 409 when the applicant has an
                application for this image already; 422 for a malformed application.
        """
        applicant = applicant.lower()
        timings: dict[str, float] = {}
        self._check_fields(application)
        with self.database.read() as session:
            if repo.original_of(session, application.sha256, applicant) is None:
                raise RegistrationError(404, "no such original: upload it first (POST /v1/originals)")
            holding = repo.active_registration_of_image(session, application.sha256)
            if holding is not None and holding.owner == applicant:
                raise RegistrationError(
                    409, f"you have applied for this image already: registration {holding.id} ({holding.status})"
                )
        data = self.originals.get(application.sha256)
        now = self.clock()
        with _timed(timings, "audit"):
            report = self._audit(applicant, application, data, now)
        registration_id = secrets.token_hex(16)
        status = status_after_audit(report.outcome)
        try:
            self._insert(registration_id, applicant, application, report, status, now)
        except IntegrityError:  # another application took the image between the audit and now
            holder = self._holder_of(application.sha256) or ("?", "?")
            taken = check_pending_duplicate(holder[0], holder[1], applicant)
            checks = tuple(taken if c.check == "exact_duplicate" else c for c in report.checks)
            report, status = AuditReport(checks), Status.AUDIT_FAILED
            self._insert(registration_id, applicant, application, report, status, now)
        if status in HOLDS_IMAGE:
            with _timed(timings, "index"):
                self._index(application.sha256, data, registration_id)
        problem = None
        if status == Status.APPROVED:
            try:
                self._publish_and_attest(registration_id, SERVICE_ACTOR, timings)
                if application.relay:
                    with _timed(timings, "mint"):
                        self._relay(registration_id, applicant)
            except RegistrationError as exc:
                problem = exc.message
        return Result(self.view(registration_id), timings, problem)

    def _check_fields(self, application: Application) -> None:
        if not _SHA256.match(application.sha256):
            raise RegistrationError(422, "original must be the SHA-256 of an uploaded original (64 hex digits)")
        if not application.title.strip() or len(application.title) > MAX_TITLE:
            raise RegistrationError(422, f"a title of 1 to {MAX_TITLE} characters is needed")
        if len(application.creator_name) > MAX_TITLE:
            raise RegistrationError(422, f"the creator name may have at most {MAX_TITLE} characters")
        if not 0 <= application.royalty_bps <= MAX_ROYALTY_BPS:
            raise RegistrationError(422, f"royalty_bps must be between 0 and {MAX_ROYALTY_BPS}")

    def _audit(self, applicant: str, application: Application, data: bytes, now: datetime) -> AuditReport:
        sha = application.sha256
        checks = [self._exact_duplicate(applicant, sha), self._near_duplicates(applicant, sha, data)]
        checks.append(check_earlier_sightings(self.sightings.earlier_sightings(sha, data), now))
        checks.append(check_creator_metadata(application.creator_name.strip(), creator_fields(data)))
        text = self.declaration(applicant, sha, application.title, application.creator_name)
        checks.append(check_declaration(recover_signer(text, application.declaration_signature), applicant))
        return AuditReport(tuple(checks))

    def _exact_duplicate(self, applicant: str, sha: str) -> CheckResult:
        with self.database.read() as session:
            state = ChainState(session, self.chain_id)
            point = state.read_point(unconfirmed=True)
            if point is not None and state.certificate(sha, point) is not None:
                return check_exact_duplicate(int(sha, 16))
        holder = self._holder_of(sha)
        try:
            if self.registrar.is_registered(bytes.fromhex(sha)):  # minted, but not indexed yet
                return check_exact_duplicate(int(sha, 16))
        except ChainUnavailableError as exc:
            raise RegistrationError(503, f"the chain cannot be read to check for duplicates: {exc}") from exc
        return check_pending_duplicate(holder[0] if holder else None, holder[1] if holder else None, applicant)

    def _holder_of(self, sha: str) -> tuple[str, str] | None:
        """(registration id, owner) of the application that holds an image now, if any."""
        with self.database.read() as session:
            record = repo.active_registration_of_image(session, sha)
            return (record.id, record.owner) if record is not None else None

    def _near_duplicates(self, applicant: str, sha: str, data: bytes) -> CheckResult:
        try:
            matches = self.index.search(data)
        except MatchingError as exc:
            return CheckResult("near_duplicate", Outcome.REVIEW,
                               f"the image could not be compared with registered images ({exc}); a caseworker checks")
        with self.database.read() as session:
            holders = repo.holders_of_images(session, [m.id for m in matches])
        registered = [
            RegisteredMatch(reference=f"image {m.id}", holder=holders[m.id], score=m.score, coverage=m.edits.coverage)
            for m in matches if m.id in holders and m.id != sha
        ]
        return check_near_duplicates(registered, applicant)

    def _insert(self, registration_id: str, applicant: str, application: Application, report: AuditReport,
                status: Status, now: datetime) -> None:
        check_move(None, status)
        declared = {"royalty_bps": application.royalty_bps, "captured_at": application.captured_at,
                    "licence_terms": application.licence_terms}
        text = self.declaration(applicant, application.sha256, application.title, application.creator_name)
        record = RegistrationRecord(
            id=registration_id, owner=applicant, sha256=application.sha256,
            active_sha256=application.sha256 if status in HOLDS_IMAGE else None, chain_id=self.chain_id,
            title=application.title.strip(), creator_name=application.creator_name.strip(), declaration=text,
            declaration_signature=application.declaration_signature[:140],
            declared=canonical_json(declared).decode(), status=status.value,
            audit_report=canonical_json(report.as_dict()).decode(), audit_digest=report.digest(),
            audit_outcome=report.outcome.value, relayed=False, created_at=now, updated_at=now,
        )
        reason = {Status.AUDIT_FAILED: "the audit failed", Status.IN_REVIEW: "the audit asks for a caseworker's review",
                  Status.APPROVED: "every audit check passed"}[status]
        with self.database.write() as session:
            session.add(record)
            session.flush()
            repo.record_transition(session, registration_id, None, status.value, SERVICE_ACTOR, reason, now)

    def _index(self, sha: str, data: bytes, registration_id: str) -> None:
        try:
            self.index.add(sha, data, origin=f"registration {registration_id}")
        except (MatchingError, ValueError) as exc:  # the image was accepted; a failure here only weakens matching
            log.warning("image %s of registration %s not added to the matching index: %s", sha, registration_id, exc)

    # ---- moving an application on ----------------------------------------------------------------------------

    def _move(self, registration_id: str, target: Status, actor: str, reason: str,
              expected: Sequence[Status] | None = None, **values: Any) -> None:
        now = self.clock()
        with self.database.write() as session:
            record = repo.registration(session, registration_id)
            if record is None:
                raise RegistrationError(404, "no such registration")
            current = Status(record.status)
            if expected is not None and current not in expected:
                raise RegistrationError(409, f"the registration is {current.value}, not "
                                             f"{' or '.join(s.value for s in expected)}")
            try:
                check_move(current, target)
            except TransitionError as exc:
                raise RegistrationError(409, str(exc)) from exc
            for name, value in values.items():
                setattr(record, name, value)
            record.status = target.value
            record.updated_at = now
            if target not in HOLDS_IMAGE:
                record.active_sha256 = None
            if current != target or reason:
                repo.record_transition(session, registration_id, current.value, target.value, actor, reason, now)

    def _publish_and_attest(self, registration_id: str, actor: str, timings: dict[str, float]) -> None:
        if self.verifier_key is None:
            raise RegistrationError(503, "no verifier key is configured: attestations cannot be signed")
        current = self.view(registration_id)
        if current.status not in (Status.APPROVED, Status.PUBLISHED):
            raise RegistrationError(409, f"the registration is {current.status.value}; only an approved or published "
                                         "registration gets an attestation")
        values: dict[str, Any] = {}
        if current.metadata_cid is None:
            report = report_from_json(current.report)
            if report.digest() != current.audit_digest:
                raise RegistrationError(500, "the stored audit report does not match its digest")
            data = self.originals.get(current.sha256)
            declared = current.declared
            with _timed(timings, "pin"):
                try:
                    publication = publish_certificate(
                        self.content_store, data, title=current.title, creator_name=current.creator_name,
                        holder=Web3.to_checksum_address(current.owner), audit=report,
                        captured_at=declared.get("captured_at"), licence_terms=declared.get("licence_terms") or {},
                    )
                except (ContentUnavailableError, ContentIntegrityError) as exc:
                    raise RegistrationError(503, f"the metadata could not be pinned to IPFS: {exc}") from exc
                except PublicationError as exc:
                    raise RegistrationError(422, f"the certificate could not be published: {exc}") from exc
            if publication.content_hash.hex() != current.sha256:
                raise RegistrationError(500, "the publication names another image than the registration")
            values = {"metadata_cid": publication.metadata_cid,
                      "metadata_digest": "0x" + publication.metadata_digest.hex(),
                      "preview_cid": publication.preview_cid, "fingerprint": "0x" + publication.fingerprint.hex()}
        metadata_digest = bytes.fromhex((values.get("metadata_digest") or current.metadata_digest or "")[2:])
        fingerprint = bytes.fromhex((values.get("fingerprint") or current.fingerprint or "")[2:])
        with _timed(timings, "sign"):
            registration = Registration(
                creator=Web3.to_checksum_address(current.owner), contentHash=bytes.fromhex(current.sha256),
                metadataDigest=metadata_digest, fingerprint=fingerprint,
                royaltyBps=int(current.declared.get("royalty_bps") or 0), nonce=secrets.randbits(63),
                deadline=int(self.clock().timestamp()) + self.attestation_ttl_s,
            )
            signature = sign(registration, self.domain, self.verifier_key).signature
            attestation = self._attestation(registration, signature)
        reason = "metadata pinned to IPFS and attestation signed" if values else "a new attestation was signed"
        self._move(registration_id, Status.PUBLISHED, actor, reason, expected=(Status.APPROVED, Status.PUBLISHED),
                   attestation=json.dumps(attestation), attestation_nonce=registration.nonce,
                   attestation_deadline=registration.deadline, mint_error=None, **values)

    def _attestation(self, registration: Registration, signature: bytes) -> dict[str, Any]:
        return {
            "typed_data": typed_data(registration, self.domain),
            "signature": "0x" + signature.hex(),
            "contract": self.domain.verifying_contract,
            "calldata": self.registrar.calldata(registration, signature),
        }

    def reattest(self, applicant: str, registration_id: str) -> Result:
        """Publishes (if not done yet) and signs a fresh attestation for the applicant's approved or published
        application, e.g. after the last one expired unused."""
        current = self.owned(applicant, registration_id)
        if current.status not in (Status.APPROVED, Status.PUBLISHED):
            raise RegistrationError(409, f"the registration is {current.status.value}; only an approved or "
                                         "published registration gets an attestation")
        timings: dict[str, float] = {}
        self._publish_and_attest(registration_id, applicant.lower(), timings)
        return Result(self.view(registration_id), timings)

    def relay(self, applicant: str, registration_id: str) -> Result:
        """Sends the applicant's attested registration from the relayer account."""
        self.owned(applicant, registration_id)
        timings: dict[str, float] = {}
        with _timed(timings, "mint"):
            self._relay(registration_id, applicant.lower())
        return Result(self.owned(applicant, registration_id), timings)

    def _relay(self, registration_id: str, actor: str) -> None:
        if self.relayer_key is None:
            raise RegistrationError(503, "relaying is not configured: submit the attestation from your wallet")
        current = self.view(registration_id)
        if current.status != Status.PUBLISHED or current.attestation is None:
            raise RegistrationError(409, f"the registration is {current.status.value}; only a published "
                                         "registration can be relayed")
        message = current.attestation["typed_data"]["message"]
        if int(message["deadline"]) <= int(self.clock().timestamp()):
            raise RegistrationError(409, "the attestation has expired; ask for a new one")
        registration = Registration(
            creator=message["creator"], contentHash=bytes.fromhex(message["contentHash"][2:]),
            metadataDigest=bytes.fromhex(message["metadataDigest"][2:]),
            fingerprint=bytes.fromhex(message["fingerprint"][2:]), royaltyBps=int(message["royaltyBps"]),
            nonce=int(message["nonce"]), deadline=int(message["deadline"]),
        )
        signature = bytes.fromhex(current.attestation["signature"][2:])
        try:
            tx_hash = self.registrar.send(registration, signature, self.relayer_key)
        except RegistrarRefusedError as exc:
            self._move(registration_id, Status.PUBLISHED, actor, "", expected=(Status.PUBLISHED,),
                       mint_error=str(exc))
            raise RegistrationError(409, str(exc)) from exc
        except ChainUnavailableError as exc:
            raise RegistrationError(503, f"the chain cannot be reached: {exc}") from exc
        self._move(registration_id, Status.MINTING, actor, f"transaction {tx_hash} sent by the relayer",
                   expected=(Status.PUBLISHED,), tx_hash=tx_hash, relayed=True, mint_error=None)

    def submitted(self, applicant: str, registration_id: str, tx_hash: str) -> Result:
        """Records the transaction the applicant's wallet sent, and checks it."""
        if not _TX_HASH.match(tx_hash):
            raise RegistrationError(422, "tx_hash must be 0x and 64 hex digits")
        current = self.view(registration_id)
        if current.owner != applicant.lower():
            raise RegistrationError(404, "no such registration")
        if current.status == Status.MINTED:  # the chain was quicker than the wallet's report
            if current.tx_hash is None:
                self._move(registration_id, Status.MINTED, applicant.lower(), "", expected=(Status.MINTED,),
                           tx_hash=tx_hash.lower())
            return Result(self.view(registration_id), {})
        self._move(registration_id, Status.MINTING, applicant.lower(), f"transaction {tx_hash} sent by the wallet",
                   expected=(Status.PUBLISHED, Status.MINTING), tx_hash=tx_hash.lower(), relayed=False,
                   mint_error=None)
        return Result(self.owned(applicant, registration_id), {})

    def refresh(self, registration_id: str) -> None:
        """Moves a published or minting application to minted once the chain shows its certificate (the indexer's
        table, the transaction's receipt, or the contract), or back to published when its transaction failed."""
        current = self.view(registration_id)
        if current.status not in (Status.PUBLISHED, Status.MINTING):
            return
        block: int | None = None
        minted = False
        tx_hash = current.tx_hash
        with self.database.read() as session:
            state = ChainState(session, self.chain_id)
            point = state.read_point(unconfirmed=True)
            found = state.certificate(current.sha256, point) if point is not None else None
            if found is not None:
                minted, block, tx_hash = True, found.registered_block, found.registered_tx
        try:
            if not minted and current.tx_hash:
                receipt = self.registrar.receipt(current.tx_hash)
                if receipt is not None and not receipt.ok:
                    self._move(registration_id, Status.PUBLISHED, SERVICE_ACTOR,
                               f"transaction {current.tx_hash} failed", expected=(Status.MINTING,),
                               mint_error=f"transaction {current.tx_hash} reverted in block {receipt.block}")
                    return
                if receipt is not None:
                    minted, block = True, receipt.block
            if not minted:
                minted = self.registrar.is_registered(bytes.fromhex(current.sha256))
        except ChainUnavailableError as exc:
            log.warning("cannot check the mint of registration %s: %s", registration_id, exc)
            return
        if minted:
            self._move(registration_id, Status.MINTED, SERVICE_ACTOR, "the chain shows the certificate",
                       expected=(Status.PUBLISHED, Status.MINTING), certificate_id=current.sha256, minted_block=block,
                       tx_hash=tx_hash)

    # ---- review -----------------------------------------------------------------------------------------------

    def decide(self, caseworker: str, registration_id: str, *, approve: bool, reason: str) -> Result:
        """A caseworker's decision on an application in review: approved ones are published and attested at once.

        Raises:
            RegistrationError: 403 for the caseworker's own application, 409 when it is not in review, 422 without
                a reason.
        """
        reason = reason.strip()
        if not reason:
            raise RegistrationError(422, "a decision needs a reason")
        current = self.view(registration_id)
        if current.owner == caseworker.lower():
            raise RegistrationError(403, "caseworkers do not decide their own applications")
        now = self.clock()
        target = Status.APPROVED if approve else Status.REJECTED
        self._move(registration_id, target, caseworker.lower(), reason, expected=(Status.IN_REVIEW,),
                   reviewer=caseworker.lower(), review_reason=reason, reviewed_at=now)
        timings: dict[str, float] = {}
        problem = None
        if approve:
            try:
                self._publish_and_attest(registration_id, SERVICE_ACTOR, timings)
            except RegistrationError as exc:
                problem = exc.message
        else:
            with suppress(UnknownReferenceError):
                self.index.remove(current.sha256)
        return Result(self.view(registration_id), timings, problem)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start
