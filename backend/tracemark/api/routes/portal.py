"""The clearing portal: the recipient's pages of a case, reached through the unguessable link of its letters.

    GET  /c/{token}                    the case, where it stands, the registered image and the copy found side by side
                                       with the edits named, the evidence, the amount with its working, and the forms
    GET  /c/{token}/image/registered   the certificate's public preview (IPFS, checked against its CID)
    GET  /c/{token}/image/found        the copy found, from our own WARC record of it (never fetched from the site)
    GET  /c/{token}/evidence/{n}       the n-th WARC evidence record of the case, as the evidence journal entered it
    POST /c/{token}/quote              a settlement quote signed for the payer's wallet: its EIP-712 typed data and the
                                       `settleClaim` call to send (no script needed)
    POST /c/{token}/quote.json         the same for the page's script: the EIP-2612 permit to sign and the ready
                                       `settleClaimWithPermit` calldata, with the payer's CPY balance
    GET  /static/portal/pay.js         the one script (progressive enhancement: pay with a wallet in the browser)

Server-rendered HTML in the recipient's language (from the site's country, the letters' catalogs), no inline script
and no external asset, under a Content-Security-Policy that allows only this server's own script, images and fetches,
and forms posting to itself. Every link that opens no case (unknown, guessed, malformed, of a deleted case), and every
image or record a case does not have, gets the same 404 page, byte for byte, so a link reveals nothing about any other
case. Requests are limited per client address (`portal_per_minute`).

Paying in the browser: the script uses one EIP-2612 permit and one `settleClaimWithPermit` transaction rather than
`approve` + `settleClaim`: one transaction instead of two, nothing to wait for between them, and no allowance left
behind when the payer stops half way (the permit is spent in the same transaction, for exactly the quote's amount).
The no-script form keeps the `approve` + `settleClaim` path for wallets that cannot sign typed data.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import threading
from datetime import UTC, datetime
from importlib import resources
from string import Template
from typing import Annotated, Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, Response, UploadFile, status
from fastapi.responses import HTMLResponse, JSONResponse

from tracemark.api.deps import ChainIdDep, DatabaseDep, NodeDep, SettingsDep
from tracemark.api.limits import RateLimiter
from tracemark.api.routes.ipfs import LocalBlocks
from tracemark.api.services import get_cases_service, get_content_store
from tracemark.cases.letters import N_, choose_language, format_amount, translate, working_lines
from tracemark.cases.workflow import ESCALATION, Case, TransitionError, recipient_history
from tracemark.chain.deployments import DeploymentError
from tracemark.chain.node import ChainUnavailableError
from tracemark.chain.settlement import wallet_payment
from tracemark.services.cases import (
    MAX_DOCUMENT,
    MAX_STATEMENT,
    AnswerKind,
    CaseNotFoundError,
    CasesService,
    DocumentRefusedError,
    EvidenceEntry,
    NotPayableError,
    SettlementUnavailableError,
)
from tracemark.services.contracts import current_deployment
from tracemark.services.portal_media import EvidenceFile, MediaUnavailableError, PortalImage, PortalMedia

router = APIRouter(tags=["portal"], include_in_schema=False)

#: The pages: this server's one script, its images and fetches, forms to itself; nothing inline, nothing external, no
#: DOM sink that takes a string (Trusted Types with no policy).
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; "
    "trusted-types 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}
#: Images and evidence files: their bytes only, never rendered as a document of this origin.
MEDIA_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
}
SCRIPT_PATH = "/static/portal/pay.js"
_lock = threading.Lock()


def _page(language: str, title: str, body: str, status_code: int = 200, *, script: bool = False) -> HTMLResponse:
    template = Template(resources.files("tracemark.api").joinpath("templates/portal.html").read_text("utf-8"))
    head = f'<script src="{SCRIPT_PATH}" defer></script>' if script else ""
    text = template.substitute(lang=html.escape(language), title=html.escape(title), head=head, body=body)
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


def get_service(request: Request, database: DatabaseDep, settings: SettingsDep, chain: ChainIdDep) -> CasesService:
    """The app's cases service (`api.services.get_cases_service`), with the deployment's market for quotes."""
    return get_cases_service(request, settings, database, chain())


ServiceDep = Annotated[CasesService, Depends(get_service)]


def _e(text: object) -> str:
    return html.escape(str(text))


EVIDENCE_HOWTO = N_(
    "Each download is one WARC record (ISO 28500), byte for byte as our evidence journal entered it: its SHA-256 must "
    "be the one shown (for example `sha256sum FILE`). The journal chains every record and is anchored on the "
    "blockchain; the archive as a whole is checked with the command below.")
WALLET_HOWTO = N_("Your wallet asks you to sign a permit for exactly this amount, then to send one transaction that "
                  "settles the case.")
REGISTERED_ALT = N_("The registered image: the certificate's public preview, from IPFS")
FOUND_ALT = N_("The copy found, as we archived it when we saw it")
#: The texts of the portal beyond the letters' (message ids of the letters' catalogs; a test checks every catalog).
MESSAGES = (
    N_("The registered image"), N_("The copy found"),
    REGISTERED_ALT, FOUND_ALT,
    N_("What was changed in the copy"), N_("Match score: {score}"),
    N_("Cropped: {percent} % of the registered image is visible."),
    N_("Resized to {percent} % of the registered image's size."),
    N_("Rotated by {degrees} degrees."), N_("Mirrored left to right."), N_("Turned into black and white."),
    N_("Text or a logo covers {percent} % of the picture."),
    N_("Stretched: one side scaled {percent} % more than the other."),
    N_("No visible changes."), N_("The match report as data"),
    N_("Download the record of the image"), N_("Download the record of the page"),
    N_("SHA-256 of the downloaded file: {sha256}"),
    EVIDENCE_HOWTO,
    N_("Or pay with the wallet in this browser"),
    WALLET_HOWTO,
    N_("Pay with my wallet"),
    N_("Please wait..."), N_("Please sign the permit in your wallet."),
    N_("Please confirm the transaction in your wallet."),
    N_("Transaction sent. The case closes once it is confirmed on the chain. Transaction:"),
    N_("You declined in your wallet. Nothing was paid and nothing has changed."),
    N_("Your wallet is connected to another network than this case. Switch networks and try again; nothing was paid."),
    N_("Your wallet does not hold enough CPY for this payment. Nothing was paid."),
    N_("Payment is unavailable at present. Please try again later; nothing was paid."),
    N_("The payment did not go through; nothing was paid. Details:"),
)


def _number(value: float, language: str, pattern: str = "#,##0.#") -> str:
    return str(format_decimal(value, format=pattern, locale=language))


def edit_lines(report: dict[str, Any], language: str) -> list[str]:
    """The edits of a match report (the matching engine's `Edits`) named in words in `language`; small changes that
    matching always measures (a crop of under 2 %, a resize within 2 %, a turn under half a degree) are not named."""
    edits = report.get("edits")
    if not isinstance(edits, dict):
        return []
    t = translate
    out: list[str] = []

    def real(name: str) -> float | None:
        value = edits.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    coverage, scale, rotation = real("coverage"), real("scale"), real("rotation_deg")
    overlay, stretch = real("overlay_fraction"), real("stretch")
    if coverage is not None and coverage < 0.98:
        out.append(t(language, "Cropped: {percent} % of the registered image is visible.",
                     percent=_number(coverage * 100, language)))
    if scale is not None and abs(scale - 1) > 0.02:
        out.append(t(language, "Resized to {percent} % of the registered image's size.",
                     percent=_number(scale * 100, language)))
    if rotation is not None and abs(rotation) >= 0.5:
        out.append(t(language, "Rotated by {degrees} degrees.", degrees=_number(rotation, language)))
    if edits.get("mirrored") is True:
        out.append(t(language, "Mirrored left to right."))
    if edits.get("greyscale") is True:
        out.append(t(language, "Turned into black and white."))
    if overlay is not None and overlay >= 0.01:
        out.append(t(language, "Text or a logo covers {percent} % of the picture.",
                     percent=_number(overlay * 100, language)))
    if stretch is not None and stretch > 1.02:
        out.append(t(language, "Stretched: one side scaled {percent} % more than the other.",
                     percent=_number((stretch - 1) * 100, language)))
    return out or [t(language, "No visible changes.")]


def _side_by_side(report: dict[str, Any], language: str, token: str) -> str:
    t = translate
    base = f"/c/{_e(token)}/image"
    parts = ['<table id="images"><tr>',
             f"<th>{_e(t(language, 'The registered image'))}</th><th>{_e(t(language, 'The copy found'))}</th></tr><tr>",
             f'<td><img id="registered" src="{base}/registered" width="320" '
             f'alt="{_e(t(language, REGISTERED_ALT))}"></td>',
             f'<td><img id="found" src="{base}/found" width="320" '
             f'alt="{_e(t(language, FOUND_ALT))}"></td>',
             "</tr></table>"]
    if report:
        parts.append(f"<h3>{_e(t(language, 'What was changed in the copy'))}</h3><ul id=\"edits\">")
        score = report.get("score")
        if isinstance(score, int | float) and not isinstance(score, bool):
            shown = t(language, "Match score: {score}", score=_number(score, language, "0.00"))
            parts.append(f"<li>{_e(shown)}</li>")
        parts += [f"<li>{_e(line)}</li>" for line in edit_lines(report, language)]
        parts.append(f"</ul><details><summary>{_e(t(language, 'The match report as data'))}</summary><pre>"
                     f"{_e(json.dumps(report, ensure_ascii=False, indent=1, sort_keys=True))}</pre></details>")
    return "".join(parts)


def _evidence_html(evidence: list[EvidenceEntry], files: list[EvidenceFile | None], language: str,
                   token: str) -> str:
    t = translate
    parts = [f"<h3>{_e(t(language, 'Evidence'))}</h3><ul id=\"evidence\">"]
    files = [*files, *[None] * (len(evidence) - len(files))]  # a record added between the two reads: no link yet
    for number, (x, file) in enumerate(zip(evidence, files, strict=False), 1):
        item = (f"{_e(x.kind)}: {_e(x.warc)} {_e(x.record_id)} sha256:{_e(x.sha256)} "
                f"({_e(x.seen_at.isoformat())})")
        if file is not None:
            label = ("Download the record of the image" if file.kind == "image" else "Download the record of the page")
            item += (f' <a href="/c/{_e(token)}/evidence/{number}" download="{_e(file.filename)}">'
                     f"{_e(t(language, label))}</a> "
                     f"{_e(t(language, 'SHA-256 of the downloaded file: {sha256}', sha256=file.sha256))}")
        parts.append(f"<li>{item}</li>")
    parts.append("</ul>")
    if any(files):
        parts.append(f"<p>{_e(t(language, EVIDENCE_HOWTO))}</p>")
    parts.append(f"<p>{_e(t(language, 'Verify the evidence yourself with:'))}</p>"
                 "<pre>tracemark evidence verify &lt;WARC file&gt;</pre>")
    return "".join(parts)


def _wallet_box(language: str, token: str) -> str:
    """The script's part of the page: hidden until the script finds a wallet; its texts in the page's language."""
    t = translate
    messages = {
        "wait": "Please wait...", "sign": "Please sign the permit in your wallet.",
        "send": "Please confirm the transaction in your wallet.",
        "sent": "Transaction sent. The case closes once it is confirmed on the chain. Transaction:",
        "rejected": "You declined in your wallet. Nothing was paid and nothing has changed.",
        "chain": "Your wallet is connected to another network than this case. Switch networks and try again; nothing "
                 "was paid.",
        "funds": "Your wallet does not hold enough CPY for this payment. Nothing was paid.",
        "nothing": "There is nothing to settle in this case at present.",
        "unavailable": "Payment is unavailable at present. Please try again later; nothing was paid.",
        "failed": "The payment did not go through; nothing was paid. Details:",
    }
    data = "".join(f' data-msg-{key}="{_e(t(language, text))}"' for key, text in messages.items())
    return (f'<section id="wallet-pay" hidden data-quote="/c/{_e(token)}/quote.json"{data}>'
            f"<h3>{_e(t(language, 'Or pay with the wallet in this browser'))}</h3>"
            f"<p>{_e(t(language, WALLET_HOWTO))}</p>"
            f'<button type="button">{_e(t(language, "Pay with my wallet"))}</button> '
            '<output aria-live="polite"></output> <code></code></section>')


def _case_html(service: CasesService, media: PortalMedia, case: Case, language: str, token: str) -> str:
    t = translate
    parts = [
        f"<p>{_e(t(language, 'Where the case stands: {state}', state=case.state.value))}</p>",
        f"<p>{_e(t(language, 'Image: {image_url}', image_url=case.image_url))}</p>",
        f"<p>{_e(t(language, 'Page: {page_url}', page_url=case.page_url))}</p>",
    ]
    report, evidence = service.match_and_evidence(case)
    if report:
        parts.append(f"<h3>{_e(t(language, 'Match report'))}</h3>")
        parts.append(_side_by_side(report, language, token))
    if evidence:
        parts.append(_evidence_html(evidence, media.evidence_files(case), language, token))
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
        parts.append(_wallet_box(language, token))
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
    parts.append(f"<h3>{_e(t(language, 'History'))}</h3><ul id=\"history\">")
    parts += [f"<li>{_e(h.at.isoformat())}: {_e(h.state.value)} ({_e(h.who)}) {_e(h.why)}</li>"
              for h in recipient_history(case)]
    parts.append("</ul>")
    return "".join(parts)


def _open(service: CasesService, token: str) -> Case | None:
    try:
        return service.case_for_portal_token(token)
    except CaseNotFoundError:
        return None


def get_media(service: ServiceDep, settings: SettingsDep) -> PortalMedia:
    """The cases' images and evidence records, from the store, the content store and the evidence folder."""
    return PortalMedia(service.database, service.chain_id, settings.data_dir / "evidence")


MediaDep = Annotated[PortalMedia, Depends(get_media)]


@router.get("/c/{token}", response_class=HTMLResponse)
def portal_case(token: str, service: ServiceDep, media: MediaDep, _limit: RateLimited) -> HTMLResponse:
    """The recipient's page of a case."""
    case = _open(service, token)
    if case is None:
        return not_found()
    language = choose_language(case.country)
    return _page(language, translate(language, "Your case about {site}", site=case.host),
                 _case_html(service, media, case, language, token), script=True)


def _image(image: PortalImage) -> Response:
    return Response(image.data, media_type=image.media_type, headers={**MEDIA_HEADERS, "Content-Disposition": "inline"})


@router.get("/c/{token}/image/{which}")
def portal_image(token: str, which: str, request: Request, service: ServiceDep, media: MediaDep,
                 _limit: RateLimited) -> Response:
    """The registered image (`registered`: the certificate's preview) or the copy found (`found`: from our WARC record
    of it) of the case; the same 404 as any bad link when the case has no such image."""
    case = _open(service, token)
    if case is None or which not in ("registered", "found"):
        return not_found()
    try:
        if which == "registered":
            return _image(media.registered_image(case, LocalBlocks(get_content_store(request))))
        return _image(media.found_image(case))
    except MediaUnavailableError:
        return not_found()


@router.get("/c/{token}/evidence/{number}")
def portal_evidence(token: str, number: str, service: ServiceDep, media: MediaDep, _limit: RateLimited) -> Response:
    """The `number`-th WARC evidence record of the case (as listed on its page), byte for byte as the evidence journal
    entered it, with its SHA-256 (`Repr-Digest`)."""
    case = _open(service, token)
    if case is None or re.fullmatch(r"[1-9][0-9]{0,5}", number) is None:
        return not_found()
    try:
        record = media.evidence_record(case, int(number))
    except MediaUnavailableError:
        return not_found()
    digest = base64.b64encode(bytes.fromhex(record.sha256)).decode()
    headers = {**MEDIA_HEADERS, "Content-Disposition": f'attachment; filename="{record.filename}"',
               "Repr-Digest": f"sha-256=:{digest}:"}
    return Response(record.data, media_type="application/gzip" if record.gzipped else "application/warc",
                    headers=headers)


@router.get(SCRIPT_PATH)
def portal_script() -> Response:
    """The portal's one script (the same for every case; it holds no data)."""
    text = resources.files("tracemark.api").joinpath("static/portal-pay.js").read_bytes()
    return Response(text, media_type="text/javascript; charset=utf-8", headers={
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache", "Cross-Origin-Resource-Policy": "same-origin",
        "Content-Security-Policy": "default-src 'none'"})


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


JSON_HEADERS = {**MEDIA_HEADERS, "Content-Disposition": "inline"}


@router.post("/c/{token}/quote.json")
def portal_quote_json(token: str, service: ServiceDep, settings: SettingsDep, node: NodeDep, _limit: RateLimited,
                      payer: Annotated[str, Form(max_length=64)] = "") -> Response:
    """The quote for the page's script: the permit to sign and the ready `settleClaimWithPermit` calldata."""
    case = _open(service, token)
    if case is None:
        return not_found()
    try:
        offer = service.quote(case.case_id, payer.strip())
    except ValueError:
        return JSONResponse({"error": "not_an_address"}, status.HTTP_422_UNPROCESSABLE_CONTENT, headers=JSON_HEADERS)
    except NotPayableError:
        return JSONResponse({"error": "nothing_to_settle"}, status.HTTP_409_CONFLICT, headers=JSON_HEADERS)
    except SettlementUnavailableError:
        return JSONResponse({"error": "unavailable"}, status.HTTP_503_SERVICE_UNAVAILABLE, headers=JSON_HEADERS)
    try:
        cpy = current_deployment(node, settings.deployments_dir).address_of("CPYToken")
        payment = wallet_payment(offer.quote, offer.signature, offer.market, service.chain_id, node.rpc_url,
                                 settings.rpc_timeout_s, cpy)
    except (ChainUnavailableError, DeploymentError, KeyError):
        return JSONResponse({"error": "unavailable"}, status.HTTP_503_SERVICE_UNAVAILABLE, headers=JSON_HEADERS)
    return JSONResponse(payment, headers=JSON_HEADERS)


@router.api_route("/c/{token}/{rest:path}", methods=["GET", "POST"], response_class=HTMLResponse)
def portal_elsewhere(token: str, rest: str, _limit: RateLimited) -> HTMLResponse:
    """Every other path under a case link: the same 404 as a link that opens no case (registered last)."""
    return not_found()
