"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from tracemark import __version__
from tracemark.api.routes import certificates, contracts, health, licences, settlements
from tracemark.chain.node import ChainNode
from tracemark.config import Settings, get_settings


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
    app.include_router(health.router)
    app.include_router(contracts.router)
    app.include_router(certificates.router)
    app.include_router(licences.router)
    app.include_router(settlements.router)
    return app
