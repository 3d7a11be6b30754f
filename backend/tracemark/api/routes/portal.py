"""The clearing portal: the recipient's pages of a case, reached through the unguessable link of its letters.

    GET  /c/{token}         the case, where it stands, the amount with its working, and the form to pay
    POST /c/{token}/quote   a settlement quote signed for the payer's wallet: its EIP-712 typed data and the
                            `settleClaim` call to send

Server-rendered HTML in the recipient's language (from the site's country, the letters' catalogs), no script and no
external asset, under a Content-Security-Policy that allows nothing but posting forms to itself. Every link that opens
no case (unknown, guessed, malformed, of a deleted case) gets the same 404 page, byte for byte, so a link reveals
nothing about any other case. Requests are limited per client address (`portal_per_minute`).
"""

from __future__ import annotations

import html
import json
import math
import threading
from datetime import UTC, datetime
from importlib import resources
from string import Template
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse

from tracemark.api.deps import ChainIdDep, DatabaseDep, NodeDep, SettingsDep
from tracemark.api.limits import RateLimiter
from tracemark.cases.clock import Clock, SystemClock
from tracemark.cases.letters import choose_language, format_amount, translate, working_lines
from tracemark.cases.workflow import ESCALATION, Case, TransitionError, recipient_history
from tracemark.chain.deployments import DeploymentError
from tracemark.chain.keys import KeyUnavailableError
from tracemark.chain.node import ChainUnavailableError
from tracemark.services.cases import (
    MAX_DOCUMENT,
    MAX_STATEMENT,
    AnswerKind,
    CaseNotFoundError,
    CasesService,
    DocumentRefusedError,
    NotPayableError,
    SettlementUnavailableError,
)
from tracemark.services.contracts import current_deployment

router = APIRouter(tags=["portal"], include_in_schema=False)

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}
_lock = threading.Lock()


def _page(language: str, title: str, body: str, status_code: int = 200) -> HTMLResponse:
    template = Template(resources.files("tracemark.api").joinpath("templates/portal.html").read_text("utf-8"))
    text = template.substitute(lang=html.escape(language), title=html.escape(title), body=body)
    return HTMLResponse(text, status_code=status_code, headers=HEADERS)


NOT_FOUND_TITLE = "Not found"


def not_found() -> HTMLResponse:
    """The one answer to every link that opens no case."""
    return _page("en", NOT_FOUND_TITLE, "<p>This link opens no case.</p>", status.HTTP_404_NOT_FOUND)


def rate_limited(request: Request) -> None:
    """Refuses a client over `portal_per_minute` with 429 and `Retry-After`."""
    state = request.app.state
    with _lock:
        if getattr(state, "portal_limiter", None) is None:
            state.portal_limiter = RateLimiter({"portal": state.settings.portal_per_minute})
    limiter: RateLimiter = state.portal_limiter
    wait = limiter.take(request.client.host if request.client else "unknown", "portal")
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail="too many requests; slow down",
                            headers={"Retry-After": str(math.ceil(wait))})


RateLimited = Annotated[None, Depends(rate_limited)]


def get_service(request: Request, database: DatabaseDep, settings: SettingsDep, chain: ChainIdDep,
                node: NodeDep) -> CasesService:
    """The cases service with the deployment's market, when the node answers (quotes need it). Time is the system's,
    or `app.state.cases_clock` when set (tests move it, as the scheduler's)."""
    chain_id = chain()
    clock: Clock = getattr(request.app.state, "cases_clock", None) or SystemClock()
    try:
        market: str | None = current_deployment(node, settings.deployments_dir).address_of("LicenseMarket")
    except (ChainUnavailableError, DeploymentError, KeyError):
        market = None
    try:
        return CasesService.from_settings(settings, database, chain_id, clock, market_address=market)
    except KeyUnavailableError:
        return CasesService.from_settings(settings, database, chain_id, clock)


ServiceDep = Annotated[CasesService, Depends(get_service)]


def _e(text: object) -> str:
    return html.escape(str(text))


def _case_html(service: CasesService, case: Case, language: str, token: str) -> str:
    t = translate
    parts = [
        f"<p>{_e(t(language, 'Where the case stands: {state}', state=case.state.value))}</p>",
        f"<p>{_e(t(language, 'Image: {image_url}', image_url=case.image_url))}</p>",
        f"<p>{_e(t(language, 'Page: {page_url}', page_url=case.page_url))}</p>",
    ]
    report, evidence = service.match_and_evidence(case)
    if report:
        parts.append(f"<h3>{_e(t(language, 'Match report'))}</h3><ul>")
        parts += [f"<li>{_e(key)}: {_e(json.dumps(value, ensure_ascii=False))}</li>"
                  for key, value in sorted(report.items())]
        parts.append("</ul>")
    if evidence:
        parts.append(f"<h3>{_e(t(language, 'Evidence'))}</h3><ul>")
        parts += [f"<li>{_e(x.kind)}: {_e(x.warc)} {_e(x.record_id)} sha256:{_e(x.sha256)} "
                  f"({_e(x.seen_at.isoformat())})</li>" for x in evidence]
        parts.append(f"</ul><p>{_e(t(language, 'Verify the evidence yourself with:'))}</p>"
                     "<pre>tracemark evidence verify &lt;WARC file&gt;</pre>")
    terms = service.settlement_terms(case)
    if terms is None:
        parts.append(f"<p>{_e(t(language, 'There is nothing to settle in this case at present.'))}</p>")
    else:
        amount, breakdown = terms
        parts.append(f"<h2>{_e(t(language, 'Amount to settle: {amount} CPY', amount=format_amount(amount, language)))}"
                     "</h2>")
        parts.append(f"<h3>{_e(t(language, 'How the amount is worked out'))}</h3><ol>")
        parts += [f"<li>{_e(line)}</li>" for line in working_lines(breakdown, language)]
        parts.append("</ol>")
        parts.append(f"<h3>{_e(t(language, 'Pay with your wallet'))}</h3>"
                     f'<form method="post" action="/c/{_e(token)}/quote">'
                     f'<label>{_e(t(language, "Your wallet address"))} '
                     '<input name="payer" required pattern="0x[0-9a-fA-F]{40}" maxlength="42" autocomplete="off">'
                     f'</label> <button type="submit">{_e(t(language, "Get the settlement quote"))}</button></form>')
    if case.state in ESCALATION:
        choices = "".join(f'<option value="{k.value}">{_e(t(language, label))}</option>' for k, label in (
            (AnswerKind.DISPUTE, "I dispute the claim"), (AnswerKind.LICENCE, "I hold a licence"),
            (AnswerKind.MESSAGE, "A message to the caseworker")))
        parts.append(f"<h3>{_e(t(language, 'Answer the claim'))}</h3>"
                     f'<form method="post" action="/c/{_e(token)}/answer" enctype="multipart/form-data">'
                     f'<select name="kind">{choices}</select>'
                     f'<label>{_e(t(language, "Your statement"))} <textarea name="statement" required '
                     f'maxlength="{MAX_STATEMENT}"></textarea></label>'
                     '<input type="file" name="document" accept="application/pdf,image/jpeg,image/png">'
                     f'<button type="submit">{_e(t(language, "Send"))}</button></form>')
    parts.append(f"<h3>{_e(t(language, 'History'))}</h3><ul>")
    parts += [f"<li>{_e(h.at.isoformat())}: {_e(h.state.value)} ({_e(h.who)}) {_e(h.why)}</li>"
              for h in recipient_history(case)]
    parts.append("</ul>")
    return "".join(parts)


def _open(service: CasesService, token: str) -> Case | None:
    try:
        return service.case_for_portal_token(token)
    except CaseNotFoundError:
        return None


@router.get("/c/{token}", response_class=HTMLResponse)
def portal_case(token: str, service: ServiceDep, _limit: RateLimited) -> HTMLResponse:
    """The recipient's page of a case."""
    case = _open(service, token)
    if case is None:
        return not_found()
    language = choose_language(case.country)
    return _page(language, translate(language, "Your case about {site}", site=case.host),
                 _case_html(service, case, language, token))


@router.post("/c/{token}/quote", response_class=HTMLResponse)
def portal_quote(token: str, service: ServiceDep, _limit: RateLimited,
                 payer: Annotated[str, Form(max_length=64)] = "") -> HTMLResponse:
    """A settlement quote for the payer's wallet, with its typed data and the contract call."""
    case = _open(service, token)
    if case is None:
        return not_found()
    language = choose_language(case.country)
    title = translate(language, "Your case about {site}", site=case.host)
    try:
        offer = service.quote(case.case_id, payer.strip())
    except ValueError:
        return _page(language, title, f"<p>{_e(translate(language, 'Not a wallet address.'))}</p>",
                     status.HTTP_422_UNPROCESSABLE_CONTENT)
    except NotPayableError:
        nothing = translate(language, "There is nothing to settle in this case at present.")
        return _page(language, title, f"<p>{_e(nothing)}</p>", status.HTTP_409_CONFLICT)
    except SettlementUnavailableError:
        return _page(language, title, "<p>Settlement is unavailable at present.</p>",
                     status.HTTP_503_SERVICE_UNAVAILABLE)
    deadline = datetime.fromtimestamp(offer.quote.deadline, UTC).isoformat()
    intro = translate(language, "This quote is signed by Tracemark; you sign nothing. Approve {amount} CPY for the "
                      "contract {market}, then send the call below from {payer} before {deadline}.",
                      amount=format_amount(offer.quote.amount, language), market=offer.market, payer=offer.quote.payer,
                      deadline=deadline)
    body = (f"<p>{_e(intro)}</p>"
            f'<h2>settleClaim</h2><pre id="call">{_e(json.dumps(offer.call(), indent=2))}</pre>'
            f'<h2>EIP-712</h2><pre id="typed-data">{_e(json.dumps(offer.typed_data, indent=2))}</pre>')
    return _page(language, title, body)


@router.post("/c/{token}/answer", response_class=HTMLResponse)
def portal_answer(token: str, service: ServiceDep, settings: SettingsDep, _limit: RateLimited,
                  kind: Annotated[str, Form(max_length=16)] = "",
                  statement: Annotated[str, Form(max_length=2 * MAX_STATEMENT)] = "",
                  document: Annotated[UploadFile | None, File()] = None) -> HTMLResponse:
    """The recipient disputes, says it holds a licence, or writes to the caseworker."""
    case = _open(service, token)
    if case is None:
        return not_found()
    language = choose_language(case.country)
    title = translate(language, "Your case about {site}", site=case.host)
    data = document.file.read(MAX_DOCUMENT + 1) if document is not None else b""
    try:
        service.answer(case, AnswerKind(kind), statement, data or None,
                       documents_dir=settings.data_dir / "case-documents")
    except DocumentRefusedError:
        return _page(language, title, "<p>PDF, JPEG, PNG: 5 MiB.</p>", status.HTTP_422_UNPROCESSABLE_CONTENT)
    except ValueError:
        needed = translate(language, "A statement of 1 to 5000 characters is needed.")
        return _page(language, title, f"<p>{_e(needed)}</p>", status.HTTP_422_UNPROCESSABLE_CONTENT)
    except TransitionError:
        nothing = translate(language, "There is nothing to settle in this case at present.")
        return _page(language, title, f"<p>{_e(nothing)}</p>", status.HTTP_409_CONFLICT)
    thanks = translate(language, "Thank you. A caseworker will answer; the deadlines wait until then.")
    return _page(language, title, f"<p>{_e(thanks)}</p>")
