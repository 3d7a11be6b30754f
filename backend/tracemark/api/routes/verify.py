"""Public verification over HTTP: `POST /v1/verify` (JSON) and the `/verify` page (HTML, no script, no external
assets), both doing what `tracemark verify` does, from the chain and the content store.

Anyone may call them: the answer is what the chain and IPFS already show. Each call is limited in size
(`verify_max_bytes`) and rate (`verify_per_minute` per client address: a registered file is fingerprinted), and
the file is only hashed and fingerprinted, never kept.
"""

from __future__ import annotations

import hashlib
import html
import math
import threading
from importlib import resources
from string import Template
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from tracemark.api.deps import NodeDep, SettingsDep
from tracemark.api.limits import RateLimiter
from tracemark.api.routes.ipfs import LocalBlocks
from tracemark.api.schemas import ErrorPublic
from tracemark.api.services import ContentStoreDep
from tracemark.chain.certificate_reader import CertificateReader
from tracemark.chain.deployments import DeploymentError
from tracemark.chain.node import ChainNode, ChainUnavailableError
from tracemark.config import Settings
from tracemark.ipfs import ContentStore
from tracemark.services.contracts import current_deployment
from tracemark.services.verification import (
    CheckStatus,
    SourcesUsed,
    Verdict,
    VerificationCheck,
    VerificationResult,
    verify_image,
)

router = APIRouter(tags=["verification"])

_CHUNK = 1024 * 1024
_lock = threading.Lock()
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _limiter(request: Request) -> RateLimiter:
    state = request.app.state
    with _lock:
        if getattr(state, "verify_limiter", None) is None:
            state.verify_limiter = RateLimiter({"verify": state.settings.verify_per_minute})
    limiter: RateLimiter = state.verify_limiter
    return limiter


def rate_limited(request: Request) -> None:
    """Refuses a client over `verify_per_minute` with 429 and `Retry-After`."""
    client = request.client.host if request.client else "unknown"
    wait = _limiter(request).take(client, "verify")
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail="too many verifications; slow down",
                            headers={"Retry-After": str(math.ceil(wait))})


RateLimited = Annotated[None, Depends(rate_limited)]


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"image larger than {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="the file is empty")
    return data


def run_verification(data: bytes, settings: Settings, node_url: str, store: ContentStore,
                     node: ChainNode) -> VerificationResult:
    """Verifies a file against the app's chain and content store (blocking: call in a worker thread)."""
    try:
        deployment = current_deployment(node, settings.deployments_dir)
    except (ChainUnavailableError, DeploymentError) as exc:
        return VerificationResult(
            verdict=Verdict.UNAVAILABLE, summary=f"UNAVAILABLE: {exc}", file_sha256=hashlib.sha256(data).hexdigest(),
            checks=[VerificationCheck(name="certificate", status=CheckStatus.NOT_CHECKED, detail=str(exc))],
            sources=SourcesUsed(rpc_url=node_url),
        )
    reader = CertificateReader.for_deployment(node_url, deployment, timeout_s=settings.rpc_timeout_s)
    return verify_image(data, reader, [LocalBlocks(store)])


@router.post(
    "/v1/verify",
    response_model=VerificationResult,
    responses={
        400: {"model": ErrorPublic, "description": "An empty file."},
        413: {"model": ErrorPublic, "description": "The file is larger than `verify_max_bytes`."},
        429: {"model": ErrorPublic, "description": "Too many verifications from this address."},
        503: {"model": VerificationResult, "description": "The chain or IPFS could not be asked (verdict "
                                                          "`unavailable`)."},
    },
)
async def verify(
    _: RateLimited,
    settings: SettingsDep,
    node: NodeDep,
    store: ContentStoreDep,
    image: Annotated[UploadFile, File(description="The image file to verify, byte for byte as it was registered.")],
) -> VerificationResult | JSONResponse:
    """Verifies an image from the chain and IPFS: registered or not, holder, since when, and whether the
    certificate's metadata and the image's fingerprints agree. Verdicts: `verified`, `disputed`, `not_registered`,
    `failed` (200), `unavailable` (503)."""
    data = await _read_limited(image, settings.verify_max_bytes)
    result = await run_in_threadpool(run_verification, data, settings, node.rpc_url, store, node)
    if result.verdict is Verdict.UNAVAILABLE:
        return JSONResponse(status_code=status.HTTP_503_SERVICE_UNAVAILABLE, content=result.model_dump(mode="json"))
    return result


# ---- the page -------------------------------------------------------------------------------------------------


def _template() -> Template:
    text = resources.files("tracemark.api").joinpath("templates", "verify.html").read_text(encoding="utf-8")
    return Template(text)


def _row(label: str, value: object) -> str:
    return f"<tr><th>{html.escape(label)}</th><td>{html.escape(str(value))}</td></tr>"


def render_result(result: VerificationResult, filename: str) -> str:
    """The HTML of a verification result (every value escaped)."""
    verdict = result.verdict.value
    parts = [f'<section aria-live="polite"><h2>Result for {html.escape(filename)}</h2>',
             f'<p class="verdict {verdict}">{html.escape(result.summary)}</p>']
    meta = result.metadata
    if meta is not None:  # the preview comes from this service's own /ipfs/{cid}
        parts.append(f'<img class="preview" alt="preview of the registered image" src="ipfs/'
                     f'{html.escape(meta.preview_cid)}">')
    rows = [_row("File SHA-256", result.file_sha256)]
    cert = result.certificate
    if cert is not None:
        since = f" (since block {cert.holder_since_block})" if cert.holder_since_block is not None else ""
        rows += [
            _row("Certificate", cert.id), _row("Holder", f"{cert.holder}{since}"), _row("Creator", cert.creator),
            _row("Registered", cert.registered_at.strftime("%Y-%m-%d %H:%M:%S UTC")
                 + (f", block {cert.registered_block}" if cert.registered_block is not None else "")),
            _row("Disputed", "YES" if cert.disputed else "no"), _row("Metadata", cert.token_uri),
        ]
    if meta is not None:
        rows += [_row("Title", meta.title), _row("Creator name", meta.creator_name)]
        if meta.captured_at:
            rows.append(_row("Captured", meta.captured_at))
        if meta.iscc:
            rows.append(_row("ISCC", meta.iscc))
    parts.append("<table>" + "".join(rows) + "</table>")
    parts.append('<h3>Checks</h3><ul class="checks">')
    parts += [f'<li class="{c.status.value}"><strong>{html.escape(c.name)}</strong>: {html.escape(c.detail)}</li>'
              for c in result.checks]
    parts.append("</ul>")
    src = result.sources
    parts.append(f"<p>Read from chain {html.escape(str(src.chain_id))} at block {html.escape(str(src.read_block))}, "
                 f"contract <code>{html.escape(str(src.contract))}</code>.</p></section>")
    return "\n".join(parts)


def _page(settings: Settings, node_url: str, result_html: str, status_code: int = 200) -> HTMLResponse:
    body = _template().substitute(
        result=result_html, max_mb=str(settings.verify_max_bytes // (1024 * 1024)), chain=html.escape(node_url)
    )
    return HTMLResponse(body, status_code=status_code, headers=_PAGE_HEADERS)


@router.get("/verify", response_class=HTMLResponse, include_in_schema=False)
def verify_page(settings: SettingsDep, node: NodeDep) -> HTMLResponse:
    """The verification page: a form to drop an image on."""
    return _page(settings, node.rpc_url, "")


@router.post("/verify", response_class=HTMLResponse, include_in_schema=False)
async def verify_page_result(
    request: Request,
    settings: SettingsDep,
    node: NodeDep,
    store: ContentStoreDep,
    image: Annotated[UploadFile, File()],
) -> HTMLResponse:
    """The verification page with the result for the submitted image."""
    try:
        rate_limited(request)
        data = await _read_limited(image, settings.verify_max_bytes)
    except HTTPException as exc:
        error = f'<p class="verdict error">{html.escape(str(exc.detail))}</p>'
        return _page(settings, node.rpc_url, error, exc.status_code)
    result = await run_in_threadpool(run_verification, data, settings, node.rpc_url, store, node)
    code = status.HTTP_503_SERVICE_UNAVAILABLE if result.verdict is Verdict.UNAVAILABLE else status.HTTP_200_OK
    return _page(settings, node.rpc_url, render_result(result, image.filename or "upload"), code)
