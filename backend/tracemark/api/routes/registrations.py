"""`/v1/registrations`: apply to register an uploaded original, follow the application, get it minted.

- `POST /v1/registrations/declaration` gives the declaration of authorship to sign (EIP-191) with the wallet that
  will hold the certificate; `POST /v1/registrations` applies with that signature and answers with the audit and
  where the application went: `audit_failed`, `in_review` (a caseworker decides), or `published` with the
  attestation (EIP-712 typed data, the verifier's signature, and the call data for the wallet to send), or
  `minting` when the service was asked to relay the transaction.
- `GET /v1/registrations/{id}` follows an application (and notices the mint); `POST .../relay` asks the service to
  send the transaction; `POST .../transaction` records the hash the wallet sent; `POST .../attestation` signs a
  fresh attestation after one expired.

Every route needs a session and shows only the caller's applications: anyone else's answer 404.
The `Server-Timing` header of the answers says where the time went (audit, pin, sign, mint).
A `RegistrationError` the service raises becomes its status and message in the app's exception handler
(`tracemark.api.app.registration_refused`), so the routes here do not catch it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Response, status
from pydantic import BaseModel, Field
from web3 import Web3

from tracemark.api.security import SessionDep
from tracemark.api.services import RegistrationServiceDep
from tracemark.services.registration import (
    MAX_ROYALTY_BPS,
    Application,
    RegistrationError,
    RegistrationView,
    Result,
)
from tracemark.store.registration_repository import MAX_PAGE

router = APIRouter(prefix="/v1/registrations", tags=["registrations"])

SHA256_PATTERN = r"^(0x)?[0-9a-fA-F]{64}$"
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "No valid session."},
    404: {"description": "No such registration or original of the caller."},
    409: {"description": "The registration is not in a state that allows this."},
    503: {"description": "The chain, IPFS or a key is not available."},
}


class DeclarationCreate(BaseModel):
    """What a declaration of authorship names."""

    original: str = Field(pattern=SHA256_PATTERN, description="SHA-256 of the uploaded original.")
    title: str = Field(min_length=1, max_length=200)
    creator_name: str = Field(default="", max_length=200)


class DeclarationPublic(BaseModel):
    """The text to sign with the holder's wallet (EIP-191 personal_sign)."""

    text: str


class ApplicationCreate(DeclarationCreate):
    """An application to register an uploaded original."""

    declaration_signature: str = Field(min_length=1, max_length=200, description="EIP-191 signature, 0x hex.")
    royalty_bps: int = Field(default=0, ge=0, le=MAX_ROYALTY_BPS, description="ERC-2981 royalty in basis points.")
    captured_at: str | None = Field(default=None, max_length=64, description="When the photo was taken (ISO 8601).")
    licence_terms: dict[str, Any] = Field(default_factory=dict, description="The holder's licence terms.")
    relay: bool = Field(default=False, description="Ask the service to send the registration transaction.")


class CheckPublic(BaseModel):
    """One audit check."""

    check: str
    outcome: str = Field(description="pass | review | fail")
    reason: str
    details: dict[str, Any]


class AuditPublic(BaseModel):
    """The audit report: the worst outcome, its SHA-256 (recorded in the metadata), every check."""

    outcome: str
    digest: str
    checks: list[CheckPublic]


class ReviewPublic(BaseModel):
    """A caseworker's decision."""

    reviewer: str
    reason: str
    at: datetime


class AttestationPublic(BaseModel):
    """The verifier's EIP-712 attestation: send `calldata` to `contract` (or `register(message, signature)`)."""

    typed_data: dict[str, Any] = Field(description="EIP-712 typed data (eth_signTypedData_v4 shape).")
    signature: str
    contract: str
    calldata: str
    deadline: int = Field(description="Unix time after which the attestation is void.")


class TransitionPublic(BaseModel):
    """A change of status: who, when, why."""

    from_status: str | None
    to_status: str
    actor: str
    reason: str
    at: datetime


class RegistrationPublic(BaseModel):
    """An application and how far it got."""

    id: str
    status: str = Field(description="audit_failed | in_review | approved | rejected | published | minting | minted")
    owner: str
    original: str
    chain_id: int
    title: str
    creator_name: str
    declared: dict[str, Any]
    audit: AuditPublic
    review: ReviewPublic | None
    metadata_cid: str | None
    metadata_uri: str | None
    metadata_digest: str | None
    preview_cid: str | None
    fingerprint: str | None
    attestation: AttestationPublic | None
    tx_hash: str | None
    relayed: bool
    mint_error: str | None
    certificate_id: str | None = Field(description="The certificate (token id, decimal) once minted.")
    minted_block: int | None
    created_at: datetime
    updated_at: datetime
    history: list[TransitionPublic]
    problem: str | None = Field(default=None, description="Why the last step stopped short, if it did.")


class TransactionCreate(BaseModel):
    """The hash of the registration transaction the wallet sent."""

    tx_hash: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$")


def public(view: RegistrationView, problem: str | None = None) -> RegistrationPublic:
    """The answer for an application."""
    attestation = None
    if view.attestation is not None:
        attestation = AttestationPublic(**view.attestation,
                                        deadline=int(view.attestation["typed_data"]["message"]["deadline"]))
    review = None
    if view.reviewer is not None and view.review_reason is not None and view.reviewed_at is not None:
        review = ReviewPublic(reviewer=Web3.to_checksum_address(view.reviewer), reason=view.review_reason,
                              at=view.reviewed_at)
    return RegistrationPublic(
        id=view.id, status=view.status.value, owner=Web3.to_checksum_address(view.owner), original=view.sha256,
        chain_id=view.chain_id, title=view.title, creator_name=view.creator_name, declared=view.declared,
        audit=AuditPublic(outcome=view.report["outcome"], digest=view.audit_digest,
                          checks=[CheckPublic(**c) for c in view.report["checks"]]),
        review=review, metadata_cid=view.metadata_cid,
        metadata_uri=f"ipfs://{view.metadata_cid}" if view.metadata_cid else None,
        metadata_digest=view.metadata_digest, preview_cid=view.preview_cid, fingerprint=view.fingerprint,
        attestation=attestation, tx_hash=view.tx_hash, relayed=view.relayed, mint_error=view.mint_error,
        certificate_id=str(int(view.certificate_id, 16)) if view.certificate_id else None,
        minted_block=view.minted_block, created_at=view.created_at, updated_at=view.updated_at,
        history=[TransitionPublic(from_status=t.from_status, to_status=t.to_status, actor=t.actor, reason=t.reason,
                                  at=t.at) for t in view.history],
        problem=problem,
    )


def answer(result: Result, response: Response) -> RegistrationPublic:
    """The public answer of a step, with its `Server-Timing` header."""
    if result.timings:
        response.headers["Server-Timing"] = ", ".join(
            f"{stage};dur={seconds * 1000:.1f}" for stage, seconds in result.timings.items()
        )
    return public(result.registration, result.problem)


def refused(exc: RegistrationError) -> HTTPException:
    """The HTTP answer of a refused request (for routes that convert it themselves, as `review` does)."""
    return HTTPException(exc.status, detail=exc.message)


def _sha(value: str) -> str:
    return value.lower().removeprefix("0x")


@router.post("/declaration", response_model=DeclarationPublic, responses=ERRORS)
def declaration(body: Annotated[DeclarationCreate, Body()], caller: SessionDep,
                service: RegistrationServiceDep) -> DeclarationPublic:
    """The declaration of authorship to sign for one of the caller's originals, a title and a creator name."""
    text = service.declaration_of_original(caller.address, _sha(body.original), body.title, body.creator_name)
    return DeclarationPublic(text=text)


@router.post("", response_model=RegistrationPublic, status_code=status.HTTP_201_CREATED, responses=ERRORS)
def apply(body: Annotated[ApplicationCreate, Body()], caller: SessionDep, service: RegistrationServiceDep,
          response: Response) -> RegistrationPublic:
    """Applies to register an uploaded original: audits it and takes it as far as it can go."""
    application = Application(
        sha256=_sha(body.original), title=body.title, creator_name=body.creator_name,
        declaration_signature=body.declaration_signature, royalty_bps=body.royalty_bps,
        captured_at=body.captured_at, licence_terms=body.licence_terms, relay=body.relay,
    )
    return answer(service.apply(caller.address, application), response)


@router.get("", response_model=list[RegistrationPublic], responses={401: ERRORS[401]})
def list_registrations(caller: SessionDep, service: RegistrationServiceDep,
                       limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> list[RegistrationPublic]:
    """The caller's applications, newest first."""
    return [public(view) for view in service.list_of(caller.address, limit)]


@router.get("/{registration_id}", response_model=RegistrationPublic, responses=ERRORS)
def get_registration(registration_id: str, caller: SessionDep, service: RegistrationServiceDep) -> RegistrationPublic:
    """One of the caller's applications (its mint checked against the chain)."""
    return public(service.owned(caller.address, registration_id[:64]))


@router.post("/{registration_id}/relay", response_model=RegistrationPublic, responses=ERRORS)
def relay(registration_id: str, caller: SessionDep, service: RegistrationServiceDep,
          response: Response) -> RegistrationPublic:
    """Asks the service to send the registration transaction from its relayer account."""
    return answer(service.relay(caller.address, registration_id[:64]), response)


@router.post("/{registration_id}/transaction", response_model=RegistrationPublic, responses=ERRORS)
def transaction(registration_id: str, body: Annotated[TransactionCreate, Body()], caller: SessionDep,
                service: RegistrationServiceDep) -> RegistrationPublic:
    """Records the registration transaction the caller's wallet sent."""
    return public(service.submitted(caller.address, registration_id[:64], body.tx_hash).registration)


@router.post("/{registration_id}/attestation", response_model=RegistrationPublic, responses=ERRORS)
def attestation(registration_id: str, caller: SessionDep, service: RegistrationServiceDep,
                response: Response) -> RegistrationPublic:
    """Signs a fresh attestation for an approved or published application (e.g. after one expired)."""
    return answer(service.reattest(caller.address, registration_id[:64]), response)
