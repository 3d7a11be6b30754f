"""`/v1/cases`: the holder's review of findings, the licence check, the compensation preview, claims, and the
caseworker's review queue (thin routes over `tracemark.services.cases`).

Holder (any signed-in wallet, for its own findings and cases only; another holder's are 404):

    POST /v1/cases/findings/{sighting_id}/review   legal | illegal | whitelist, with a reason
    POST /v1/cases/{case_id}/licence-check         run and record the licence check
    POST /v1/cases/{case_id}/preview               the compensation with its working and the fee split
    POST /v1/cases/{case_id}/claim                 submit the claim (standing checked on the indexed chain)
    GET  /v1/cases                                 the caller's cases;  GET /v1/cases/{case_id}: one, with history

    POST /v1/cases/{case_id}/withdrawal            withdraw an open case, with a reason (the scheduler stops)
    POST /v1/cases/{case_id}/notes                 a note to the caseworker (not shown to the recipient)
    GET  /v1/cases/payouts                         the confirmed on-chain settlements of the caller's cases

Caseworker: `GET /v1/cases/review-queue`, `POST /v1/cases/{case_id}/decision` (approve or reject, with a reason);
`POST /v1/cases/{case_id}/resumption` (a case the recipient's answer put on hold: resume it, or end it as
licence_shown, rejected or withdrawn, with a reason); `POST /v1/cases/{case_id}/messages` (a message both parties
see); `GET /v1/cases/payouts/all` (every confirmed settlement, with totals). `GET /v1/cases/{case_id}` shows any case
to a caseworker.

Both (the case's holder, or a caseworker): `GET /v1/cases/{case_id}/documents` lists the documents the recipient
uploaded with its answers; `GET /v1/cases/{case_id}/documents/{sha256}.{pdf|jpg|png}` downloads one (as an attachment,
never rendered inline; its sha256 checked on every read).

The service is built once per app (settings, store, chain and clock) and kept on `app.state`: it holds only
configuration and adapters, so concurrent requests share it safely.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from tracemark.api.deps import ChainIdDep, DatabaseDep, SettingsDep
from tracemark.api.security import CaseworkerDep, SessionDep
from tracemark.api.services import get_cases_service
from tracemark.cases.compensation import MatrixError, Medium, Prominence, Usage
from tracemark.cases.scheduler import ConcurrencyError
from tracemark.cases.workflow import Case, ClaimRefusedError, TransitionError, holder_history
from tracemark.services.cases import (
    MAX_STATEMENT,
    CaseNotFoundError,
    CasesService,
    ChainNotIndexedError,
    ClaimedUse,
    DocumentDamagedError,
    DocumentNotFoundError,
    HoldOutcome,
    Payout,
    StoredDocument,
    Verdict,
)

router = APIRouter(prefix="/v1/cases", tags=["cases"])

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "No valid session."},
    403: {"description": "Caseworkers only."},
    404: {"description": "No such case or finding, or not the caller's."},
    409: {"description": "The case is not in a state that allows this, or the claim is refused (reasons given)."},
    422: {"description": "A malformed request."},
    503: {"description": "The chain has not been indexed yet."},
}


def get_service(request: Request, database: DatabaseDep, settings: SettingsDep, chain: ChainIdDep) -> CasesService:
    """The app's cases service (`api.services.get_cases_service`)."""
    return get_cases_service(request, settings, database, chain())


ServiceDep = Annotated[CasesService, Depends(get_service)]


class HistoryPublic(BaseModel):
    """One line of a case's history."""

    at: datetime
    kind: str
    state: str
    who: str
    why: str


class LetterPublic(BaseModel):
    """A letter kept with the case."""

    kind: str
    language: str
    to: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None


class CasePublic(BaseModel):
    """A case as its holder (or a caseworker) sees it."""

    id: str
    certificate_id: str = Field(description="64 hex digits.")
    holder: str
    host: str
    page_url: str
    image_url: str
    country: str | None
    state: str
    open: bool
    on_hold: bool
    version: int
    licence_checks: list[dict[str, Any]]
    history: list[HistoryPublic]
    letters: list[LetterPublic] = Field(default_factory=list, description="Only in the view of one case.")


class ReviewIn(BaseModel):
    """The holder's review of a finding."""

    verdict: Verdict
    reason: str = Field(min_length=1, max_length=2000)


class UseIn(BaseModel):
    """How the image is used (the compensation's input)."""

    usage: Usage = Usage.COMMERCIAL
    medium: Medium = Medium.WEB
    display_width: int = Field(default=800, ge=1, le=100_000)
    prominence: Prominence = Prominence.STANDARD
    credit_given: bool = False
    aerial: bool = False
    models: bool = False

    def claimed(self) -> ClaimedUse:
        return ClaimedUse(self.usage, self.medium, self.display_width, self.prominence, self.credit_given,
                          self.aerial, self.models)


class ClaimIn(BaseModel):
    """A claim: the use and why."""

    use: UseIn = Field(default_factory=UseIn)
    reason: str = Field(default="claim submitted", min_length=1, max_length=2000)


class SplitPublic(BaseModel):
    """How an amount would be divided (smallest CPY units, as decimal strings)."""

    amount: str
    holder: str
    platform: str
    holder_bps: int
    explanation: str


class PreviewPublic(BaseModel):
    """The compensation with its working and the split, shown before a claim is submitted."""

    compensation: dict[str, Any]
    explanation: str
    split: SplitPublic
    offer_price: str | None = Field(description="The post-licence price (lowest live offer), smallest CPY units.")


class WithdrawalIn(BaseModel):
    """The holder's withdrawal of a case."""

    reason: str = Field(min_length=1, max_length=2000)


class ResumptionIn(BaseModel):
    """A caseworker's answer to a case on hold: resume it, or end it."""

    outcome: HoldOutcome
    reason: str = Field(min_length=1, max_length=2000)


class MessageIn(BaseModel):
    """A message (caseworker) or a note (holder) on a case."""

    text: str = Field(min_length=1, max_length=MAX_STATEMENT)


class DocumentPublic(BaseModel):
    """A document the recipient uploaded with an answer."""

    name: str = Field(description="`<sha256>.<pdf|jpg|png>`; download it at `documents/{name}`.")
    sha256: str
    media_type: str
    size: int
    answered_at: datetime | None


class PayoutPublic(BaseModel):
    """A confirmed settlement of a case on chain (smallest CPY units, as decimal strings)."""

    case_id: str
    amount: str
    holder_amount: str
    platform_amount: str
    holder: str
    treasury: str
    payer: str
    transaction: str


class PayoutsPublic(BaseModel):
    """Settlements with their sums (smallest CPY units, as decimal strings), newest first."""

    count: int
    total_amount: str
    total_holder: str
    total_platform: str
    payouts: list[PayoutPublic]


class DecisionIn(BaseModel):
    """A caseworker's decision on a claim."""

    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=2000)


def _public(case: Case) -> CasePublic:
    return CasePublic(
        id=case.case_id, certificate_id=format(case.certificate_id, "064x"), holder=case.holder, host=case.host,
        page_url=case.page_url, image_url=case.image_url, country=case.country, state=case.state.value,
        open=case.is_open, on_hold=case.on_hold, version=case.version,
        licence_checks=[c.as_dict() for c in case.licence_checks],
        history=[HistoryPublic(at=h.at, kind=h.kind.value, state=h.state.value, who=h.who, why=h.why)
                 for h in holder_history(case)],
    )


def _fail(exc: Exception) -> HTTPException:
    if isinstance(exc, CaseNotFoundError):
        return HTTPException(status.HTTP_404_NOT_FOUND, detail="no such case or finding")
    if isinstance(exc, DocumentNotFoundError):
        return HTTPException(status.HTTP_404_NOT_FOUND, detail="no such document")
    if isinstance(exc, DocumentDamagedError):
        return HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR,
                             detail="the stored document does not match its sha256; it is not served")
    if isinstance(exc, ConcurrencyError):
        return HTTPException(status.HTTP_409_CONFLICT, detail="the case changed meanwhile; read it again and retry")
    if isinstance(exc, ClaimRefusedError):
        return HTTPException(status.HTTP_409_CONFLICT, detail={"message": "claim refused", "reasons": exc.reasons})
    if isinstance(exc, TransitionError):
        return HTTPException(status.HTTP_409_CONFLICT, detail=str(exc))
    if isinstance(exc, ChainNotIndexedError):
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc))
    if isinstance(exc, MatrixError | ValueError):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=str(exc))
    raise exc


_HANDLED = (CaseNotFoundError, ClaimRefusedError, TransitionError, ChainNotIndexedError, ValueError,
            DocumentNotFoundError, DocumentDamagedError, ConcurrencyError)


def _document(d: StoredDocument) -> DocumentPublic:
    return DocumentPublic(name=d.name, sha256=d.sha256, media_type=d.media_type, size=d.size,
                          answered_at=d.answered_at)


def _payouts(payouts: list[Payout], limit: int, offset: int) -> PayoutsPublic:
    return PayoutsPublic(
        count=len(payouts), total_amount=str(sum(p.amount for p in payouts)),
        total_holder=str(sum(p.holder_amount for p in payouts)),
        total_platform=str(sum(p.platform_amount for p in payouts)),
        payouts=[PayoutPublic(case_id=p.case_id, amount=str(p.amount), holder_amount=str(p.holder_amount),
                              platform_amount=str(p.platform_amount), holder=p.holder, treasury=p.treasury,
                              payer=p.payer, transaction=p.tx_hash) for p in payouts[offset:offset + limit]],
    )


Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]
DocumentName = Annotated[str, Path(pattern=r"^[0-9a-f]{64}\.(pdf|jpg|png)$",
                                   description="`<sha256>.<pdf|jpg|png>`, as listed.")]


@router.get("", responses=ERRORS)
def list_cases(caller: SessionDep, service: ServiceDep, limit: Annotated[int, Query(ge=1, le=200)] = 50,
               offset: Annotated[int, Query(ge=0)] = 0) -> list[CasePublic]:
    """The caller's own cases, newest change first."""
    return [_public(c) for c in service.cases_of(caller.key, limit=limit, offset=offset)]


@router.get("/review-queue", responses=ERRORS)
def review_queue(caller: CaseworkerDep, service: ServiceDep) -> list[CasePublic]:
    """Claims waiting for a caseworker, oldest first."""
    return [_public(c) for c in service.review_queue()]


@router.get("/payouts", responses=ERRORS)
def my_payouts(caller: SessionDep, service: ServiceDep, limit: Limit = 50, offset: Offset = 0) -> PayoutsPublic:
    """The confirmed on-chain settlements of the caller's cases (amount, the holder's and the platform's share, the
    transaction), newest first, with the sums over all of them."""
    return _payouts(service.payouts_of(caller.key), limit, offset)


@router.get("/payouts/all", responses=ERRORS)
def all_payouts(caller: CaseworkerDep, service: ServiceDep, limit: Limit = 50, offset: Offset = 0) -> PayoutsPublic:
    """Every confirmed on-chain settlement of a case, newest first, with the sums (caseworkers)."""
    return _payouts(service.all_payouts(), limit, offset)


@router.post("/findings/{sighting_id}/review", responses=ERRORS)
def review_finding(sighting_id: int, body: ReviewIn, caller: SessionDep, service: ServiceDep) -> CasePublic:
    """The holder marks a finding legal, illegal, or whitelists its domain."""
    try:
        return _public(service.review_finding(sighting_id, caller.key, body.verdict, body.reason))
    except _HANDLED as exc:
        raise _fail(exc) from exc


@router.get("/{case_id}", responses=ERRORS)
def get_case(case_id: str, caller: SessionDep, service: ServiceDep) -> CasePublic:
    """One case with its full history: the caller's own, or any for a caseworker."""
    try:
        case = service.any_case(case_id) if caller.is_caseworker else service.case_of(case_id, caller.key)
    except _HANDLED as exc:
        raise _fail(exc) from exc
    public = _public(case)
    public.letters = [LetterPublic(kind=x.kind.value, language=x.language, to=x.to, subject=x.subject, body=x.body,
                                   created_at=x.created_at, sent_at=x.sent_at) for x in service.letters_of(case_id)]
    return public


@router.post("/{case_id}/licence-check", responses=ERRORS)
def licence_check(case_id: str, caller: SessionDep, service: ServiceDep) -> CasePublic:
    """Runs and records the licence check of one of the caller's illegal findings."""
    try:
        return _public(service.check_licence(case_id, caller.key))
    except _HANDLED as exc:
        raise _fail(exc) from exc


@router.post("/{case_id}/preview", responses=ERRORS)
def preview(case_id: str, body: UseIn, caller: SessionDep, service: ServiceDep) -> PreviewPublic:
    """The compensation with its working and the fee split, before a claim is submitted."""
    try:
        result = service.preview(case_id, caller.key, body.claimed())
    except _HANDLED as exc:
        raise _fail(exc) from exc
    s = result.split
    return PreviewPublic(
        compensation=result.breakdown.as_dict(), explanation=result.breakdown.explain(),
        split=SplitPublic(amount=str(s.amount), holder=str(s.holder), platform=str(s.platform),
                          holder_bps=s.holder_bps, explanation=s.explain()),
        offer_price=str(result.offer_price) if result.offer_price is not None else None,
    )


@router.post("/{case_id}/claim", responses=ERRORS)
def claim(case_id: str, body: ClaimIn, caller: SessionDep, service: ServiceDep) -> CasePublic:
    """Submits the claim for review: the caller must hold the certificate (confirmed block), not disputed, with a
    clear licence check from the last day."""
    try:
        return _public(service.submit_claim(case_id, caller.key, body.use.claimed(), body.reason))
    except _HANDLED as exc:
        raise _fail(exc) from exc


@router.post("/{case_id}/decision", responses=ERRORS)
def decide(case_id: str, body: DecisionIn, caller: CaseworkerDep, service: ServiceDep) -> CasePublic:
    """A caseworker approves or rejects a submitted claim, with a reason."""
    try:
        return _public(service.decide(case_id, caller.key, body.decision == "approve", body.reason))
    except _HANDLED as exc:
        raise _fail(exc) from exc


@router.post("/{case_id}/withdrawal", responses=ERRORS)
def withdraw(case_id: str, body: WithdrawalIn, caller: SessionDep, service: ServiceDep) -> CasePublic:
    """The holder withdraws one of its open cases, with a reason; no letter or deadline follows."""
    try:
        return _public(service.withdraw(case_id, caller.key, body.reason))
    except _HANDLED as exc:
        raise _fail(exc) from exc


@router.post("/{case_id}/resumption", responses=ERRORS)
def resumption(case_id: str, body: ResumptionIn, caller: CaseworkerDep, service: ServiceDep) -> CasePublic:
    """A caseworker's answer to a case the recipient's answer put on hold: `resume` (the stage's deadline runs again
    from now), or end it as `licence_shown`, `rejected` or `withdrawn`; with a reason."""
    try:
        return _public(service.resolve_hold(case_id, caller.key, body.outcome, body.reason))
    except _HANDLED as exc:
        raise _fail(exc) from exc


@router.post("/{case_id}/messages", responses=ERRORS)
def message(case_id: str, body: MessageIn, caller: CaseworkerDep, service: ServiceDep) -> CasePublic:
    """A caseworker's message on a case, kept in the history both parties see."""
    try:
        return _public(service.post_message(case_id, caller.key, body.text, caseworker=True))
    except _HANDLED as exc:
        raise _fail(exc) from exc


@router.post("/{case_id}/notes", responses=ERRORS)
def note(case_id: str, body: MessageIn, caller: SessionDep, service: ServiceDep) -> CasePublic:
    """The holder's note to the caseworker on one of its cases (kept in the history; the recipient does not see
    it)."""
    try:
        return _public(service.post_message(case_id, caller.key, body.text, caseworker=False))
    except _HANDLED as exc:
        raise _fail(exc) from exc


@router.get("/{case_id}/documents", responses=ERRORS)
def documents(case_id: str, caller: SessionDep, service: ServiceDep) -> list[DocumentPublic]:
    """The documents the recipient uploaded with its answers (the case's holder, or a caseworker)."""
    try:
        case = service.visible_case(case_id, caller.key, caseworker=caller.is_caseworker)
    except _HANDLED as exc:
        raise _fail(exc) from exc
    return [_document(d) for d in service.documents(case)]


@router.get("/{case_id}/documents/{name}", response_class=Response, responses={
    **ERRORS, 200: {"description": "The document, as an attachment.",
                    "content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}},
    500: {"description": "The stored document does not match its sha256 (not served)."}})
def document(case_id: str, name: DocumentName, caller: SessionDep, service: ServiceDep) -> Response:
    """One document of the case, as an attachment (never rendered inline), after its sha256 was checked."""
    try:
        case = service.visible_case(case_id, caller.key, caseworker=caller.is_caseworker)
        stored, data = service.document(case, name)
    except _HANDLED as exc:
        raise _fail(exc) from exc
    return Response(data, media_type=stored.media_type, headers={
        "Content-Disposition": f'attachment; filename="{stored.name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
    })
