"""The HTTP API (FastAPI): thin routes that call services."""

from tracemark.api.app import create_app

__all__ = ["create_app"]
