"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from tracemark import __version__
from tracemark.api.limits import RequestLimits
from tracemark.api.routes import (
    auth,
    cases,
    certificates,
    contracts,
    findings,
    health,
    licences,
    match,
    originals,
    registrations,
    review,
    settlements,
)
from tracemark.api.routes import ipfs as ipfs_blocks
from tracemark.api.routes import portal as clearing_portal
from tracemark.api.routes import verify as verification
from tracemark.api.security import current_session
from tracemark.api.services import open_registry_index
from tracemark.chain.node import ChainNode
from tracemark.config import Settings, get_settings
from tracemark.services.registration import RegistrationError


async def registration_refused(request: Request, exc: Exception) -> JSONResponse:
    """A request the registration service refused: its status and message, as an HTTPException would answer."""
    if not isinstance(exc, RegistrationError):  # only registered for RegistrationError
        raise exc
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


def create_app(settings: Settings | None = None, node: ChainNode | None = None) -> FastAPI:
    """Builds the HTTP API.

    Args:
        settings: The configuration; read from the environment when omitted.
        node: The chain node; built from `settings.rpc_url` when omitted.

    Returns:
        The application, with OpenAPI docs at `/docs` and the schema at `/openapi.json`.
    """
    settings = settings or get_settings()
    app = FastAPI(
        title="Tracemark",
        version=__version__,
        description="An open register of image ownership, copy detection and fair settlement.",
    )
    app.state.settings = settings
    app.state.node = node or ChainNode(settings.rpc_url, settings.rpc_timeout_s)
    app.state.database = None  # the store opens on first use (see api.deps.get_database)
    app.add_exception_handler(RegistrationError, registration_refused)
    app.include_router(health.router)
    app.include_router(contracts.router)
    app.include_router(certificates.router)
    app.include_router(licences.router)
    app.include_router(settlements.router)
    # Public verification (chain + IPFS) and the content store's blocks.
    app.include_router(verification.router)
    app.include_router(ipfs_blocks.router)
    # Registration service (sign-in, originals, registrations, review) and matching behind a session.
    app.add_middleware(RequestLimits, settings=settings)
    app.include_router(auth.router)
    app.include_router(originals.router)
    app.include_router(registrations.router)
    app.include_router(review.router)
    app.include_router(match.router, dependencies=[Depends(current_session), Depends(open_registry_index)])
    # Findings of the crawler (sightings by country and operator), behind a session.
    app.include_router(findings.router)
    # Cases: the holder's review of findings, licence checks, claims and the caseworkers' review queue.
    app.include_router(cases.router)
    # The clearing portal: the recipient's pages of a case behind its unguessable link (HTML, no session).
    app.include_router(clearing_portal.router)
    return app
