"""`tracemark serve` (the HTTP API) and `tracemark run` (the whole local system)."""

from __future__ import annotations

import click
import uvicorn

from tracemark.config import get_settings


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: TRACEMARK_API_HOST).")
@click.option("--port", default=None, type=int, help="Port to listen on (default: TRACEMARK_API_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the HTTP API."""
    from tracemark.api import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.api_host, port=port or settings.api_port)


@click.command()
def run() -> None:
    """Run the local system: anvil (state kept in the data folder), the contracts, and the HTTP API."""
    from tracemark.local_stack import LocalStack

    LocalStack(get_settings()).run_until_interrupted()
